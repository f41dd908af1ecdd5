// worker_state: what the node keeps about one registered worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <gapm/types.hpp>

#include "host/runtime/request_tracker.hpp"
#include "host/runtime/sampler.hpp"
#include "host/store/pinned_memory.hpp"

namespace gapm::detail {

class pull_staging;  // host/runtime/pull_staging.hpp

/// Counters a worker bumps without contention (only its own thread writes them).
struct worker_counters {
  std::atomic<std::uint64_t> pulls_local{0};
  std::atomic<std::uint64_t> pulls_remote{0};
  std::atomic<std::uint64_t> pushes_local{0};
  std::atomic<std::uint64_t> pushes_remote{0};
  std::atomic<std::uint64_t> intent_keys{0};

  static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

/// A pull waiting for remote rows: where each answered position's row goes.
struct pending_pull {
  std::byte* out = nullptr;             // host memory receiving the rows
  std::size_t value_bytes = 0;          // sizeof(T)
  std::vector<std::uint64_t> offsets;   // (n + 1) value offset of each position
  std::vector<key_type> keys;           // (n) to check the answers against
  std::uint64_t remaining = 0;          // positions still unanswered
  // When the caller's buffer is device memory: rows arrive in pinned host staging, and the worker's
  // own thread copies them to the device in the pull's stream order once all have arrived
  // (worker_ops::deliver_arrived_pulls), never the receive thread. Rows that came on the data
  // plane are staged on the device instead (host/runtime/pull_staging.hpp).
  pinned_vector<std::byte> staging;
  std::shared_ptr<pull_staging> device_staging;
  void* device_out = nullptr;
  stream_view stream{};
  bool blocking = true;                 // deliver completely before the ticket reads as finished
};

class worker_state {
 public:
  worker_state(int id, ticket_source& tickets) : id_{id}, requests_{tickets} {}

  [[nodiscard]] int id() const noexcept { return id_; }
  [[nodiscard]] clock_type clock() const noexcept { return clock_.load(std::memory_order_acquire); }
  void advance_clock() noexcept { clock_.fetch_add(1, std::memory_order_acq_rel); }

  [[nodiscard]] bool finalized() const noexcept { return finalized_.load(std::memory_order_acquire); }
  void mark_finalized() noexcept { finalized_.store(true, std::memory_order_release); }

  request_tracker& requests() noexcept { return requests_; }
  worker_counters& counters() noexcept { return counters_; }
  /// Host copy of keys given in device memory (reused across calls).
  std::vector<key_type>& key_scratch() noexcept { return key_scratch_; }

  /// Prepared samples by id, and the next id (this worker's thread only).
  std::unordered_map<std::uint64_t, prepared_sample>& samples() noexcept { return samples_; }
  std::uint64_t next_sample_id() noexcept { return next_sample_id_++; }
  /// Candidates pre-drawn for the `local` sampling scheme, consumed from the back.
  std::vector<key_type>& local_candidates() noexcept { return local_candidates_; }

  /// Pulls waiting for remote rows, by ticket id. Lock pending_mutex() to touch them. Once a
  /// request fails or is abandoned its entry goes, so that no answer is ever written into a
  /// buffer the caller may have freed.
  std::unordered_map<std::uint64_t, pending_pull>& pending_pulls() noexcept { return pending_pulls_; }
  std::mutex& pending_mutex() noexcept { return pending_mutex_; }
  void forget_pending_pull(std::uint64_t ticket) {
    std::lock_guard guard{pending_mutex_};
    pending_pulls_.erase(ticket);
  }
  /// Complete pulls into device buffers whose rows wait in host staging, by ticket id (lock
  /// pending_mutex()).
  std::unordered_map<std::uint64_t, pending_pull>& arrived_pulls() noexcept { return arrived_pulls_; }

  /// The cluster failed or the node shut down: no answer will be applied any more, and every
  /// wait throws `reason`.
  void fail_requests(std::exception_ptr reason) {
    {
      std::lock_guard guard{pending_mutex_};
      pending_pulls_.clear();
      arrived_pulls_.clear();
    }
    requests_.fail(std::move(reason));
  }

 private:
  int id_;
  std::atomic<clock_type> clock_{0};
  std::atomic<bool> finalized_{false};
  request_tracker requests_;
  worker_counters counters_;
  std::vector<key_type> key_scratch_;
  std::unordered_map<std::uint64_t, prepared_sample> samples_;
  std::uint64_t next_sample_id_ = 1;
  std::vector<key_type> local_candidates_;
  std::mutex pending_mutex_;
  std::unordered_map<std::uint64_t, pending_pull> pending_pulls_;
  std::unordered_map<std::uint64_t, pending_pull> arrived_pulls_;
};

}  // namespace gapm::detail
