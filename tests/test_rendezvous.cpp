// The rendezvous with the job token, called directly with the secrets the nodes would read
// from GAPM_JOB_TOKEN: with a token every node keeps its own and all share rank 0's session;
// without one rank 0 hands one out; a node of another job, or one that disagrees about having
// a token, is refused with a message that says so and cannot fail this job's rendezvous.
// Rank 0 also resolves sync.channels=0 (auto) into one count for every node.
#include "comm/rendezvous.hpp"

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

#include <gapm/errors.hpp>
#include <gapm/options.hpp>

#include <gtest/gtest.h>

#include "comm/data_plane_choice.hpp"
#include "host/common/cores.hpp"
#include "process_cluster.hpp"

namespace {

using namespace gapm::detail;

std::string options_text() {
  gapm::Options o;
  o.tables = {{16, 2}};
  return o.to_string();
}

// rendezvous() directly, with the secrets the nodes would read from GAPM_JOB_TOKEN.
struct rendezvous_call {
  int port;
  std::string options = options_text();
  rejection_log log{0};

  std::future<rendezvous_result> join(int rank, std::optional<job_secret> secret, double timeout_s = 10,
                                      int world = 2, int cores = 1, std::string host = "127.0.0.1") {
    return std::async(std::launch::async, [this, rank, secret, timeout_s, world, cores, host] {
      zmq::context_t context;
      cluster_env env{rank, world, 0, "127.0.0.1", port, "test"};
      node_hello hello{rank, world, "tcp://" + host + ":" + std::to_string(1000 + rank), "cpu", "int64", options,
                       "tcp://" + host + ":" + std::to_string(2000 + rank), "", cores, cores};
      return rendezvous(context, env, hello, timeout_s, secret, log);
    });
  }
};

TEST(Rendezvous, WithATokenEveryNodeKeepsItsOwnSecretAndShareTheSession) {
  rendezvous_call r{gapm::testing::free_port()};
  const auto secret = job_secret::from_token("a token of twenty characters");
  auto zero = r.join(0, secret), one = r.join(1, secret);
  const auto a = zero.get(), b = one.get();
  EXPECT_FALSE(a.handed_out);
  EXPECT_FALSE(b.handed_out);
  EXPECT_EQ(a.session, b.session);
  EXPECT_EQ(to_hex(b.secret.bytes()), to_hex(secret.bytes()));
  ASSERT_EQ(b.book.size(), 2u);
  EXPECT_EQ(b.book[1].data, "tcp://127.0.0.1:1001");
}

TEST(Rendezvous, WithoutATokenRankZeroHandsOneOut) {
  rendezvous_call r{gapm::testing::free_port()};
  auto zero = r.join(0, std::nullopt), one = r.join(1, std::nullopt);
  const auto a = zero.get(), b = one.get();
  EXPECT_TRUE(a.handed_out);
  EXPECT_TRUE(b.handed_out);
  EXPECT_EQ(to_hex(a.secret.bytes()), to_hex(b.secret.bytes()));
  EXPECT_EQ(a.session, b.session);
}

// A node of another job (another token) meeting at the same port is refused with a message
// of its own, and does not disturb the rendezvous of this job.
TEST(Rendezvous, ANodeWithAnotherTokenIsRefusedAndCannotFailTheJob) {
  rendezvous_call r{gapm::testing::free_port()};
  const auto ours = job_secret::from_token("the token of this job, long enough");
  const auto theirs = job_secret::from_token("the token of another job, long enough");
  auto zero = r.join(0, ours);
  try {
    r.join(1, theirs).get();
    ADD_FAILURE() << "a node with another token joined";
  } catch (const gapm::comm_error& e) {
    EXPECT_NE(std::string(e.what()).find("its GAPM_JOB_TOKEN differs from rank 0's"), std::string::npos) << e.what();
  }
  try {
    r.join(1, std::nullopt).get();
    ADD_FAILURE() << "a node without a token joined";
  } catch (const gapm::comm_error& e) {
    EXPECT_NE(std::string(e.what()).find("this node has no GAPM_JOB_TOKEN, but rank 0 has one"), std::string::npos)
        << e.what();
  }
  auto one = r.join(1, ours);
  EXPECT_EQ(zero.get().book.size(), 2u);
  EXPECT_EQ(one.get().book.size(), 2u);
  EXPECT_EQ(r.log.count(), 2u);
}

TEST(Rendezvous, ANodeWithATokenRefusesARankZeroWithout) {
  rendezvous_call r{gapm::testing::free_port()};
  auto zero = r.join(0, std::nullopt, 2);
  try {
    r.join(1, job_secret::from_token("a token of twenty characters")).get();
    ADD_FAILURE() << "joined";
  } catch (const gapm::comm_error& e) {
    EXPECT_NE(std::string(e.what()).find("this node has GAPM_JOB_TOKEN, but rank 0 has none"), std::string::npos)
        << e.what();
  }
  try {
    (void)zero.get();
    ADD_FAILURE() << "rank 0 joined alone";
  } catch (const gapm::comm_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing rank(s) 1 (1 message(s) were refused"), std::string::npos) << e.what();
  }
}

// Without a token anybody can reach the port; a hello for another world size or for a rank
// that has joined already used to fail the whole job. Now only its sender is refused.
TEST(Rendezvous, AHelloForAnotherWorldOrATakenRankIsRefusedAloneAndTheJobStillJoins) {
  rendezvous_call r{gapm::testing::free_port()};
  auto zero = r.join(0, std::nullopt, 10, 3);
  auto expect_refused = [](std::future<rendezvous_result> joining, const std::string& words) {
    try {
      (void)joining.get();
      ADD_FAILURE() << "joined";
    } catch (const gapm::comm_error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_refused(r.join(1, std::nullopt, 10, 2), "for a world of 2 nodes; node 0 says 3");
  auto one = r.join(1, std::nullopt, 10, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // rank 1's hello is in (loopback)
  expect_refused(r.join(1, std::nullopt, 10, 3), "rank 1 has joined already");
  auto two = r.join(2, std::nullopt, 10, 3);
  EXPECT_EQ(zero.get().book.size(), 3u);
  EXPECT_EQ(one.get().book.size(), 3u);
  EXPECT_EQ(two.get().book.size(), 3u);
  EXPECT_EQ(r.log.count(), 2u);
}

// --- sync.channels=0 (auto) ------------------------------------------------------------------

TEST(SyncChannels, AutoGivesEachChannelTwoCoresOfAProcessBetweenOneAndFour) {
  // (CPUs in the process's mask, CPUs of the machine, gapm processes on the machine)
  EXPECT_EQ(auto_sync_channels(1, 1, 1), 1);
  EXPECT_EQ(auto_sync_channels(2, 2, 1), 1);
  EXPECT_EQ(auto_sync_channels(2, 2, 2), 1);  // this CI machine: 2 cores, 2 processes
  EXPECT_EQ(auto_sync_channels(4, 4, 1), 2);
  EXPECT_EQ(auto_sync_channels(6, 6, 1), 2);  // a power of two
  EXPECT_EQ(auto_sync_channels(8, 8, 1), 4);
  EXPECT_EQ(auto_sync_channels(128, 128, 1), 4);
  EXPECT_EQ(auto_sync_channels(16, 16, 8), 1);  // 8 GPUs' processes on 16 cores
  EXPECT_EQ(auto_sync_channels(64, 64, 8), 4);
  EXPECT_EQ(auto_sync_channels(8, 64, 8), 4);   // pinned by the launcher: the mask is the share
  EXPECT_EQ(auto_sync_channels(2, 64, 4), 1);   // pinned to fewer cores than the machine's share
  EXPECT_EQ(auto_sync_channels(0, 0, 0), 1);
}

node_hello hello_from(const std::string& host, int cores, const std::string& options = options_text()) {
  node_hello hello;
  hello.endpoint = "tcp://" + host + ":4000";
  hello.cores = cores;  // not pinned: the mask is the whole machine
  hello.machine_cores = cores;
  hello.options = options;
  return hello;
}

TEST(SyncChannels, NodesAgreeOnTheFewestAnyWantsCountingTheProcessesOnItsHost) {
  // Two processes on a 16-core host want 4 each; one on a 4-core host wants 2.
  EXPECT_EQ(agreed_sync_channels({hello_from("10.0.0.1", 16), hello_from("10.0.0.1", 16), hello_from("10.0.0.2", 4)}), 2);
  // Three processes share an 8-core host: 2 cores each, 1 channel.
  EXPECT_EQ(agreed_sync_channels({hello_from("10.0.0.1", 8), hello_from("10.0.0.1", 8), hello_from("10.0.0.1", 8)}), 1);
  EXPECT_EQ(agreed_sync_channels({hello_from("10.0.0.1", 32), hello_from("10.0.0.2", 32)}), 4);
}

TEST(SyncChannels, AnExplicitCountIsKept) {
  gapm::Options o;
  o.tables = {{16, 2}};
  o.sync_channels = 8;
  EXPECT_EQ(agreed_sync_channels({hello_from("10.0.0.1", 1, o.to_string()), hello_from("10.0.0.1", 1, o.to_string())}), 8);
}

TEST(SyncChannels, EveryNodeLearnsTheSameCountAtTheRendezvous) {
  rendezvous_call r{gapm::testing::free_port()};
  // Hosts are told apart by the endpoints' addresses (both are this machine's loopback).
  auto zero = r.join(0, std::nullopt, 10, 2, 16, "127.0.0.1"), one = r.join(1, std::nullopt, 10, 2, 4, "127.0.0.2");
  const auto a = zero.get(), b = one.get();
  EXPECT_EQ(a.sync_channels, 2);
  EXPECT_EQ(b.sync_channels, 2);
}

// --- The data plane (comm/data_plane_choice.hpp) ---

node_hello gpu_node(int rank, const std::string& gpu, const std::string& plane = "nccl",
                    gapm::data_plane_kind wanted = gapm::data_plane_kind::auto_select) {
  gapm::Options o;
  o.tables = {{16, 2}};
  o.data_plane = wanted;
  node_hello hello = hello_from("10.0.0.1", 4, o.to_string());
  hello.rank = rank;
  hello.device = gpu;
  hello.plane = plane;
  return hello;
}

TEST(DataPlane, AutoTakesNcclWhenEveryNodeHasAGpuOfItsOwnAndTheLinks) {
  const auto choice = choose_data_plane({gpu_node(0, "GPU-a"), gpu_node(1, "GPU-b"), gpu_node(2, "GPU-c")});
  EXPECT_TRUE(choice.nccl);
  EXPECT_TRUE(choice.refusal.empty());
  EXPECT_NE(choice.why.find("3 GPUs"), std::string::npos) << choice.why;
}

TEST(DataPlane, AutoFallsBackToTcpAndSaysWhy) {
  auto check = [](const std::vector<node_hello>& nodes, const std::string& reason) {
    const auto choice = choose_data_plane(nodes);
    EXPECT_FALSE(choice.nccl);
    EXPECT_TRUE(choice.refusal.empty());
    EXPECT_NE(choice.why.find(reason), std::string::npos) << choice.why;
  };
  check({gpu_node(0, "GPU-a"), gpu_node(1, "")}, "node 1 keeps its rows in host memory");
  check({gpu_node(0, "GPU-a"), gpu_node(1, "GPU-b", "")}, "node 1's gapm is built without NCCL");
  check({gpu_node(0, "GPU-a"), gpu_node(1, "GPU-a")}, "nodes 0 and 1 share GPU GPU-a");
  check({gpu_node(0, "GPU-a"), gpu_node(1, "GPU-b", "emulated-nccl")}, "node 1 has the 'emulated-nccl' links");
  const auto told = choose_data_plane({gpu_node(0, "GPU-a", "nccl", gapm::data_plane_kind::tcp),
                                       gpu_node(1, "GPU-b", "nccl", gapm::data_plane_kind::tcp)});
  EXPECT_FALSE(told.nccl);
  EXPECT_EQ(told.why, "option data_plane=tcp");
}

TEST(DataPlane, AskingForNcclWhereItCannotBeHadIsRefusedWithTheReason) {
  const auto choice = choose_data_plane({gpu_node(0, "GPU-a", "nccl", gapm::data_plane_kind::nccl),
                                         gpu_node(1, "GPU-a", "nccl", gapm::data_plane_kind::nccl)});
  EXPECT_FALSE(choice.nccl);
  EXPECT_NE(choice.refusal.find("option data_plane=nccl, but nodes 0 and 1 share GPU GPU-a"), std::string::npos)
      << choice.refusal;
  const auto fine = choose_data_plane({gpu_node(0, "GPU-a", "nccl", gapm::data_plane_kind::nccl),
                                       gpu_node(1, "GPU-b", "nccl", gapm::data_plane_kind::nccl)});
  EXPECT_TRUE(fine.nccl);
}

}  // namespace
