// cluster: cluster-wide barriers. Rank 0 collects the arrivals of each generation and
// releases it with the smallest contribution; every wait is bounded by barrier_timeout_s.
#include <algorithm>
#include <chrono>
#include <limits>
#include <span>
#include <string>

#include <gapm/errors.hpp>

#include "comm/cluster.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

using clock = std::chrono::steady_clock;

// Non-zero ranks wait this much longer than rank 0 at a barrier, so that rank 0, which knows
// who is missing, is the first to tell.
constexpr auto barrier_grace = std::chrono::seconds{2};

}  // namespace

std::uint64_t cluster::barrier(std::uint64_t contribution) { return run_barrier(contribution, false); }

void cluster::shutdown_barrier() { (void)run_barrier(std::numeric_limits<std::uint64_t>::max(), true); }

std::uint64_t cluster::run_barrier(std::uint64_t contribution, bool shutdown) {
  std::uint64_t generation = 0;
  {
    std::lock_guard guard{state_mutex_};
    if (!failure_.empty()) throw comm_error(failure_);
    generation = ++barrier_generation_;
    if (shutdown) shutdown_generation_ = generation;  // before anyone can pass it and say bye
  }
  if (rank_ == 0) {
    enter_barrier(0, generation, contribution);
  } else if (auto result = send(0, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_enter), .request = generation},
                                std::span<const std::uint64_t>(&contribution, 1));
             !result.ok()) {
    fail("barrier: " + result.error);
  }
  const auto deadline = clock::now() + barrier_timeout_ + (rank_ == 0 ? clock::duration::zero() : barrier_grace);
  std::unique_lock lock{state_mutex_};
  const bool done = state_changed_.wait_until(
      lock, deadline, [&] { return released_generation_ >= generation || !failure_.empty(); });
  if (released_generation_ >= generation) return released_value_;
  if (!done) {  // the deadline passed
    std::string missing;
    if (rank_ == 0) {
      const auto arrived = barrier_arrivals_.find(generation);
      for (int node = 0; node < world_size_; ++node)
        if (arrived == barrier_arrivals_.end() || !arrived->second.nodes.contains(node))
          missing += (missing.empty() ? "" : ", ") + std::to_string(node);
    }
    const auto seconds = std::chrono::duration<double>(barrier_timeout_).count();
    lock.unlock();
    fail(rank_ == 0 ? concat("barrier ", generation, " timed out after ", seconds, " s: node(s) ", missing,
                             " did not arrive (option barrier_timeout_s; nodes must call barrier(), finalize(), "
                             "save(), load() and shutdown() in the same order)")
                    : concat("barrier ", generation, " was not released by node 0 within ", seconds,
                             " s (option barrier_timeout_s)"));
    lock.lock();
  }
  throw comm_error(failure_);
}

void cluster::enter_barrier(int node, std::uint64_t generation, std::uint64_t contribution) {
  std::uint64_t result = 0;
  {
    std::lock_guard guard{state_mutex_};
    auto& arrivals = barrier_arrivals_[generation];
    arrivals.nodes.insert(node);  // a node counts once per generation, however often it says so
    arrivals.minimum = std::min(arrivals.minimum, contribution);
    if (static_cast<int>(arrivals.nodes.size()) < world_size_) return;
    result = arrivals.minimum;
    barrier_arrivals_.erase(generation);
    // Released here before the peers hear of it: a peer that passes at once and enters the
    // next barrier must find this one released (a barrier_enter is checked against it).
    released_generation_ = generation;
    released_value_ = result;
  }
  state_changed_.notify_all();
  for (int peer = 1; peer < world_size_; ++peer)
    if (auto result_of_send = send(peer, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_release),
                                          .request = generation},
                                   std::span<const std::uint64_t>(&result, 1));
        !result_of_send.ok()) {
      fail("barrier: " + result_of_send.error);
      return;
    }
}

void cluster::release_barrier(std::uint64_t generation, std::uint64_t value) {
  {
    std::lock_guard guard{state_mutex_};
    if (generation <= released_generation_) return;
    released_generation_ = generation;
    released_value_ = value;
  }
  state_changed_.notify_all();
}

}  // namespace gapm::detail
