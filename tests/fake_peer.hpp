// fake_peer: plays one node of a cluster whose other node is a real gapm::Node in the test
// process, to test the node's protocol handling with frames no well-behaved node would send.
// It joins through the real rendezvous and cluster code (so heartbeats and barriers work),
// records every message that reaches it, and acknowledges the node's sync rounds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gapm/options.hpp>

#include "comm/cluster.hpp"
#include "process_cluster.hpp"

namespace gapm::testing {

class fake_peer final : public detail::message_handler {
 public:
  /// Sets RANK/WORLD_SIZE/MASTER_* for the real node (rank 0 of 2) constructed next, in
  /// another thread; the constructor returns once both have joined.
  static int prepare_environment() {
    const int port = free_port();
    ::setenv("RANK", "0", 1);
    ::setenv("WORLD_SIZE", "2", 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    return port;
  }

  fake_peer(int port, const Options& options, const std::string& value_type) {
    detail::cluster_env env{1, 2, 0, "127.0.0.1", port, "test"};
    detail::node_hello hello{1, 2, "", "cpu", value_type, options.to_string(), "", ""};
    net_ = std::make_unique<detail::cluster>(env, options, hello, *this);
    net_->start();
  }
  ~fake_peer() override { net_->leave(false); }

  detail::cluster& net() { return *net_; }

  /// Sends a frame as node 1.
  template <class... Arrays>
  void send(detail::wire::header head, const Arrays&... parts) {
    if (!net_->send(0, head, parts...).ok()) throw std::runtime_error("fake_peer: send failed");
  }

  /// The first recorded message of `kind` (removed), waiting up to `timeout`.
  std::optional<detail::wire::message> take(detail::wire::kind kind,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock{mutex_};
    std::optional<detail::wire::message> found;
    arrived_.wait_for(lock, timeout, [&] {
      for (auto it = received_.begin(); it != received_.end(); ++it)
        if (it->kind() == kind) {
          found = std::move(*it);
          received_.erase(it);
          return true;
        }
      return false;
    });
    return found;
  }

  void on_message(detail::wire::message&& message) override {
    if (message.kind() == detail::wire::kind::sync_request && message.head.first_delivery()) {
      // Acknowledge, so that the node's rounds complete (nothing handled: the fake holds no keys).
      const std::vector<std::uint64_t> tally{0, 1};
      (void)net_->send(0,
                       {.kind = static_cast<std::uint8_t>(detail::wire::kind::sync_response),
                        .origin = message.head.origin,
                        .worker = message.head.worker,
                        .request = message.head.request},
                       tally);
      return;
    }
    std::lock_guard guard{mutex_};
    received_.push_back(std::move(message));
    arrived_.notify_all();
  }
  void on_failure(const std::string&) override {}

 private:
  std::unique_ptr<detail::cluster> net_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<detail::wire::message> received_;
};

}  // namespace gapm::testing
