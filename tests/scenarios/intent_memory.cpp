// Scenario of intent memory: a long run with a moving working set keeps the registered
// intents bounded, whatever the keys' roles (most keys here move to the one node that
// intends them and become main copies there).
#include "scenario.hpp"

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

}  // namespace
