// Checked tensors for the worker calls: keys become a flat, contiguous int64 tensor; value
// tensors must match the node's dtype, the rows' value count and (for outputs) be contiguous;
// devices must suit the node's store. Every violation throws gapm::logic_error (raised in
// Python as gapm.UsageError, a ValueError) with a message that names the call, the argument,
// what was expected and what was given.
#pragma once

#include <cstddef>
#include <string>

#include <ATen/core/Tensor.h>
#include <pybind11/pybind11.h>

#include <gapm/types.hpp>

#include "typed_api.hpp"

namespace gapm::python {

/// The torch dtype of a value kind.
[[nodiscard]] c10::ScalarType scalar_type_of(value_kind kind) noexcept;

/// Keys as a flat, contiguous int64 tensor. Accepts an int64 tensor of any shape (flattened)
/// or anything torch.as_tensor turns into integers (a list, a range, a NumPy array). A tensor
/// of another dtype is an error: gapm does not guess what a float key means.
[[nodiscard]] at::Tensor key_tensor(pybind11::handle keys, const char* operation);

/// Checks a tensor of values: the node's dtype, `values` elements, and a device the store
/// accepts. An output must also be contiguous (gapm writes it in place); an input is made
/// contiguous (a copy when it is not). Returns the tensor to use.
[[nodiscard]] at::Tensor checked_values(const at::Tensor& tensor, value_kind kind, std::size_t values,
                                        const std::string& store, const char* operation, const char* argument,
                                        bool output);

/// Throws unless the store can read `tensor`'s memory: any CPU tensor; a CUDA tensor only
/// when the store is "cuda".
void check_device(const at::Tensor& tensor, const std::string& store, const char* operation, const char* argument);

/// The stream that orders work on `tensor`: torch's current stream on its device for a CUDA
/// tensor, the default view (a blocking call) for a CPU tensor. Needs the GIL.
[[nodiscard]] stream_view stream_of(const at::Tensor& tensor);

/// The host keys of a key tensor (a copy for CUDA keys), for sizing the rows.
[[nodiscard]] at::Tensor host_keys(const at::Tensor& keys);

}  // namespace gapm::python
