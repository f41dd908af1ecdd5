// Scenarios of intent lifetime: a long run with a moving working set keeps the registered
// intents bounded, whatever the keys' roles (most keys here move to the one node that
// intends them and become main copies there); a worker that goes leaves no intent behind.
#include "scenario.hpp"

#include <optional>
#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;

GAPM_SCENARIO(intent_memory) {
  gapm::Options o;
  o.tables = {{200000, 2}};
  gapm::Node<std::int64_t> node(gapm::Options::from_env(o));
  gapm::Worker<std::int64_t> w(node, 0);
  const long clocks = env_int("SCENARIO_CLOCKS", 3000);
  constexpr std::size_t batch = 100;
  constexpr long ahead = 20, length = 5;
  auto keys_at = [&](long c) {  // a fresh batch of keys every clock: the working set moves on
    std::mt19937_64 rng(static_cast<std::uint64_t>(c) * 1000003u + static_cast<std::uint64_t>(node.rank()));
    std::vector<key_type> keys(batch);
    for (auto& k : keys) k = rng() % 200000;
    return keys;
  };
  std::vector<std::int64_t> rows(batch * 2), ones(batch * 2, 1);
  std::uint64_t entries_mid = 0, bytes_mid = 0, entries_peak = 0;
  for (long c = 0; c < clocks; ++c) {
    w.intent(keys_at(c + ahead), c + ahead, c + ahead + length);
    const auto keys = keys_at(c);
    w.wait(w.pull(keys.data(), keys.size(), rows.data()));
    w.push(keys.data(), keys.size(), ones.data());
    w.advance_clock();
    const auto stats = node.stats();
    entries_peak = std::max(entries_peak, stats.intent_entries);
    if (c == clocks / 3) {
      entries_mid = stats.intent_entries;
      bytes_mid = stats.intent_bytes;
    }
  }
  const auto end = node.stats();
  std::cout << "intent entries: mid " << entries_mid << ", end " << end.intent_entries << ", peak " << entries_peak
            << "; bytes: mid " << bytes_mid << ", end " << end.intent_bytes << "; relocations " << end.relocations
            << "\n";
  // At most the intents of the clocks in flight (ahead + length clocks of `batch` keys).
  const std::uint64_t bound = (ahead + length + 10) * batch;
  expect_true(entries_peak <= bound, "intent entries peaked at " + std::to_string(entries_peak));
  expect_true(end.intent_bytes <= 2 * bytes_mid + 64 * 1024, "intent memory grew from " + std::to_string(bytes_mid) +
                                                                  " to " + std::to_string(end.intent_bytes) + " bytes");
  expect_true(end.relocations > 0, "keys moved to the node that intends them");
  quiesce(w);
  w.finalize();
  node.shutdown();
  return exit_code();
}

// Worker ids are reusable: a worker that goes without finalize() leaves no intent to the next
// worker of its id. Node 0 intends key 2 (homed there) for good; node 1's first worker intends
// it too (a replica there), then goes; node 1's next worker of id 0 intends nothing, so the
// replica is dropped.
GAPM_SCENARIO(reused_worker_id) {
  gapm::Options o;
  o.tables = {{8, 1}};
  gapm::Node<std::int64_t> node(gapm::Options::from_env(o));
  if (node.world_size() != 2) throw gapm::logic_error("the reused_worker_id scenario needs exactly 2 nodes");
  const key_type key = 2;
  std::optional<gapm::Worker<std::int64_t>> w(std::in_place, node, 0);
  if (node.rank() == 0) w->intent(&key, 1, 0, gapm::CLOCK_MAX);
  quiesce(*w);
  if (node.rank() == 1) w->intent(&key, 1, 0, gapm::CLOCK_MAX);
  quiesce(*w);
  expect_true(is_local(node, *w, key), "key 2 is local on node " + std::to_string(node.rank()));
  if (node.rank() == 1) {  // gone without finalize(); its id is taken again at once
    w.reset();
    w.emplace(node, 0);
  }
  quiesce(*w);
  quiesce(*w);
  if (node.rank() == 1) {
    expect_equal<std::uint64_t>(node.stats().replicas_dropped, 1, "replicas dropped on node 1");
    expect_true(!is_local(node, *w, key), "key 2 is no longer local on node 1");
  }
  w->finalize();
  node.shutdown();
  return exit_code();
}

}  // namespace
