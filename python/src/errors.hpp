// The Python exceptions of the gapm module and the translation of gapm's C++ exceptions:
//
//   gapm::logic_error        -> gapm.UsageError    (a ValueError: API misuse, changed nothing)
//   gapm::comm_error         -> gapm.CommError     (the cluster failed)
//   gapm::unsupported_error  -> gapm.UnsupportedError (a NotImplementedError)
//   gapm::cuda_error         -> gapm.CudaError
//   any other gapm::error    -> gapm.Error         (a RuntimeError; the base of all of the above)
//
// Each carries gapm's message unchanged.
#pragma once

#include <pybind11/pybind11.h>

namespace gapm::python {

/// Creates the exception classes in `module` and registers the translator.
void register_errors(pybind11::module_& module);

}  // namespace gapm::python
