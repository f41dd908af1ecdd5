# Small named helpers shared by the CMakeLists of host/, comm/, cuda/, tests/, bench/, samples/.

# Warnings for our own targets; errors when GAPM_WARNINGS_AS_ERRORS (CI) is set.
function(gapm_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>
    # GCC 12 reports false -Wrestrict hits inside std::string at -O3 (GCC bug 105651).
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-restrict>)
  if(GAPM_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()

# An object library that becomes part of gapm::gapm.
function(gapm_add_component name)
  add_library(${name} OBJECT ${ARGN})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_compile_features(${name} PRIVATE cxx_std_20)
  gapm_set_warnings(${name})
  if(GAPM_WITH_CUDA)
    target_compile_definitions(${name} PRIVATE GAPM_WITH_CUDA=1)
  endif()
endfunction()

# gapm_add_test(name sources... [LINK library] [PREFIX test-name-prefix]): one GoogleTest
# executable, registered with ctest; it links gapm_internal unless LINK names another library.
function(gapm_add_test name)
  cmake_parse_arguments(arg "" "LINK;PREFIX" "" ${ARGN})
  if(NOT arg_LINK)
    set(arg_LINK gapm_internal)
  endif()
  add_executable(${name} ${arg_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${arg_LINK} GTest::gtest_main Threads::Threads)
  gapm_set_warnings(${name})
  gtest_discover_tests(${name} TEST_PREFIX "${arg_PREFIX}" DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()
