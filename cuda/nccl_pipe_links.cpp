#include "cuda/nccl_pipe_links.hpp"

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <gapm/errors.hpp>

#include "cuda/pipe_schedule.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

void nccl_try(ncclResult_t status, const char* call, ncclComm_t comm = nullptr) {
  if (status == ncclSuccess) return;
  const char* last = ncclGetLastError(comm);
  throw comm_error(concat("gapm: NCCL call ", call, " failed: ", ncclGetErrorString(status),
                          last != nullptr && *last != '\0' ? concat(" (", last, ")") : std::string{}));
}

class nccl_pipe_links final : public pipe_links {
 public:
  nccl_pipe_links(int rank, int world_size, std::string_view id)
      : rank_{rank}, out_(static_cast<std::size_t>(world_size)), in_(static_cast<std::size_t>(world_size)) {
    if (id.size() != sizeof(ncclUniqueId))
      throw comm_error(concat("gapm: NCCL id of ", id.size(), " bytes where ", sizeof(ncclUniqueId), " were expected"));
    ncclUniqueId unique;
    std::memcpy(&unique, id.data(), sizeof unique);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.commName = "gapm";
    ncclComm_t all = nullptr;
    nccl_try(ncclCommInitRankConfig(&all, world_size, unique, rank, &config), "ncclCommInitRankConfig");
    try {
      // Every node makes the same splits in the same order (collective calls); in a pair's
      // communicator the lower rank is rank 0 (the key is the global rank).
      for (const auto& round : pairing_rounds(world_size)) {
        for (const bool lower_sends : {true, false}) {
          int color = NCCL_SPLIT_NOCOLOR, peer = -1;
          for (const auto& [a, b] : round)
            if (rank == a || rank == b) color = a, peer = rank == a ? b : a;
          ncclComm_t pipe = nullptr;
          nccl_try(ncclCommSplit(all, color, rank, &pipe, &config), "ncclCommSplit", all);
          if (pipe == nullptr) continue;
          const bool sends = (rank < peer) == lower_sends;
          (sends ? out_ : in_)[static_cast<std::size_t>(peer)] = pipe;
        }
      }
    } catch (...) {
      (void)ncclCommAbort(all);
      abort();
      throw;
    }
    nccl_try(ncclCommDestroy(all), "ncclCommDestroy");
  }

  ~nccl_pipe_links() override {
    if (aborted_.load()) return;
    for (auto* comms : {&out_, &in_})
      for (ncclComm_t comm : *comms)
        if (comm != nullptr) (void)ncclCommDestroy(comm);
  }

  void enqueue_send(int peer, const void* src, std::size_t bytes, device_stream stream) override {
    nccl_try(ncclSend(src, bytes, ncclUint8, rank_in_pipe(peer), comm(out_, peer), static_cast<cudaStream_t>(stream)),
             "ncclSend", comm(out_, peer));
  }

  void enqueue_receive(int peer, void* dst, std::size_t bytes, device_stream stream) override {
    nccl_try(ncclRecv(dst, bytes, ncclUint8, rank_in_pipe(peer), comm(in_, peer), static_cast<cudaStream_t>(stream)),
             "ncclRecv", comm(in_, peer));
  }

  std::string failure() override {
    for (auto* comms : {&out_, &in_})
      for (ncclComm_t comm : *comms) {
        if (comm == nullptr) continue;
        ncclResult_t async = ncclSuccess;
        if (ncclCommGetAsyncError(comm, &async) == ncclSuccess && async != ncclSuccess && async != ncclInProgress)
          return concat("gapm: NCCL: ", ncclGetErrorString(async), " (", ncclGetLastError(comm), ")");
      }
    return {};
  }

  void abort() noexcept override {
    if (aborted_.exchange(true)) return;
    for (auto* comms : {&out_, &in_})
      for (ncclComm_t comm : *comms)
        if (comm != nullptr) (void)ncclCommAbort(comm);  // ends kernels that wait for a dead peer
  }

 private:
  [[nodiscard]] int rank_in_pipe(int peer) const noexcept { return peer < rank_ ? 0 : 1; }
  [[nodiscard]] static ncclComm_t comm(const std::vector<ncclComm_t>& comms, int peer) {
    GAPM_EXPECTS(peer >= 0 && static_cast<std::size_t>(peer) < comms.size() && comms[static_cast<std::size_t>(peer)],
                 "NCCL row plane: no pipe to node ", peer);
    return comms[static_cast<std::size_t>(peer)];
  }

  int rank_;
  std::vector<ncclComm_t> out_, in_;  // by peer: this node sends, this node receives
  std::atomic<bool> aborted_{false};
};

class nccl_factory final : public pipe_links_factory {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "nccl"; }
  [[nodiscard]] std::string make_id() const override {
    ncclUniqueId unique;
    nccl_try(ncclGetUniqueId(&unique), "ncclGetUniqueId");
    return std::string(reinterpret_cast<const char*>(&unique), sizeof unique);
  }
  [[nodiscard]] std::unique_ptr<pipe_links> connect(device_runtime&, int, int rank, int world_size,
                                                    std::string_view id) const override {
    return std::make_unique<nccl_pipe_links>(rank, world_size, id);
  }
};

}  // namespace

const pipe_links_factory& nccl_pipe_links_factory() noexcept {
  static const nccl_factory factory;
  return factory;
}

}  // namespace gapm::detail
