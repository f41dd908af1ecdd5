// The node's protocol handling against a peer that misbehaves (tests/fake_peer.hpp): late
// answers, answers for a worker id that was registered again, acknowledgements that claim
// too much, requests in a routing loop. The real node is rank 0 of 2; the fake is rank 1,
// the home of the odd keys.
#include <gapm/gapm.hpp>

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "fake_peer.hpp"

namespace {

using gapm::key_type;
using gapm::testing::fake_peer;
using namespace gapm::detail;
using value = std::int64_t;

gapm::Options two_node_options() {
  gapm::Options o;
  o.tables = {{10, 2}};
  o.techniques = gapm::technique_mode::none;  // no sync rounds: only the frames a test sends
  o.print_stats = false;
  o.rendezvous_timeout_s = 20;
  return o;
}

// The real node and the fake peer, joined.
struct joined {
  gapm::Options options = two_node_options();
  std::unique_ptr<gapm::Node<value>> node;
  std::unique_ptr<fake_peer> peer;

  explicit joined(gapm::technique_mode techniques = gapm::technique_mode::none, int channels = 1) {
    options.techniques = techniques;
    options.sync_channels = channels;
    const int port = fake_peer::prepare_environment();
    auto real = std::async(std::launch::async, [&] { return std::make_unique<gapm::Node<value>>(options); });
    peer = std::make_unique<fake_peer>(port, options, "int64");
    node = real.get();
  }

  // Waits until the node has received `count` more frames than `before` (and handled them).
  void await_received(std::uint64_t before, std::uint64_t count = 1) {
    for (int i = 0; i < 1000 && node->stats().messages_received < before + count; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // handled after counted
  }
};

wire::header header_of(wire::kind kind, std::uint64_t request, std::uint64_t count) {
  return {.kind = static_cast<std::uint8_t>(kind), .origin = 0, .worker = 0, .request = request, .count = count};
}

// A sync request of the fake for channel 0 of the node (round `round`), with one entry for
// `key` asking `ask`.
std::vector<std::byte> sync_request_frame(key_type key, std::uint8_t ask, std::uint64_t round) {
  const std::vector<key_type> keys{key};
  const std::vector<std::uint8_t> asks{ask};
  const std::vector<std::int64_t> versions{0};
  return wire::encode({.kind = static_cast<std::uint8_t>(wire::kind::sync_request), .origin = 1, .worker = 0,
                       .request = round, .count = 1},
                      keys, asks, versions);
}

// A pull request for key 3 (homed at the fake) that has already been forwarded `hops` times.
void send_looping_pull(fake_peer& peer, std::uint16_t hops) {
  wire::header head = header_of(wire::kind::pull_request, 99, 1);
  head.origin = 1;
  head.hops = hops;
  const std::vector<key_type> keys{3};
  const std::vector<std::uint32_t> positions{0};
  peer.send(head, keys, positions);
}

TEST(Protocol, ARequestForwardedBeyondTheHopLimitFailsTheClusterNamingTheLoop) {
  joined c;
  gapm::Worker<value> w(*c.node, 0);
  send_looping_pull(*c.peer, wire::max_hops - 1);  // still allowed: passed on with max_hops
  auto forwarded = c.peer->take(wire::kind::pull_request);
  ASSERT_TRUE(forwarded);
  EXPECT_EQ(forwarded->head.hops, wire::max_hops);
  send_looping_pull(*c.peer, wire::max_hops);
  for (int i = 0; i < 1000; ++i) {
    try {
      w.advance_clock();
    } catch (const gapm::comm_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("could not apply pull_request from node 1"), std::string::npos) << what;
      EXPECT_NE(what.find("for key 3 was forwarded " + std::to_string(wire::max_hops) + " times"), std::string::npos)
          << what;
      EXPECT_NE(what.find("routing loop"), std::string::npos) << what;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "the node did not fail";
}

TEST(Protocol, AnAnswerArrivingAfterAFailureIsNeverWrittenIntoTheCallersBuffer) {
  joined c;
  gapm::Worker<value> w(*c.node, 0);
  const key_type key = 1;
  value out[2] = {-1, -1};
  const gapm::Ticket ticket = w.pull(&key, 1, out);
  auto request = c.peer->take(wire::kind::pull_request);
  ASSERT_TRUE(request);
  send_looping_pull(*c.peer, wire::max_hops);  // fails the node
  EXPECT_THROW(w.wait(ticket), gapm::comm_error);
  // The caller has been told: `out` is its own again. The answer that arrives now must not land.
  const auto before = c.node->stats().messages_received;
  const std::vector<std::uint32_t> positions{0};
  const std::vector<value> row{7, 7};
  c.peer->send(header_of(wire::kind::pull_response, request->head.request, 1), positions, row);
  c.await_received(before);
  EXPECT_EQ(out[0], -1);
  EXPECT_EQ(out[1], -1);
}

TEST(Protocol, AWorkerRegisteredAgainUnderAnOldIdNeverReceivesTheOldAnswers) {
  joined c;
  const key_type key = 1;
  value old_out[2] = {-1, -1};
  auto old_worker = std::make_unique<gapm::Worker<value>>(*c.node, 0);
  const gapm::Ticket old_ticket = old_worker->pull(&key, 1, old_out);
  auto old_request = c.peer->take(wire::kind::pull_request);
  ASSERT_TRUE(old_request);
  old_worker.reset();  // gone without waiting for its answer

  gapm::Worker<value> w(*c.node, 0);
  value out[2] = {-1, -1};
  const gapm::Ticket ticket = w.pull(&key, 1, out);
  EXPECT_NE(ticket.id, old_ticket.id);
  auto request = c.peer->take(wire::kind::pull_request);
  ASSERT_TRUE(request);

  const std::vector<std::uint32_t> positions{0};
  auto before = c.node->stats().messages_received;
  c.peer->send(header_of(wire::kind::pull_response, old_request->head.request, 1), positions, std::vector<value>{5, 5});
  c.await_received(before);
  EXPECT_FALSE(w.is_finished(ticket));
  EXPECT_EQ(old_out[0], -1);  // the abandoned buffer is never written (`out` is the new pull's
  EXPECT_EQ(old_out[1], -1);  // and may be written at any time: the test reads it after wait)

  c.peer->send(header_of(wire::kind::pull_response, request->head.request, 1), positions, std::vector<value>{9, 8});
  w.wait(ticket);
  EXPECT_EQ(out[0], 9);
  EXPECT_EQ(out[1], 8);
}

TEST(Protocol, AWriteAckClaimingMoreKeysThanTheRequestHasIsDroppedAsMalformed) {
  joined c;
  gapm::Worker<value> w(*c.node, 0);
  const std::vector<key_type> keys{1, 3};
  const std::vector<value> deltas{1, 1, 1, 1};
  const gapm::Ticket ticket = w.push(keys.data(), keys.size(), deltas.data());
  auto request = c.peer->take(wire::kind::push_request);
  ASSERT_TRUE(request);
  auto before = c.node->stats().messages_received;
  c.peer->send(header_of(wire::kind::write_ack, request->head.request, 5));
  c.await_received(before);
  EXPECT_EQ(c.node->stats().malformed_messages, 1u);
  EXPECT_FALSE(w.is_finished(ticket));
  c.peer->send(header_of(wire::kind::write_ack, request->head.request, 2));
  w.wait(ticket);
}

TEST(Protocol, AMalformedSyncMessageIsDroppedWithoutTakingTheOthersAlong) {
  joined c(gapm::technique_mode::all, 1);  // one sync channel: every key is its
  const auto before = c.node->stats().messages_received;
  // Two requests in a row, likely handled in one batch: the first asks nothing known.
  ASSERT_TRUE(c.peer->net().send_frame(0, sync_request_frame(2, 7, 1)).ok());
  ASSERT_TRUE(c.peer->net().send_frame(0, sync_request_frame(2, 2, 2)).ok());  // a refresh of key 2 (homed here)
  c.await_received(before, 2);
  bool answered = false;
  for (int i = 0; i < 20 && !answered; ++i) {
    auto response = c.peer->take(wire::kind::sync_response, std::chrono::milliseconds(500));
    answered = response && response->head.round() == 2;
  }
  EXPECT_TRUE(answered) << "the valid request was not answered";
  EXPECT_EQ(c.node->stats().malformed_messages, 1u);
  gapm::Worker<value> w(*c.node, 0);
  EXPECT_NO_THROW(w.advance_clock());  // the node is healthy
}

}  // namespace
