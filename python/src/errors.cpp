// Creates gapm.Error and its subclasses and maps gapm's C++ exceptions onto them.
#include "errors.hpp"

#include <exception>

#include <gapm/errors.hpp>

namespace gapm::python {
namespace py = pybind11;
namespace {

// Owned by the module for the life of the interpreter (deliberately never released: the
// translator may run until the very end).
PyObject* error_type = nullptr;
PyObject* usage_error_type = nullptr;
PyObject* comm_error_type = nullptr;
PyObject* unsupported_error_type = nullptr;
PyObject* cuda_error_type = nullptr;

// A new exception class gapm.<name> with the given bases, added to `module`.
PyObject* new_exception(py::module_& module, const char* name, const char* doc, py::tuple bases) {
  const std::string qualified = std::string("gapm.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  module.add_object(name, py::handle(type));  // the module takes its own reference
  return type;
}

}  // namespace

void register_errors(py::module_& module) {
  auto builtin = [](const char* name) { return py::module_::import("builtins").attr(name); };
  error_type = new_exception(module, "Error", "Base of every gapm error (a RuntimeError).",
                             py::make_tuple(builtin("RuntimeError")));
  py::handle error(error_type);
  usage_error_type = new_exception(
      module, "UsageError",
      "API misuse: a key out of range, a wrong dtype, shape or length, a bad option or clock, use after "
      "finalize or shutdown. The call that raised it changed nothing. A ValueError.",
      py::make_tuple(error, builtin("ValueError")));
  comm_error_type = new_exception(
      module, "CommError",
      "The cluster failed: a peer died or is unreachable, the rendezvous timed out, the nodes' options "
      "disagree.",
      py::make_tuple(error));
  unsupported_error_type = new_exception(module, "UnsupportedError",
                                         "A feature this build lacks (e.g. CUDA tensors in the CPU build).",
                                         py::make_tuple(error, builtin("NotImplementedError")));
  cuda_error_type = new_exception(module, "CudaError", "A CUDA runtime or NCCL call failed.", py::make_tuple(error));

  py::register_exception_translator([](std::exception_ptr failure) {
    try {
      if (failure) std::rethrow_exception(failure);
    } catch (const gapm::logic_error& e) {
      PyErr_SetString(usage_error_type, e.what());
    } catch (const gapm::comm_error& e) {
      PyErr_SetString(comm_error_type, e.what());
    } catch (const gapm::unsupported_error& e) {
      PyErr_SetString(unsupported_error_type, e.what());
    } catch (const gapm::cuda_error& e) {
      PyErr_SetString(cuda_error_type, e.what());
    } catch (const gapm::error& e) {
      PyErr_SetString(error_type, e.what());
    }
  });
}

}  // namespace gapm::python
