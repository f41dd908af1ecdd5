#include "cuda/emulation/emulated_pipe_links.hpp"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include <gapm/errors.hpp>

#include "comm/crypto.hpp"
#include "comm/job_auth.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

std::string pipe_endpoint(std::string_view id, const char* what, int from, int to) {
  return concat("ipc:///tmp/gapm-plane-", id, what, from, "-", to);
}

class emulated_pipe_links final : public pipe_links {
 public:
  emulated_pipe_links(device_runtime& runtime, int rank, int world_size, std::string_view id)
      : runtime_{runtime},
        out_(static_cast<std::size_t>(world_size)),
        in_(static_cast<std::size_t>(world_size)),
        out_hello_(out_.size()),
        in_hello_(in_.size()),
        out_connected_(out_.size(), false),
        in_connected_(in_.size(), false) {
    try {
      for (int peer = 0; peer < world_size; ++peer) {
        if (peer == rank) continue;
        const auto at = static_cast<std::size_t>(peer);
        for (auto [sockets, what] : {std::pair{&in_, "-"}, std::pair{&in_hello_, "-hello-"}}) {
          auto& in = (*sockets)[at] = zmq::socket_t(context_, zmq::socket_type::pair);
          in.set(zmq::sockopt::linger, 0);
          in.bind(pipe_endpoint(id, what, peer, rank));
        }
        for (auto [sockets, what] : {std::pair{&out_, "-"}, std::pair{&out_hello_, "-hello-"}}) {
          auto& out = (*sockets)[at] = zmq::socket_t(context_, zmq::socket_type::pair);
          out.set(zmq::sockopt::linger, 0);
          out.connect(pipe_endpoint(id, what, rank, peer));
        }
      }
    } catch (const zmq::error_t& e) {
      throw comm_error(concat("gapm: emulated row plane: cannot open the pipes of node ", rank, ": ", e.what()));
    }
  }

  ~emulated_pipe_links() override {
    abort();  // the plane has waited for its streams; nothing is in flight any more
    for (auto* sockets : {&out_, &in_, &out_hello_, &in_hello_})
      for (auto& s : *sockets) s.close();
  }

  void enqueue_send(int peer, const void* src, std::size_t bytes, device_stream stream) override {
    connect_lazily(out_hello_, out_connected_, peer);
    zmq::socket_t* socket = &out_.at(static_cast<std::size_t>(peer));
    runtime_.host_task(stream, [this, socket, src, bytes, peer] {
      run(peer, "send", [&] {
        socket->send(zmq::const_buffer(src, bytes), zmq::send_flags::none);
        zmq::message_t word;
        return socket->recv(word, zmq::recv_flags::none).has_value();
      });
    });
  }

  void enqueue_receive(int peer, void* dst, std::size_t bytes, device_stream stream) override {
    connect_lazily(in_hello_, in_connected_, peer);
    zmq::socket_t* socket = &in_.at(static_cast<std::size_t>(peer));
    runtime_.host_task(stream, [this, socket, dst, bytes, peer] {
      run(peer, "receive", [&] {
        zmq::message_t rows;
        if (!socket->recv(rows, zmq::recv_flags::none)) return false;
        if (rows.size() != bytes) {
          note_failure(concat("gapm: emulated row plane: node ", peer, " sent ", rows.size(), " bytes where ", bytes,
                              " were expected"));
          return false;
        }
        std::memcpy(dst, rows.data(), bytes);
        socket->send(zmq::const_buffer("", 0), zmq::send_flags::none);  // the sender's stream goes on
        return true;
      });
    });
  }

  std::string failure() override {
    std::lock_guard guard{mutex_};
    return failure_;
  }

  void abort() noexcept override { context_.shutdown(); }  // blocked halves return (ETERM)

 private:
  // One half of a transfer, on a stream's thread; an aborted context ends it quietly.
  template <class Half>
  void run(int peer, const char* what, Half&& half) noexcept {
    try {
      (void)half();
    } catch (const zmq::error_t& e) {
      if (e.num() != ETERM) note_failure(concat("gapm: emulated row plane: ", what, " with node ", peer, ": ", e.what()));
    }
  }

  // Like NCCL, a pipe connects on its first call at each end, and that host call waits for the
  // other end's first call (the plane connects every pipe at set-up, in an order that cannot
  // deadlock). Calls on one pipe come from one thread at a time (the plane's pipe lock).
  void connect_lazily(std::vector<zmq::socket_t>& hello, std::vector<bool>& connected, int peer) {
    const auto at = static_cast<std::size_t>(peer);
    if (connected[at]) return;
    try {
      hello[at].send(zmq::const_buffer("", 0), zmq::send_flags::none);
      zmq::message_t word;
      if (!hello[at].recv(word, zmq::recv_flags::none)) throw comm_error("gapm: emulated row plane: no word");
    } catch (const zmq::error_t& e) {
      throw comm_error(concat("gapm: emulated row plane: connecting the pipe with node ", peer, ": ", e.what()));
    }
    connected[at] = true;
  }

  void note_failure(std::string why) {
    std::lock_guard guard{mutex_};
    if (failure_.empty()) failure_ = std::move(why);
  }

  device_runtime& runtime_;
  zmq::context_t context_;
  std::vector<zmq::socket_t> out_, in_;  // by peer: to it, from it
  std::vector<zmq::socket_t> out_hello_, in_hello_;  // the same pipes' first calls meet here
  std::vector<bool> out_connected_, in_connected_;
  std::mutex mutex_;
  std::string failure_;
};

class emulated_factory final : public pipe_links_factory {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "emulated-nccl"; }
  [[nodiscard]] std::string make_id() const override {
    std::vector<std::uint8_t> token(8);
    random_bytes(token);
    return to_hex(token);
  }
  [[nodiscard]] std::unique_ptr<pipe_links> connect(device_runtime& runtime, int, int rank, int world_size,
                                                    std::string_view id, std::chrono::milliseconds) const override {
    return std::make_unique<emulated_pipe_links>(runtime, rank, world_size, id);
  }
};

}  // namespace

const pipe_links_factory& emulated_pipe_links_factory() noexcept {
  static const emulated_factory factory;
  return factory;
}

}  // namespace gapm::detail
