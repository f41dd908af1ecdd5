// Conversion and checks of the tensors the worker calls take; torch's current CUDA stream.
#include "tensor_args.hpp"

#include <cstdint>

#include <torch/csrc/autograd/python_variable.h>

#include <gapm/errors.hpp>

namespace gapm::python {
namespace py = pybind11;
namespace {

[[noreturn]] void misuse(const char* operation, const std::string& text) {
  throw logic_error(std::string("gapm: ") + operation + ": " + text);
}

std::string dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float: return "torch.float32";
    case c10::ScalarType::Double: return "torch.float64";
    case c10::ScalarType::Long: return "torch.int64";
    case c10::ScalarType::Int: return "torch.int32";
    default: return std::string("torch.") + c10::toString(type);
  }
}

}  // namespace

c10::ScalarType scalar_type_of(value_kind kind) noexcept {
  switch (kind) {
    case value_kind::float32: return c10::ScalarType::Float;
    case value_kind::float64: return c10::ScalarType::Double;
    case value_kind::int64: return c10::ScalarType::Long;
  }
  return c10::ScalarType::Undefined;
}

at::Tensor key_tensor(py::handle keys, const char* operation) {
  at::Tensor tensor;
  if (THPVariable_Check(keys.ptr())) {
    tensor = THPVariable_Unpack(keys.ptr());
  } else {
    py::object torch = py::module_::import("torch");
    try {
      tensor = THPVariable_Unpack(torch.attr("as_tensor")(keys, py::arg("dtype") = torch.attr("int64")).ptr());
    } catch (const py::error_already_set& e) {
      misuse(operation, std::string("keys must be an int64 tensor or a sequence of ints (") + e.what() + ")");
    }
  }
  if (tensor.scalar_type() != c10::ScalarType::Long)
    misuse(operation, "keys must be an int64 tensor, got " + dtype_name(tensor.scalar_type()) + " (use keys.long())");
  if (tensor.requires_grad()) tensor = tensor.detach();
  return tensor.reshape({-1}).contiguous();
}

at::Tensor host_keys(const at::Tensor& keys) { return keys.is_cpu() ? keys : keys.cpu(); }

void check_device(const at::Tensor& tensor, const std::string& store, const char* operation, const char* argument) {
  if (tensor.is_cpu()) return;
  if (tensor.is_cuda() && store == "cuda") return;
  throw unsupported_error(std::string("gapm: ") + operation + ": " + argument + " is on " + tensor.device().str() +
                          ", but this node's store is '" + store +
                          "' (it takes CPU tensors; CUDA tensors need the CUDA build of gapm and a GPU store)");
}

at::Tensor checked_values(const at::Tensor& tensor, value_kind kind, std::size_t values, const std::string& store,
                          const char* operation, const char* argument, bool output) {
  if (!tensor.defined()) misuse(operation, std::string(argument) + " is not a tensor");
  if (tensor.scalar_type() != scalar_type_of(kind))
    misuse(operation, std::string(argument) + " has dtype " + dtype_name(tensor.scalar_type()) +
                          ", but this node holds " + dtype_name(scalar_type_of(kind)) + " values");
  if (static_cast<std::size_t>(tensor.numel()) != values)
    misuse(operation, std::string(argument) + " has " + std::to_string(tensor.numel()) + " elements, but the keys' rows need " +
                          std::to_string(values));
  check_device(tensor, store, operation, argument);
  if (output) {
    if (!tensor.is_contiguous())
      misuse(operation, std::string(argument) + " must be contiguous (gapm writes it in place)");
    if (tensor.requires_grad())
      misuse(operation, std::string(argument) + " requires grad; pass a tensor outside autograd (e.g. under torch.no_grad())");
    return tensor;
  }
  return tensor.detach().contiguous();
}

stream_view stream_of(const at::Tensor& tensor) {
  if (!tensor.is_cuda()) return {};
  // torch's current stream, through Python: no link to c10_cuda, so a CPU-only libtorch works.
  py::object stream = py::module_::import("torch.cuda").attr("current_stream")(tensor.device().index());
  const auto handle = stream.attr("cuda_stream").cast<std::uintptr_t>();
  // The legacy default stream (handle 0) has no stream_view of its own: the default view means
  // "blocking". Blocking is the safe reading of it, so it stays the default view.
  return stream_view{reinterpret_cast<void*>(handle)};
}

}  // namespace gapm::python
