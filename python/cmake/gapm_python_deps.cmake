# gapm_find_python_deps(): finds what the Python binding needs, for one interpreter:
#   Python3 (interpreter + headers), pybind11 (CMake config), PyTorch's C++ API (find_package(Torch))
#   and libtorch_python (converts tensors between Python and C++; not part of TORCH_LIBRARIES).
# Sets GAPM_PYTHON_DEPS_FOUND and, when something is missing, GAPM_PYTHON_DEPS_MISSING (text).
#
# The interpreter: Python3_EXECUTABLE when given, else the first of `python3` on PATH and
# /usr/bin/python3 that can `import torch` (a pyenv or venv python3 earlier on PATH often
# cannot see Debian's python3-torch). A macro, so that the results reach the caller's scope.
macro(gapm_find_python_deps)
  set(GAPM_PYTHON_DEPS_FOUND FALSE)
  set(GAPM_PYTHON_DEPS_MISSING "")

  if(NOT Python3_EXECUTABLE)
    find_program(_gapm_path_python3 python3)
    foreach(_gapm_candidate IN ITEMS "${_gapm_path_python3}" /usr/bin/python3)
      if(_gapm_candidate AND EXISTS "${_gapm_candidate}")
        execute_process(COMMAND "${_gapm_candidate}" -c "import torch"
                        RESULT_VARIABLE _gapm_torch_rc OUTPUT_QUIET ERROR_QUIET)
        if(_gapm_torch_rc EQUAL 0)
          set(Python3_EXECUTABLE "${_gapm_candidate}" CACHE FILEPATH "The Python interpreter of the gapm package")
          break()
        endif()
      endif()
    endforeach()
  endif()

  find_package(Python3 3.8 QUIET COMPONENTS Interpreter Development.Module)
  if(NOT Python3_FOUND)
    string(APPEND GAPM_PYTHON_DEPS_MISSING " Python 3 headers (python3-dev);")
  else()
    execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import torch, torch.utils, os; print(torch.utils.cmake_prefix_path); print(os.path.dirname(torch.__file__))"
                    RESULT_VARIABLE _gapm_torch_rc OUTPUT_VARIABLE _gapm_torch_paths ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT _gapm_torch_rc EQUAL 0)
      string(APPEND GAPM_PYTHON_DEPS_MISSING " the torch module for ${Python3_EXECUTABLE} (python3-torch);")
    else()
      string(REPLACE "\n" ";" _gapm_torch_paths "${_gapm_torch_paths}")
      list(GET _gapm_torch_paths 0 _gapm_torch_cmake_prefix)
      list(GET _gapm_torch_paths 1 _gapm_torch_package)
      list(APPEND CMAKE_PREFIX_PATH "${_gapm_torch_cmake_prefix}")  # pip's torch; Debian's is found anyway
    endif()
    find_package(pybind11 2.6 CONFIG QUIET)
    if(NOT pybind11_FOUND)
      string(APPEND GAPM_PYTHON_DEPS_MISSING " pybind11 (pybind11-dev);")
    endif()
    find_package(Torch CONFIG QUIET)
    if(NOT Torch_FOUND AND NOT TORCH_FOUND)
      string(APPEND GAPM_PYTHON_DEPS_MISSING " PyTorch's C++ API, find_package(Torch) (libtorch-dev);")
    else()
      find_library(GAPM_TORCH_PYTHON_LIBRARY torch_python
                   HINTS "${TORCH_INSTALL_PREFIX}/lib" "${_gapm_torch_package}/lib")
      if(NOT GAPM_TORCH_PYTHON_LIBRARY)
        string(APPEND GAPM_PYTHON_DEPS_MISSING " libtorch_python (libtorch-dev);")
      endif()
    endif()
  endif()
  if(GAPM_PYTHON_DEPS_MISSING STREQUAL "")
    set(GAPM_PYTHON_DEPS_FOUND TRUE)
  endif()
endmacro()

# gapm_python_site_dir(<var>): where `cmake --install` puts the package, relative to the
# prefix: the interpreter's own site directory under CMAKE_INSTALL_PREFIX when it has one
# (Debian: lib/python3.11/dist-packages for /usr/local), else lib/pythonX.Y/site-packages.
function(gapm_python_site_dir var)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
            "import os, site, sys
prefix = os.path.abspath(sys.argv[1])
dirs = [d for d in site.getsitepackages() if d.startswith(prefix + os.sep)]
print(os.path.relpath(dirs[0], prefix) if dirs else 'lib/python%d.%d/site-packages' % sys.version_info[:2])"
            "${CMAKE_INSTALL_PREFIX}"
    OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(${var} "${dir}" PARENT_SCOPE)
endfunction()
