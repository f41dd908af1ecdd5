// Scenarios of locality: the decision rule, action timing and the sampling schemes.
#include "scenario.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using gapm::Node;
using gapm::Worker;
using value = std::int64_t;

// --- locality: the decision rule on AdaPM's reference scenario (SPEC behaviour 2) ----------

GAPM_SCENARIO(locality) {
  gapm::Options o;
  o.tables = {{36, 1}};
  Node<value> node(gapm::Options::from_env(o));
  if (node.world_size() != 3) throw gapm::logic_error("the locality scenario needs exactly 3 nodes");
  Worker<value> w(node, 0);
  const int r = node.rank();
  auto expect_local = [&](key_type k, bool want, const char* when) {
    if (is_local(node, w, k) != want)
      expect_true(false, std::string(when) + ": key " + std::to_string(k) + " local on node " + std::to_string(r));
  };
  for (key_type k = 0; k < 36; ++k) expect_local(k, k % 3 == static_cast<key_type>(r), "start");  // home = k % 3

  constexpr gapm::clock_type until = 50;
  const std::vector<key_type> first{3, 4}, second{3, 1, 6};
  if (r == 0) w.intent(first.data(), first.size(), 0, until);  // the owner of 3 intends it first
  quiesce(w);
  if (r == 2) w.intent(second.data(), second.size(), 0, until);
  quiesce(w);
  // 3: shared by nodes 0 and 2 -> replicated to 2, main copy stays on 0; 4: only node 0 -> moved
  // to 0; 1 and 6: only node 2 -> moved to 2.
  const std::map<int, std::vector<key_type>> local = {{0, {3, 4}}, {1, {}}, {2, {3, 1, 6}}};
  for (key_type k : {1, 3, 4, 6})
    expect_local(k, std::count(local.at(r).begin(), local.at(r).end(), k) > 0, "with intents");
  const auto during = node.stats();
  if (r == 2 && during.replicas_created != 1) expect_equal<value>(static_cast<value>(during.replicas_created), 1, "replicas on node 2");
  if (r == 0 && during.relocations != 1) expect_equal<value>(static_cast<value>(during.relocations), 1, "relocations to node 0");
  if (r == 2 && during.relocations != 2) expect_equal<value>(static_cast<value>(during.relocations), 2, "relocations to node 2");
  w.barrier();  // nobody ends its intents (below) before every node has read these: a slow node 2
                // would count key 3's move at the end as a third relocation

  // A remote pull hands out a ticket that wait() completes; a local multi-key pull is done.
  const key_type remote_key = r == 1 ? 4 : 2 - static_cast<key_type>(r) + 9;  // homed elsewhere, never moved
  std::vector<value> out(2);
  auto ticket = w.pull(&remote_key, 1, out.data());
  expect_true(!ticket.is_local(), "remote pull returned a local ticket");
  w.wait(ticket);
  expect_true(w.is_finished(ticket), "remote pull not finished after wait");
  const std::vector<key_type> home_keys{static_cast<key_type>(r + 9), static_cast<key_type>(r + 12)};
  expect_true(w.pull(home_keys.data(), 2, out.data()).is_local(), "local pull returned a remote ticket");

  // Intents end: replicas go, moved keys stay where they are (ownership is sticky). Key 3
  // stays on node 0, or moves to node 2 if node 0's intent ended first (node 2 was then the
  // sole requester); never to node 1.
  while (w.clock() < until) w.advance_clock();
  quiesce(w);
  quiesce(w);
  const std::map<int, std::vector<key_type>> after = {{0, {4}}, {1, {}}, {2, {1, 6}}};
  for (key_type k : {1, 4, 6})
    expect_local(k, std::count(after.at(r).begin(), after.at(r).end(), k) > 0, "after intents");
  if (r == 1) expect_local(3, false, "after intents");
  std::cout << "key 3 local: " << is_local(node, w, 3) << "\n";  // the test checks: on exactly one node
  const auto end = node.stats();
  if (end.replicas_created != end.replicas_dropped)
    expect_equal<value>(static_cast<value>(end.replicas_dropped), static_cast<value>(end.replicas_created), "replicas left");
  w.finalize();
  node.shutdown();
  return exit_code();
}

// --- timing: intents signalled well ahead make (almost) every access local -----------------

GAPM_SCENARIO(timing) {
  gapm::Options o;
  o.tables = {{2000, 4}};
  Node<value> node(gapm::Options::from_env(o));
  Worker<value> w(node, 0);
  const long clocks = env_int("SCENARIO_CLOCKS", 3000);
  const long ahead = env_int("SCENARIO_AHEAD", 400);
  // SCENARIO_SHARED=1: every node uses the same keys at the same clock, so keys are
  // replicated; else each node draws its own keys (over the same key space), so keys move.
  const bool shared = env_int("SCENARIO_SHARED", 0) != 0;
  auto keys_at = [&](long c) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(c) * 7919 + 17 + (shared ? 0 : 1000003u * static_cast<unsigned>(node.rank() + 1)));
    std::vector<key_type> keys(8);
    for (auto& k : keys) k = rng() % 2000;
    return keys;
  };
  for (long c = 0; c < ahead; ++c) w.intent(keys_at(c), c);
  quiesce(w);
  const auto before = node.stats();
  std::vector<value> rows(8 * 4);
  for (long c = 0; c < clocks; ++c) {
    w.intent(keys_at(c + ahead), c + ahead);
    auto keys = keys_at(c);
    w.wait(w.pull(keys.data(), keys.size(), rows.data()));  // at the intent's start clock
    w.advance_clock();
    std::this_thread::sleep_for(std::chrono::microseconds(100));  // a steady pace of clocks
  }
  const auto after = node.stats();
  const auto local = after.pulls_local - before.pulls_local;
  const auto total = local + after.pulls_remote - before.pulls_remote;
  std::cout << "local pulls at intent start: " << local << " of " << total << " ("
            << 100.0 * static_cast<double>(local) / static_cast<double>(total) << " %)\n"
            << "replica rounds: " << after.replica_rounds - before.replica_rounds << "\n";
  quiesce(w);
  w.finalize();
  node.shutdown();
  return 0;
}

// --- sampling: every scheme with a deterministic sampler --------------------------------------

GAPM_SCENARIO(sampling) {
  gapm::Options o;
  o.tables = {{1000, 5}};
  const gapm::Options options = gapm::Options::from_env(o);
  Node<value> node(options);
  Worker<value> w(node, 0);
  const int r = node.rank();
  // Known values: key k holds k * 100 + j.
  if (r == 0) {
    std::vector<key_type> keys(1000);
    std::vector<value> rows;
    for (key_type k = 0; k < 1000; ++k) {
      keys[k] = k;
      for (value j = 0; j < 5; ++j) rows.push_back(static_cast<value>(k) * 100 + j);
    }
    w.wait(w.set(keys.data(), keys.size(), rows.data()));
  }
  quiesce(w);
  // The sampler: a fixed sequence, skewed, a third of the keys never drawn.
  std::vector<key_type> drawn;
  auto sequence = [](std::uint64_t i) { return static_cast<key_type>((i * i * 7919 + i * 13) % 667); };
  node.set_sampler([&] { drawn.push_back(sequence(drawn.size())); return drawn.back(); });

  const auto scheme = options.sampling_scheme;
  const auto before = node.stats();
  std::vector<key_type> got;
  constexpr int samples = 2000;
  constexpr std::size_t k = 5;
  for (int s = 0; s < samples; ++s) {
    const auto id = w.prepare_sample(k, w.clock() + 2, w.clock() + 3);
    key_type keys[k];
    value rows[k * 5];
    w.advance_clock();
    w.advance_clock();
    for (std::size_t part = 0; part < k; part += std::min<std::size_t>(3, k - part)) {  // in two pulls
      const std::size_t n = std::min<std::size_t>(3, k - part);
      w.wait(w.pull_sample(id, keys + part, n, rows + part * 5));
    }
    w.finish_sample(id);
    for (std::size_t i = 0; i < k; ++i) {
      got.push_back(keys[i]);
      for (value j = 0; j < 5; ++j)
        expect_equal(rows[i * 5 + static_cast<std::size_t>(j)], static_cast<value>(keys[i]) * 100 + j, "sampled value");
    }
  }
  const auto after = node.stats();
  if (scheme == gapm::sampling_mode::naive || scheme == gapm::sampling_mode::preloc) {
    for (std::size_t i = 0; i < got.size(); ++i) expect_equal<value>(static_cast<value>(got[i]), static_cast<value>(sequence(i)), "key");
  } else if (scheme == gapm::sampling_mode::pool) {
    const std::size_t pools = (got.size() + options.sampling_pool_size * options.sampling_reuse - 1) /
                              (options.sampling_pool_size * options.sampling_reuse);
    expect_equal<value>((drawn.size()), static_cast<value>(pools * options.sampling_pool_size), "sampler calls");
    for (key_type key : got)
      expect_true(!(std::find(drawn.begin(), drawn.end(), key) == drawn.end()), "a pool key never drawn");
  } else {  // local: only local keys, in the sequence's order
    expect_equal<value>(static_cast<value>(after.pulls_remote - before.pulls_remote), 0, "remote pulls of local samples");
    std::vector<key_type> expected;
    for (key_type key : drawn)
      if (key % 3 == static_cast<key_type>(r)) expected.push_back(key);
    expected.resize(got.size());
    for (std::size_t i = 0; i < got.size(); ++i) expect_equal<value>(static_cast<value>(got[i]), static_cast<value>(expected[i]), "local key");
  }
  std::cout << "sampled " << got.size() << " keys; sampler called " << drawn.size() << " times\n";
  w.finalize();
  node.shutdown();
  return exit_code();
}

}  // namespace
