// GAPM_CUDA_TRY: turns a failed CUDA runtime call into a gapm::cuda_error with file:line.
#pragma once

#include <string>

#include <cuda_runtime_api.h>

#include <gapm/errors.hpp>

namespace gapm::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw cuda_error(std::string("gapm: CUDA call ") + call + " failed at " + file + ":" + std::to_string(line) +
                   ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

}  // namespace gapm::detail

#define GAPM_CUDA_TRY(call)                                                        \
  do {                                                                             \
    const cudaError_t gapm_status_ = (call);                                       \
    if (gapm_status_ != cudaSuccess) [[unlikely]]                                  \
      ::gapm::detail::throw_cuda_error(gapm_status_, #call, __FILE__, __LINE__);   \
  } while (false)
