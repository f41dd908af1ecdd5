// The platform of test binaries: the emulated runtime, and the row kernels of
// cuda/row_launcher.hpp run as tasks of its streams.
#include <cstdint>

#include "cuda/device_platform.hpp"
#include "cuda/emulation/emulated_pipe_links.hpp"
#include "cuda/emulation/emulated_runtime.hpp"

namespace gapm::detail {
namespace {

// A kernel: one task on the stream that calls op(i) for every index. The task owns a copy of
// the function object, as a launched kernel owns its parameters.
struct emulated_executor {
  emulated_runtime* runtime;
  template <class Op>
  void operator()(std::size_t total, const Op& op, device_stream stream) const {
    if (total == 0) return;
    runtime->host_task(stream, [total, op] {
      for (std::size_t i = 0; i < total; ++i) op(i);
    });
  }
};

}  // namespace

emulated_runtime& emulated_device() {
  static emulated_runtime runtime{emulated_runtime::settings_from_env()};
  return runtime;
}

const device_platform* active_device_platform() noexcept {
  static generic_row_launcher<float, emulated_executor> float_rows{{&emulated_device()}};
  static generic_row_launcher<double, emulated_executor> double_rows{{&emulated_device()}};
  static generic_row_launcher<std::int64_t, emulated_executor> int64_rows{{&emulated_device()}};
  static const device_platform platform{emulated_device(), float_rows, double_rows, int64_rows,
                                        &emulated_pipe_links_factory()};
  return &platform;
}

}  // namespace gapm::detail
