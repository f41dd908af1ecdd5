// The cluster layer in one process: two nodes (threads) join over loopback, run barriers,
// and survive malformed frames from a stranger, which are dropped and counted.
#include "comm/cluster.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include <gapm/errors.hpp>

#include <gtest/gtest.h>

#include "comm/zmq_transport.hpp"
#include "process_cluster.hpp"

namespace {

using namespace gapm::detail;

struct counting_handler final : message_handler {
  std::atomic<int> messages{0};
  std::atomic<int> failures{0};
  void on_message(wire::message&& message) override {
    if (message.head.request == 666) throw wire::malformed_message("handler finds request 666 malformed");
    if (message.head.request == 667) throw std::runtime_error("store full while applying request 667");
    ++messages;
  }
  void on_failure(const std::string& reason) override {
    std::lock_guard guard{mutex};
    last_failure = reason;
    ++failures;
  }
  std::mutex mutex;
  std::string last_failure;
};

struct two_nodes {
  counting_handler handlers[2];
  std::unique_ptr<cluster> nodes[2];

  explicit two_nodes(double peer_timeout_s = 5) {
    gapm::Options options;
    options.tables = {{10, 1}};
    options.peer_timeout_s = peer_timeout_s;
    options.rendezvous_timeout_s = 10;
    const int port = gapm::testing::free_port();
    auto join = [&](int rank) {
      cluster_env env{rank, 2, 0, "127.0.0.1", port, "test"};
      node_hello hello{rank, 2, "", "cpu", "int64", options.to_string(), ""};
      nodes[rank] = std::make_unique<cluster>(env, options, hello, handlers[rank]);
      nodes[rank]->start();
    };
    std::thread other(join, 1);
    join(0);
    other.join();
  }

  void barrier_both() {
    auto second = std::async(std::launch::async, [&] { nodes[1]->barrier(); });
    nodes[0]->barrier();
    second.get();
  }
};

TEST(Cluster, JoinsRunsBarriersAndDeliversMessages) {
  two_nodes c;
  for (int i = 0; i < 5; ++i) c.barrier_both();
  std::vector<std::uint64_t> keys{1, 2, 3};
  ASSERT_TRUE(c.nodes[0]->send(1, {.kind = static_cast<std::uint8_t>(wire::kind::write_ack), .origin = 1}, keys).ok());
  for (int i = 0; i < 200 && c.handlers[1].messages == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(c.handlers[1].messages, 1);
  c.nodes[1]->leave(true);
  c.nodes[0]->leave(true);
  EXPECT_EQ(c.handlers[0].failures + c.handlers[1].failures, 0);
}

TEST(Cluster, ABarrierReturnsTheSmallestContributionToEveryNode) {
  two_nodes c;
  auto second = std::async(std::launch::async, [&] { return c.nodes[1]->barrier(5); });
  EXPECT_EQ(c.nodes[0]->barrier(7), 5u);
  EXPECT_EQ(second.get(), 5u);
  second = std::async(std::launch::async, [&] { return c.nodes[1]->barrier(); });  // rank 0 speaks for all
  EXPECT_EQ(c.nodes[0]->barrier(42), 42u);
  EXPECT_EQ(second.get(), 42u);
  c.nodes[1]->leave(true);
  c.nodes[0]->leave(true);
}

TEST(Cluster, MalformedFramesAreDroppedCountedAndHarmless) {
  two_nodes c;
  zmq::context_t context;
  auto stranger = [&](const std::string& identity) {
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::routing_id, identity);
    socket.set(zmq::sockopt::linger, 1000);
    socket.connect(c.nodes[0]->endpoint(0));
    return socket;
  };
  auto garbage = stranger("stranger");
  garbage.send(zmq::str_buffer("garbage"), zmq::send_flags::none);          // too short
  std::vector<std::byte> junk(100, std::byte{0x5a});
  garbage.send(zmq::buffer(junk), zmq::send_flags::none);                   // bad magic
  auto impostor = stranger("somebody");
  auto frame = wire::encode({.kind = static_cast<std::uint8_t>(wire::kind::heartbeat), .sender = 1});
  impostor.send(zmq::buffer(frame), zmq::send_flags::none);                 // claims to be node 1
  // A well-formed frame from the real node 1 that the handler's validation refuses.
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::pull_request), .request = 666}).ok());
  for (int i = 0; i < 400 && c.nodes[0]->traffic().malformed < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(c.nodes[0]->traffic().malformed.load(), 4u);
  c.barrier_both();  // still healthy
  EXPECT_EQ(c.handlers[0].failures, 0);
  c.nodes[1]->leave(true);
  c.nodes[0]->leave(true);
}

TEST(Cluster, AMessageTheHandlerCannotApplyFailsTheClusterLoudlyAndStopsDispatching) {
  two_nodes c;
  auto waiting = std::async(std::launch::async, [&] { c.nodes[0]->barrier(); });  // node 1 never comes
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::push_request), .request = 667}).ok());
  try {
    waiting.get();
    ADD_FAILURE() << "the barrier returned although the cluster failed";
  } catch (const gapm::comm_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("could not apply push_request from node 1"), std::string::npos) << what;
    EXPECT_NE(what.find("store full while applying request 667"), std::string::npos) << what;
  }
  for (int i = 0; i < 200 && c.handlers[0].failures == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(c.handlers[0].failures, 1);
  EXPECT_EQ(c.nodes[0]->traffic().malformed.load(), 0u);
  // Once failed, nothing more reaches the handler: a late answer finds no buffer to write.
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::pull_response)}).ok());
  const auto received = c.nodes[0]->traffic().messages_received.load();
  for (int i = 0; i < 400 && c.nodes[0]->traffic().messages_received == received; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(c.handlers[0].messages, 0);
}

TEST(Cluster, AbortiveLeaveFailsThePeerAndWakesItsBarrier) {
  two_nodes c;
  auto waiting = std::async(std::launch::async, [&] { c.nodes[0]->barrier(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.nodes[1]->leave(false);
  EXPECT_THROW(waiting.get(), gapm::comm_error);
  EXPECT_EQ(c.handlers[0].failures, 1);
  EXPECT_THROW(c.nodes[0]->throw_if_failed(), gapm::comm_error);
}

}  // namespace
