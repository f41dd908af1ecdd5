// stream_uses: the streams that have run a device store's row kernels, and the event of its
// last structure change — what orders the store's work without ever making gapm's own streams
// wait for a user's (cuda/device_store.cpp).
//
//  - Each stream that ran a row kernel has an event recorded after its last one. An erase
//    takes the events of kernels not yet run (its retired slots wait for them) and forgets
//    every stream, so streams of threads long gone are not kept.
//  - A kernel's stream first waits for the last structure change, unless it is done.
//
// A thread's default stream (null, or the runtime's per-thread handle) is told apart by its
// thread, numbered once per thread: thread ids are reused, default streams' work is not.
// Thread-safe; call within a device_scope of the store's device.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/device_runtime.hpp"

namespace gapm::detail {

class stream_uses {
 public:
  explicit stream_uses(device_runtime& runtime) : rt_{runtime} {}
  ~stream_uses() { destroy(); }
  stream_uses(const stream_uses&) = delete;
  stream_uses& operator=(const stream_uses&) = delete;

  /// Before a row kernel on `stream`: it waits for the last structure change unless it is done.
  void before_kernel(device_stream stream);
  /// After a row kernel on `stream`: structure changes will wait for it.
  void after_kernel(device_stream stream);
  /// After a structure change enqueued on `admin`: kernels enqueued from now on wait for it.
  void changed(device_stream admin);

  /// The events of last kernels that have not run yet, handed over to the caller (who destroys
  /// them); every stream starts anew with its next kernel.
  [[nodiscard]] std::vector<device_event> take_unfinished();
  /// Work enqueued on `stream` from now on runs after every other stream's last kernel (every
  /// stream's, for one that runs no row kernels: the store's admin stream at its end).
  void order_after_others(device_stream stream);
  /// Destroys the events (once no enqueued work records or waits for them). Idempotent.
  void destroy() noexcept;

 private:
  using stream_key = std::pair<device_stream, std::uint64_t>;
  [[nodiscard]] stream_key key_of(device_stream stream) const;

  device_runtime& rt_;
  std::mutex mutex_;
  std::map<stream_key, device_event> last_kernel_;
  device_event last_change_ = nullptr;  // made with the first change (the store makes one at once)
};

}  // namespace gapm::detail
