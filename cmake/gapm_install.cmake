# Install rules and a package config, so that find_package(gapm) gives gapm::gapm.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS gapm EXPORT gapmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/gapm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT gapmTargets NAMESPACE gapm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gapm)

configure_package_config_file(cmake/gapmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/gapmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gapm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/gapmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gapmConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/gapmConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gapm)
