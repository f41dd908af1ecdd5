#include "cuda/nccl_pipe_links.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <gapm/errors.hpp>

#include "cuda/pipe_schedule.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

using clock = std::chrono::steady_clock;

std::string nccl_failure(ncclResult_t status, const char* call, ncclComm_t comm) {
  const char* last = ncclGetLastError(comm);
  return concat("gapm: NCCL call ", call, " failed: ", ncclGetErrorString(status),
                last != nullptr && *last != '\0' ? concat(" (", last, ")") : std::string{});
}

// The communicators are nonblocking, so that no call can hold a thread forever: a call that
// returns ncclInProgress is finished once the communicator says so. `give_up` ends the wait
// (a deadline, or an abort) with comm_error.
template <class GiveUp>
void nccl_finish(ncclResult_t status, const char* call, ncclComm_t comm, GiveUp&& give_up) {
  while (status == ncclInProgress) {
    if (const char* why = give_up()) {
      throw comm_error(concat("gapm: NCCL call ", call, ": ", why));
    }
    std::this_thread::sleep_for(std::chrono::microseconds{50});
    if (ncclCommGetAsyncError(comm, &status) != ncclSuccess) break;
  }
  if (status != ncclSuccess) throw comm_error(nccl_failure(status, call, comm));
}

// Waits until `comm`, made by a call that may still be in progress, is ready.
template <class GiveUp>
void nccl_ready(const char* call, ncclComm_t comm, GiveUp&& give_up) {
  ncclResult_t status = ncclInProgress;
  if (ncclCommGetAsyncError(comm, &status) != ncclSuccess) status = ncclInternalError;
  nccl_finish(status, call, comm, give_up);
}

class nccl_pipe_links final : public pipe_links {
 public:
  nccl_pipe_links(int rank, int world_size, std::string_view id, std::chrono::milliseconds patience)
      : rank_{rank}, out_(static_cast<std::size_t>(world_size)), in_(static_cast<std::size_t>(world_size)) {
    if (id.size() != sizeof(ncclUniqueId))
      throw comm_error(concat("gapm: NCCL id of ", id.size(), " bytes where ", sizeof(ncclUniqueId), " were expected"));
    ncclUniqueId unique;
    std::memcpy(&unique, id.data(), sizeof unique);
    // Set-up is collective: a node that dies meanwhile must not hold the others forever.
    const auto deadline = clock::now() + patience;
    auto late = [&]() -> const char* {
      return clock::now() < deadline ? nullptr : "the nodes did not all set up the data plane in time (option rendezvous_timeout_s)";
    };
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    config.commName = "gapm";
    ncclComm_t all = nullptr;
    try {
      nccl_finish(ncclCommInitRankConfig(&all, world_size, unique, rank, &config), "ncclCommInitRankConfig", all, late);
      nccl_ready("ncclCommInitRankConfig", all, late);
      // Every node makes the same splits in the same order (collective calls); in a pair's
      // communicator the lower rank is rank 0 (the key is the global rank).
      for (const auto& round : pairing_rounds(world_size))
        for (const bool lower_sends : {true, false}) {
          const int peer = peer_in(round);
          ncclComm_t pipe = nullptr;
          nccl_finish(ncclCommSplit(all, peer < 0 ? NCCL_SPLIT_NOCOLOR : std::min(rank, peer), rank, &pipe, &config),
                      "ncclCommSplit", all, late);
          if (pipe == nullptr) continue;
          nccl_ready("ncclCommSplit", pipe, late);
          ((rank < peer) == lower_sends ? out_ : in_)[static_cast<std::size_t>(peer)] = pipe;
        }
    } catch (...) {
      if (all != nullptr) (void)ncclCommAbort(all);
      abort();
      throw;
    }
    (void)ncclCommDestroy(all);
  }

  ~nccl_pipe_links() override {
    if (aborted_.load()) return;
    for (auto* comms : {&out_, &in_})
      for (ncclComm_t comm : *comms)
        if (comm != nullptr) (void)ncclCommDestroy(comm);
  }

  void enqueue_send(int peer, const void* src, std::size_t bytes, device_stream stream) override {
    const inside call{*this};
    ncclComm_t pipe = comm(out_, peer);
    nccl_finish(ncclSend(src, bytes, ncclUint8, rank_in_pipe(peer), pipe, static_cast<cudaStream_t>(stream)),
                "ncclSend", pipe, [this] { return unless_aborted(); });
  }

  void enqueue_receive(int peer, void* dst, std::size_t bytes, device_stream stream) override {
    const inside call{*this};
    ncclComm_t pipe = comm(in_, peer);
    nccl_finish(ncclRecv(dst, bytes, ncclUint8, rank_in_pipe(peer), pipe, static_cast<cudaStream_t>(stream)),
                "ncclRecv", pipe, [this] { return unless_aborted(); });
  }

  std::string failure() override {
    const inside call{*this, false};
    if (aborted_.load()) return {};
    for (auto* comms : {&out_, &in_})
      for (ncclComm_t comm : *comms) {
        if (comm == nullptr) continue;
        ncclResult_t async = ncclSuccess;
        if (ncclCommGetAsyncError(comm, &async) == ncclSuccess && async != ncclSuccess && async != ncclInProgress)
          return nccl_failure(async, "(asynchronous)", comm);
      }
    return {};
  }

  // Calls in progress on other threads see the flag and leave first: NCCL's communicators are
  // not to be aborted under a call that uses them.
  void abort() noexcept override {
    if (aborted_.exchange(true)) return;
    while (inside_.load() > 0) std::this_thread::yield();
    for (auto* comms : {&out_, &in_})
      for (ncclComm_t comm : *comms)
        if (comm != nullptr) (void)ncclCommAbort(comm);  // ends kernels that wait for a dead peer
  }

 private:
  // This node's partner in a round of the schedule, or -1.
  [[nodiscard]] int peer_in(const std::vector<std::pair<int, int>>& round) const noexcept {
    for (const auto& [a, b] : round)
      if (rank_ == a || rank_ == b) return rank_ == a ? b : a;
    return -1;
  }

  // A call on the communicators: abort() waits for it. One made after the abort throws (or,
  // for failure(), finds the flag).
  class inside {
   public:
    explicit inside(nccl_pipe_links& links, bool refuse_aborted = true) : links_{links} {
      links_.inside_.fetch_add(1);
      if (refuse_aborted && links_.aborted_.load()) {
        links_.inside_.fetch_sub(1);
        throw comm_error("gapm: NCCL data plane: aborted (the cluster failed)");
      }
    }
    ~inside() { links_.inside_.fetch_sub(1); }
    inside(const inside&) = delete;
    inside& operator=(const inside&) = delete;

   private:
    nccl_pipe_links& links_;
  };

  [[nodiscard]] const char* unless_aborted() const noexcept {
    return aborted_.load() ? "the data plane was aborted (the cluster failed)" : nullptr;
  }
  [[nodiscard]] int rank_in_pipe(int peer) const noexcept { return peer < rank_ ? 0 : 1; }
  [[nodiscard]] static ncclComm_t comm(const std::vector<ncclComm_t>& comms, int peer) {
    GAPM_EXPECTS(peer >= 0 && static_cast<std::size_t>(peer) < comms.size() && comms[static_cast<std::size_t>(peer)],
                 "NCCL row plane: no pipe to node ", peer);
    return comms[static_cast<std::size_t>(peer)];
  }

  int rank_;
  std::vector<ncclComm_t> out_, in_;  // by peer: this node sends, this node receives
  std::atomic<bool> aborted_{false};
  std::atomic<int> inside_{0};  // threads inside a call on the communicators
};

class nccl_factory final : public pipe_links_factory {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "nccl"; }
  [[nodiscard]] std::string make_id() const override {
    ncclUniqueId unique;
    if (const auto status = ncclGetUniqueId(&unique); status != ncclSuccess)
      throw comm_error(nccl_failure(status, "ncclGetUniqueId", nullptr));
    return std::string(reinterpret_cast<const char*>(&unique), sizeof unique);
  }
  [[nodiscard]] std::unique_ptr<pipe_links> connect(device_runtime&, int, int rank, int world_size,
                                                    std::string_view id,
                                                    std::chrono::milliseconds patience) const override {
    return std::make_unique<nccl_pipe_links>(rank, world_size, id, patience);
  }
};

}  // namespace

const pipe_links_factory& nccl_pipe_links_factory() noexcept {
  static const nccl_factory factory;
  return factory;
}

}  // namespace gapm::detail
