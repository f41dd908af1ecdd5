// Scenario of fused optimizer steps across nodes: whether a key is local, a replica, moving or
// remote, every step lands exactly once. With integer gradients the SGD parameters (lr = 1)
// and the AdaGrad accumulators (sums of g²) are exact, whatever the order of the steps.
#include "scenario.hpp"

#include <map>
#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;

constexpr std::uint64_t keys_per_table = 300;
constexpr std::uint32_t dim = 2;

struct call {
  std::vector<key_type> keys;
  std::vector<double> grads;
};

// The deterministic calls of one worker (replayed by every node to know the totals).
call call_at(int rank, int worker, int i) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(rank * 1000 + worker) * 100003u + static_cast<std::uint64_t>(i));
  call c;
  const bool sgd_table = i % 2 == 0;
  for (int k = 0; k < 6; ++k) c.keys.push_back((sgd_table ? 0 : keys_per_table) + rng() % keys_per_table);
  for (std::size_t v = 0; v < c.keys.size() * dim; ++v) c.grads.push_back(static_cast<double>(rng() % 7) - 3);
  return c;
}

GAPM_SCENARIO(optimizer_steps) {
  gapm::Options o;
  o.workers = 2;
  o.tables = {{keys_per_table, dim}, {keys_per_table, 2 * dim}};  // SGD rows, AdaGrad rows
  gapm::Node<double> node(gapm::Options::from_env(o));
  const int iterations = env_int("SCENARIO_ITERATIONS", 2000);
  run_workers(node, [&](gapm::Worker<double>& w) {
    for (int i = 0; i < iterations; ++i) {
      const call c = call_at(node.rank(), w.id(), i);
      // Intent ahead for the keys of a later call (most of them): replicas and relocations.
      if (i % 4 != 0) {
        const call later = call_at(node.rank(), w.id(), i + 10);
        w.intent(later.keys.data(), later.keys.size(), w.clock() + 10, w.clock() + 11);
      }
      if (i % 2 == 0) w.apply_sgd(c.keys.data(), c.keys.size(), c.grads.data(), 1.0);
      else w.apply_adagrad(c.keys.data(), c.keys.size(), c.grads.data(), 0.01);
      w.advance_clock();
    }
    quiesce(w);
    if (w.id() == 0) {
      // Replay every worker's calls: SGD parameters are -sum(g); accumulators sum (per call
      // summed g)^2.
      std::map<key_type, std::vector<double>> expected;
      for (int r = 0; r < node.world_size(); ++r)
        for (int v = 0; v < node.options().workers; ++v)
          for (int i = 0; i < iterations; ++i) {
            const call c = call_at(r, v, i);
            std::map<key_type, std::vector<double>> summed;
            for (std::size_t k = 0; k < c.keys.size(); ++k) {
              auto& g = summed.try_emplace(c.keys[k], dim, 0.0).first->second;
              for (std::uint32_t j = 0; j < dim; ++j) g[j] += c.grads[k * dim + j];
            }
            for (const auto& [key, g] : summed) {
              auto& e = expected.try_emplace(key, dim, 0.0).first->second;
              for (std::uint32_t j = 0; j < dim; ++j) e[j] += i % 2 == 0 ? -g[j] : g[j] * g[j];
            }
          }
      for (const auto& [key, want] : expected) {
        std::vector<double> row(node.row_length(key));
        w.wait(w.pull(&key, 1, row.data()));
        const std::size_t at = key < keys_per_table ? 0 : dim;  // SGD: the parameters; AdaGrad: the accumulators
        for (std::uint32_t j = 0; j < dim; ++j)
          expect_equal(row[at + j], want[j], "key " + std::to_string(key) + "[" + std::to_string(at + j) + "]");
      }
    }
    w.finalize();
  });
  std::cout << node.stats().summary();
  node.shutdown();
  return exit_code();
}

}  // namespace
