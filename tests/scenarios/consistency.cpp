// Scenario of the consistency model (docs/ARCHITECTURE.md, "Consistency"): a worker reads its
// own acknowledged writes once wait_sync() has returned after them, whatever the key's
// replicas and relocations do meanwhile. Each worker owns one column of every row (it alone
// writes there), so the column must equal exactly the worker's own count.
#include "scenario.hpp"

#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using value = std::int64_t;

GAPM_SCENARIO(read_your_writes) {
  constexpr std::uint64_t keys = 24;
  gapm::Options o;
  o.workers = 2;
  const int columns = 4 * o.workers;  // up to 4 nodes
  o.tables = {{keys, static_cast<std::uint32_t>(columns)}};
  gapm::Node<value> node(gapm::Options::from_env(o));
  const int iterations = env_int("SCENARIO_ITERATIONS", 400);
  std::atomic<std::uint64_t> early_misses{0};
  run_workers(node, [&](gapm::Worker<value>& w) {
    const int column = node.rank() * node.options().workers + w.id();
    std::mt19937_64 rng(static_cast<std::uint64_t>(column) * 7919 + 1);
    std::vector<value> mine(keys, 0), delta(static_cast<std::size_t>(columns), 0), row(delta.size());
    delta[static_cast<std::size_t>(column)] = 1;
    for (int i = 0; i < iterations; ++i) {
      const key_type k = rng() % keys;
      // Intent churn: short intents on random keys make replicas come and go, keys move.
      if (rng() % 3 == 0) {
        const key_type other = rng() % keys;
        w.intent(&other, 1, w.clock() + static_cast<long>(rng() % 4), w.clock() + 4 + static_cast<long>(rng() % 8));
      }
      w.wait(w.push(&k, 1, delta.data()));
      ++mine[k];
      w.wait(w.pull(&k, 1, row.data()));  // without wait_sync: may lag (counted, not promised)
      if (row[static_cast<std::size_t>(column)] != mine[k]) ++early_misses;
      w.wait_sync();
      w.wait(w.pull(&k, 1, row.data()));  // promised: the worker's own writes are all there
      expect_equal(row[static_cast<std::size_t>(column)], mine[k],
                   "worker " + std::to_string(column) + " reads key " + std::to_string(k) + " after wait_sync");
      w.advance_clock();
    }
    quiesce(w);
    w.finalize();
  });
  std::cout << "reads that missed an own write without wait_sync: " << early_misses << " of "
            << iterations * node.options().workers << "\n";
  node.shutdown();
  return exit_code();
}

}  // namespace
