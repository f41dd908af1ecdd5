// Scenarios of replica deltas: values whose square underflows, NaN (a norm would miss them),
// replicas nothing changes, and deltas held back by sync.threshold.
#include "scenario.hpp"

#include <cmath>
#include <limits>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;

// Two nodes both intend keys 2, 4 and 6 (homed on node 0), so node 1 holds replicas and node
// 0 keeps the main copies. Node 1 pushes deltas whose L2 norm is 0 in double arithmetic
// (1e-200 squared underflows) or NaN; keys 2 and 4 keep their replica, key 6's intent ends on
// node 1, so its replica is dropped with its last delta. Every node must read them exactly.
GAPM_SCENARIO(tiny_deltas) {
  gapm::Options o;
  o.tables = {{12, 2}};
  gapm::Node<double> node(gapm::Options::from_env(o));
  gapm::Worker<double> w(node, 0);
  const std::vector<key_type> shared{2, 4}, dropped{6};
  constexpr gapm::clock_type short_intent = 5;
  w.intent(shared.data(), shared.size(), 0, gapm::CLOCK_MAX);
  w.intent(dropped.data(), dropped.size(), 0, node.rank() == 1 ? short_intent : gapm::CLOCK_MAX);
  quiesce(w);
  for (key_type k : {2, 4, 6}) expect_true(is_local(node, w, k), "key " + std::to_string(k) + " is local");
  const double tiny[2] = {1e-200, -3e-170};
  const double nan[2] = {std::numeric_limits<double>::quiet_NaN(), 0};
  if (node.rank() == 1) {
    w.push(&shared[0], 1, tiny);
    w.push(&shared[1], 1, nan);
    w.push(&dropped[0], 1, tiny);
  }
  quiesce(w);
  while (w.clock() < short_intent) w.advance_clock();  // node 1's intent for key 6 ends
  quiesce(w);
  quiesce(w);
  for (key_type k : {2, 6}) {
    double row[2];
    w.wait(w.pull(&k, 1, row));
    expect_equal(row[0], tiny[0], "key " + std::to_string(k) + "[0]");
    expect_equal(row[1], tiny[1], "key " + std::to_string(k) + "[1]");
  }
  double row[2];
  w.wait(w.pull(&shared[1], 1, row));
  expect_true(std::isnan(row[0]), "key 4[0] is NaN, got " + std::to_string(row[0]));
  w.finalize();
  node.shutdown();
  return exit_code();
}

// Replicas that nothing changes cost their owner no answer bytes (issue: "the owner answers
// every replica entry even when nothing changed"). Node 0 intends the 1,000 keys homed on it,
// then node 1 does too (so the owner replicates rather than relocates): node 1 holds 1,000
// replicas; nobody pushes. Over 20 more sync rounds node 1's
// refresh requests still go out (each names its replicas), but node 0's answers carry only
// how many entries it handled: far below one answer entry (17+ bytes) per replica and round.
GAPM_SCENARIO(quiet_replicas) {
  constexpr std::uint64_t keys = 2000;
  gapm::Options o;
  o.tables = {{keys, 4}};
  gapm::Node<double> node(gapm::Options::from_env(o));
  gapm::Worker<double> w(node, 0);
  if (node.world_size() != 2) throw gapm::logic_error("the quiet_replicas scenario needs exactly 2 nodes");
  std::vector<key_type> homed_on_zero;
  for (key_type k = 0; k < keys; k += 2) homed_on_zero.push_back(k);
  if (node.rank() == 0) w.intent(homed_on_zero.data(), homed_on_zero.size(), 0, gapm::CLOCK_MAX);
  quiesce(w);
  if (node.rank() == 1) w.intent(homed_on_zero.data(), homed_on_zero.size(), 0, gapm::CLOCK_MAX);
  quiesce(w);
  if (node.rank() == 1) expect_equal<std::uint64_t>(node.stats().replicas_created, homed_on_zero.size(), "replicas on node 1");
  const gapm::Stats before = node.stats();
  for (int i = 0; i < 10; ++i) w.wait_sync();  // 20 rounds on every channel of this node
  const gapm::Stats after = node.stats();
  if (node.rank() == 1) {
    const double rounds = static_cast<double>(after.sync_rounds - before.sync_rounds);
    const double received = static_cast<double>(after.bytes_received - before.bytes_received);
    const double per_replica_round = received / rounds / (static_cast<double>(homed_on_zero.size()) / node.options().sync_channels);
    std::cout << "node 1: " << rounds << " rounds, " << received << " bytes in " << (after.messages_received - before.messages_received) << " messages, " << per_replica_round
              << " bytes per replica and round\n";
    expect_true(rounds >= 20, "at least 20 rounds");
    expect_true(per_replica_round < 1.0, "the owner answered up-to-date replicas with " +
                                             std::to_string(per_replica_round) + " bytes each per round");
  }
  quiesce(w);
  w.finalize();
  node.shutdown();
  return exit_code();
}

// sync.threshold > 0 holds small deltas back in the replica, where they add up until their
// norm reaches the threshold (then they travel whole) or the replica is dropped (its last delta
// carries them). int64 rows of one value, threshold 5: node 1 pushes 1 at a time into its
// replica of key 2, whose main copy node 0 keeps (it intended the key first).
GAPM_SCENARIO(held_deltas) {
  gapm::Options o;
  o.tables = {{8, 1}};
  o.sync_threshold = 5;
  gapm::Node<std::int64_t> node(gapm::Options::from_env(o));
  gapm::Worker<std::int64_t> w(node, 0);
  if (node.world_size() != 2) throw gapm::logic_error("the held_deltas scenario needs exactly 2 nodes");
  const key_type key = 2;  // homed on node 0
  constexpr gapm::clock_type replica_ends = 3;
  if (node.rank() == 0) w.intent(&key, 1, 0, gapm::CLOCK_MAX);
  quiesce(w);
  if (node.rank() == 1) w.intent(&key, 1, 0, replica_ends);
  quiesce(w);
  expect_true(is_local(node, w, key), "key 2 is local on node " + std::to_string(node.rank()));
  // Every node takes part; node 0 reads its main copy once the rounds have run.
  auto main_copy_reads = [&](std::int64_t want, const std::string& when) {
    quiesce(w);
    if (node.rank() == 0) {
      std::int64_t value = -1;
      w.wait(w.pull(&key, 1, &value));
      expect_equal(value, want, "the main copy " + when);
    }
    quiesce(w);
  };
  const std::int64_t one = 1;
  for (int pushed = 1; pushed <= 4; ++pushed) {
    if (node.rank() == 1) w.wait(w.push(&key, 1, &one));
    main_copy_reads(0, "after " + std::to_string(pushed) + " pushes held back in the replica");
  }
  if (node.rank() == 1) w.wait(w.push(&key, 1, &one));
  main_copy_reads(5, "once the held deltas reach the threshold");
  if (node.rank() == 1)
    for (int i = 0; i < 2; ++i) w.wait(w.push(&key, 1, &one));
  main_copy_reads(5, "while 2 more are held back");
  while (w.clock() < replica_ends) w.advance_clock();  // node 1's replica goes, with its last delta
  main_copy_reads(7, "after the replica was dropped");
  if (node.rank() == 1) expect_equal<std::uint64_t>(node.stats().replicas_dropped, 1, "replicas dropped on node 1");
  w.finalize();
  node.shutdown();
  return exit_code();
}

}  // namespace
