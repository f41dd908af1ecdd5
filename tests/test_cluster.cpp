// The cluster layer in one process: two nodes (threads) join over loopback, run barriers,
// and survive what strangers send: frames of connections that did not prove the job token
// are refused unread (counted), whatever identity or kind they claim (the rendezvous's own
// token checks: tests/test_rendezvous.cpp); a peer's malformed
// frames are dropped and counted. Also: barriers end at their deadline, and a peer that shut
// down in a barrier this node entered for another reason fails this node instead of hanging it.
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
using namespace std::chrono_literals;

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

gapm::Options cluster_options(double peer_timeout_s = 5, double barrier_timeout_s = 1800) {
  gapm::Options options;
  options.tables = {{10, 1}};
  options.peer_timeout_s = peer_timeout_s;
  options.barrier_timeout_s = barrier_timeout_s;
  options.rendezvous_timeout_s = 10;
  return options;
}

struct two_nodes {
  counting_handler handlers[2];
  std::unique_ptr<cluster> nodes[2];

  explicit two_nodes(const gapm::Options& options = cluster_options(), const std::function<void(int)>& before = {}) {
    const int port = gapm::testing::free_port();
    if (before) before(port);
    auto join = [&](int rank) {
      cluster_env env{rank, 2, 0, "127.0.0.1", port, "test"};
      node_hello hello{rank, 2, "", "cpu", "int64", options.to_string(), "", ""};
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

  void leave_cleanly() {
    auto second = std::async(std::launch::async, [&] {
      nodes[1]->shutdown_barrier();
      nodes[1]->leave(true);
    });
    nodes[0]->shutdown_barrier();
    nodes[0]->leave(true);
    second.get();
  }

  // Waits until `counter()` reaches `target` (at most 2 s).
  template <class Counter>
  static void await(Counter counter, std::uint64_t target) {
    for (int i = 0; i < 400 && counter() < target; ++i) std::this_thread::sleep_for(5ms);
  }
};

// A socket of somebody who never proved the job token. `identity`: the routing id it claims
// (before the token, "gapm-r<rank>" was how a node said who it was).
zmq::socket_t stranger(zmq::context_t& context, const std::string& endpoint, const std::string& identity = "") {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  if (!identity.empty()) socket.set(zmq::sockopt::routing_id, identity);
  socket.set(zmq::sockopt::linger, 1000);
  socket.connect(endpoint);
  return socket;
}

std::vector<std::byte> frame_of(wire::kind kind, int sender, std::uint64_t request, std::vector<std::uint64_t> payload = {}) {
  return wire::encode({.kind = static_cast<std::uint8_t>(kind), .sender = sender, .request = request}, payload);
}

TEST(Cluster, JoinsRunsBarriersAndDeliversMessages) {
  two_nodes c;
  for (int i = 0; i < 5; ++i) c.barrier_both();
  std::vector<std::uint64_t> keys{1, 2, 3};
  ASSERT_TRUE(c.nodes[0]->send(1, {.kind = static_cast<std::uint8_t>(wire::kind::write_ack), .origin = 1}, keys).ok());
  for (int i = 0; i < 200 && c.handlers[1].messages == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(c.handlers[1].messages, 1);
  c.leave_cleanly();
  EXPECT_EQ(c.handlers[0].failures + c.handlers[1].failures, 0);
  EXPECT_EQ(c.nodes[0]->rejected_frames() + c.nodes[1]->rejected_frames(), 0u);
}

TEST(Cluster, ABarrierReturnsTheSmallestContributionToEveryNode) {
  two_nodes c;
  auto second = std::async(std::launch::async, [&] { return c.nodes[1]->barrier(5); });
  EXPECT_EQ(c.nodes[0]->barrier(7), 5u);
  EXPECT_EQ(second.get(), 5u);
  second = std::async(std::launch::async, [&] { return c.nodes[1]->barrier(); });  // rank 0 speaks for all
  EXPECT_EQ(c.nodes[0]->barrier(42), 42u);
  EXPECT_EQ(second.get(), 42u);
  c.leave_cleanly();
  EXPECT_EQ(c.handlers[0].failures + c.handlers[1].failures, 0);
}

TEST(Cluster, AStrangersFramesAreRefusedUnreadWhateverTheyClaim) {
  two_nodes c;
  zmq::context_t context;
  auto garbage = stranger(context, c.nodes[0]->endpoint(0));
  garbage.send(zmq::str_buffer("garbage"), zmq::send_flags::none);               // too short
  std::vector<std::byte> junk(100, std::byte{0x5a});
  garbage.send(zmq::buffer(junk), zmq::send_flags::none);                        // bad magic
  auto impostor = stranger(context, c.nodes[0]->endpoint(0), "gapm-r1");         // node 1's old identity
  auto beat = frame_of(wire::kind::heartbeat, 1, 0);
  impostor.send(zmq::buffer(beat), zmq::send_flags::none);
  impostor.send(zmq::buffer(beat), zmq::send_flags::sndmore);                    // two parts
  impostor.send(zmq::buffer(beat), zmq::send_flags::none);
  two_nodes::await([&] { return c.nodes[0]->rejected_frames(); }, 4);
  EXPECT_EQ(c.nodes[0]->rejected_frames(), 4u);
  // A well-formed frame from the real node 1 that the handler's validation refuses: malformed.
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::pull_request), .request = 666}).ok());
  two_nodes::await([&] { return c.nodes[0]->traffic().malformed.load(); }, 1);
  EXPECT_EQ(c.nodes[0]->traffic().malformed.load(), 1u);
  EXPECT_EQ(c.handlers[0].messages, 0);
  c.barrier_both();  // still healthy
  EXPECT_EQ(c.handlers[0].failures, 0);
  c.leave_cleanly();
}

// Each of these ended or stalled the cluster before the job token: a `bye` in a node's name
// failed every node; forged barrier messages released barriers early or made them wait forever.
TEST(Cluster, ForgedByeAndBarrierFramesCanNeitherEndNorStallTheCluster) {
  two_nodes c;
  zmq::context_t context;
  auto as_node1 = stranger(context, c.nodes[0]->endpoint(0), "gapm-r1");
  auto as_node0 = stranger(context, c.nodes[1]->endpoint(1), "gapm-r0");
  const std::vector<std::vector<std::byte>> to_rank0{
      frame_of(wire::kind::bye, 1, 0), frame_of(wire::kind::barrier_enter, 1, 1, {0}),
      frame_of(wire::kind::barrier_enter, 1, 2, {0}), frame_of(wire::kind::barrier_enter, 1, 1000, {0})};
  const std::vector<std::vector<std::byte>> to_rank1{frame_of(wire::kind::barrier_release, 0, 1, {0}),
                                                     frame_of(wire::kind::barrier_release, 0, 1000, {0}),
                                                     frame_of(wire::kind::bye, 0, 0)};
  for (const auto& f : to_rank0) as_node1.send(zmq::buffer(f), zmq::send_flags::none);
  for (const auto& f : to_rank1) as_node0.send(zmq::buffer(f), zmq::send_flags::none);
  two_nodes::await([&] { return c.nodes[0]->rejected_frames(); }, to_rank0.size());
  two_nodes::await([&] { return c.nodes[1]->rejected_frames(); }, to_rank1.size());
  EXPECT_EQ(c.nodes[0]->rejected_frames(), to_rank0.size());
  EXPECT_EQ(c.nodes[1]->rejected_frames(), to_rank1.size());
  EXPECT_FALSE(c.nodes[0]->failed());
  EXPECT_FALSE(c.nodes[1]->failed());
  // Barriers still synchronise: node 1's barrier does not return before node 0 enters.
  auto second = std::async(std::launch::async, [&] { return c.nodes[1]->barrier(3); });
  EXPECT_EQ(second.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(c.nodes[0]->barrier(9), 3u);
  EXPECT_EQ(second.get(), 3u);
  c.barrier_both();
  c.leave_cleanly();
  EXPECT_EQ(c.handlers[0].failures + c.handlers[1].failures, 0);
}

// Before: node 1's ROUTER accepted routing id "gapm-r1" from anybody, and node 1 itself never
// connects to its own ROUTER, so a frame "from node 1" to node 1 passed the sender check.
TEST(Cluster, AFrameClaimingTheReceivingNodesOwnRankIsRefused) {
  two_nodes c;
  zmq::context_t context;
  auto as_itself = stranger(context, c.nodes[1]->endpoint(1), "gapm-r1");
  const auto bye = frame_of(wire::kind::bye, 1, 0);
  as_itself.send(zmq::buffer(bye), zmq::send_flags::none);
  two_nodes::await([&] { return c.nodes[1]->rejected_frames(); }, 1);
  EXPECT_EQ(c.nodes[1]->rejected_frames(), 1u);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(c.nodes[1]->failed());
  c.barrier_both();
  c.leave_cleanly();
}

TEST(Cluster, AValidHelloCannotClaimARankAnotherConnectionHasProven) {
  two_nodes c;
  c.barrier_both();  // node 1's connection to node 0 is proven (its barrier_enter came over it)
  zmq::context_t context;
  // A perfect hello for rank 1 (as a replay of the real one would be), on a second connection.
  auto second = stranger(context, c.nodes[0]->endpoint(0));
  second.send(zmq::buffer(make_hello(c.nodes[1]->credentials(), connection_purpose::data, 0)), zmq::send_flags::none);
  const auto bye = frame_of(wire::kind::bye, 1, 0);
  second.send(zmq::buffer(bye), zmq::send_flags::none);
  two_nodes::await([&] { return c.nodes[0]->rejected_frames(); }, 2);
  EXPECT_EQ(c.nodes[0]->rejected_frames(), 2u);
  EXPECT_FALSE(c.nodes[0]->failed());
  // A hello of another job (another secret), and one of this job for the beat socket sent to
  // the data socket, are refused too.
  job_credentials other = c.nodes[1]->credentials();
  other.secret = job_secret::generate();
  auto foreign = stranger(context, c.nodes[0]->endpoint(0));
  foreign.send(zmq::buffer(make_hello(other, connection_purpose::data, 0)), zmq::send_flags::none);
  auto wrong_socket = stranger(context, c.nodes[0]->endpoint(0));
  wrong_socket.send(zmq::buffer(make_hello(c.nodes[1]->credentials(), connection_purpose::beat, 0)),
                    zmq::send_flags::none);
  two_nodes::await([&] { return c.nodes[0]->rejected_frames(); }, 4);
  EXPECT_EQ(c.nodes[0]->rejected_frames(), 4u);
  c.barrier_both();
  c.leave_cleanly();
  EXPECT_EQ(c.handlers[0].failures + c.handlers[1].failures, 0);
}

TEST(Cluster, AStrangersBeatsAreRefusedByTheBeatSocketToo) {
  two_nodes c;
  zmq::context_t context;
  auto impostor = stranger(context, c.nodes[0]->heartbeat_endpoint(0), "gapm-r1");
  const auto beat = frame_of(wire::kind::heartbeat, 1, 0);
  for (int i = 0; i < 3; ++i) impostor.send(zmq::buffer(beat), zmq::send_flags::none);
  two_nodes::await([&] { return c.nodes[0]->rejected_frames(); }, 3);
  EXPECT_EQ(c.nodes[0]->rejected_frames(), 3u);
  c.leave_cleanly();
}

TEST(Cluster, ABarrierMessageForAnotherGenerationIsDroppedAsMalformed) {
  two_nodes c;
  c.barrier_both();  // generation 1 released
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_enter), .request = 5},
                               std::vector<std::uint64_t>{0}).ok());  // not 2
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_enter), .request = 1},
                               std::vector<std::uint64_t>{0}).ok());  // released already
  ASSERT_TRUE(c.nodes[0]->send(1, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_release), .request = 2},
                               std::vector<std::uint64_t>{0}).ok());  // node 1 has not entered 2
  two_nodes::await([&] { return c.nodes[0]->traffic().malformed.load(); }, 2);
  two_nodes::await([&] { return c.nodes[1]->traffic().malformed.load(); }, 1);
  EXPECT_EQ(c.nodes[0]->traffic().malformed.load(), 2u);
  EXPECT_EQ(c.nodes[1]->traffic().malformed.load(), 1u);
  auto second = std::async(std::launch::async, [&] { return c.nodes[1]->barrier(3); });
  EXPECT_EQ(second.wait_for(300ms), std::future_status::timeout);  // not released by the forgery
  EXPECT_EQ(c.nodes[0]->barrier(9), 3u);
  EXPECT_EQ(second.get(), 3u);
  c.leave_cleanly();
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
  for (int i = 0; i < 200 && c.handlers[0].failures == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(c.handlers[0].failures, 1);
  EXPECT_EQ(c.nodes[0]->traffic().malformed.load(), 0u);
  // Once failed, nothing more reaches the handler: a late answer finds no buffer to write.
  ASSERT_TRUE(c.nodes[1]->send(0, {.kind = static_cast<std::uint8_t>(wire::kind::pull_response)}).ok());
  const auto received = c.nodes[0]->traffic().messages_received.load();
  for (int i = 0; i < 400 && c.nodes[0]->traffic().messages_received == received; ++i)
    std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(c.handlers[0].messages, 0);
}

TEST(Cluster, AbortiveLeaveFailsThePeerAndWakesItsBarrier) {
  two_nodes c;
  auto waiting = std::async(std::launch::async, [&] { c.nodes[0]->barrier(); });
  std::this_thread::sleep_for(50ms);
  c.nodes[1]->leave(false);
  EXPECT_THROW(waiting.get(), gapm::comm_error);
  EXPECT_EQ(c.handlers[0].failures, 1);
  EXPECT_THROW(c.nodes[0]->throw_if_failed(), gapm::comm_error);
}

// Node 1 shuts down while node 0 runs a barrier (say, in finalize()): the barriers match, and
// node 1 leaves "cleanly". Before, node 0 took the bye as expected and then waited for node 1
// forever (its next sync round or barrier never completed). Now it fails at once, saying why.
TEST(Cluster, APeerThatShutDownInAnotherKindOfBarrierFailsThisNodeAtOnce) {
  two_nodes c;
  auto leaving = std::async(std::launch::async, [&] {
    c.nodes[1]->shutdown_barrier();
    c.nodes[1]->leave(true);
  });
  c.nodes[0]->barrier();  // meets node 1's shutdown barrier
  leaving.get();
  two_nodes::await([&] { return static_cast<std::uint64_t>(c.handlers[0].failures.load()); }, 1);
  ASSERT_EQ(c.handlers[0].failures, 1);
  std::lock_guard guard{c.handlers[0].mutex};
  EXPECT_NE(c.handlers[0].last_failure.find("node 1 shut down at barrier 1, which this node entered for barrier()"),
            std::string::npos)
      << c.handlers[0].last_failure;
}

TEST(Cluster, ABarrierTimesOutNamingTheNodesThatDidNotArrive) {
  two_nodes c(cluster_options(5, 1));
  const auto start = std::chrono::steady_clock::now();
  try {
    c.nodes[0]->barrier();
    ADD_FAILURE() << "the barrier returned without node 1";
  } catch (const gapm::comm_error& e) {
    EXPECT_NE(std::string(e.what()).find("barrier 1 timed out after 1 s: node(s) 1 did not arrive"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // Node 1 alone (node 0 has failed, but not left): released by nobody, it gives up at its
  // own deadline (1 s + a grace for rank 0 to tell first).
  EXPECT_THROW(c.nodes[1]->barrier(), gapm::comm_error);
}

// The rendezvous port takes whatever arrives: a two-part message, garbage, a hello without a
// proof. Before, the first made rank 0 read the next message's identity as a body with a
// blocking receive, and wait forever, past rendezvous_timeout_s, even when the peers came.
TEST(Rendezvous, StrayMessagesAtThePortNeitherStallNorFailIt) {
  zmq::context_t context;
  std::vector<zmq::socket_t> strangers;
  const auto start = std::chrono::steady_clock::now();
  two_nodes c(cluster_options(), [&](int port) {
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
    strangers.push_back(stranger(context, endpoint));
    strangers.back().send(zmq::str_buffer("part one"), zmq::send_flags::sndmore);
    strangers.back().send(zmq::str_buffer("part two"), zmq::send_flags::none);
    strangers.push_back(stranger(context, endpoint));
    strangers.back().send(zmq::str_buffer("garbage"), zmq::send_flags::none);
    strangers.push_back(stranger(context, endpoint));
    strangers.back().send(zmq::str_buffer("proof=0000\nrank=1\nworld_size=2\n---\n"), zmq::send_flags::none);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  c.barrier_both();
  c.leave_cleanly();
}

}  // namespace
