// quickstart: pull, push, intent and clocks in one page.
//
// Each worker thread trains a toy "embedding" model: in every clock it reads a few rows,
// pushes an additive update to them, and tells gapm 50 clocks ahead which rows it will need
// then (intent), so that gapm can move or replicate them here just in time. On one node every key is local; started with `gapm-run -n 3 -- quickstart`
// the same program runs on three nodes. With int64 values the final check is exact: every
// row must equal the sum of what all workers pushed to it.
//
//   quickstart [--gapm.workers=2] [--clocks=2000] [any --gapm.* option]
#include <gapm/gapm.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::uint64_t num_keys = 1000;
constexpr std::uint32_t row_length = 4;
constexpr std::size_t batch = 8;
constexpr long ahead = 50;  // intent is signalled this many clocks before the access

long clocks_from_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--clocks=", 9) == 0) return std::atol(argv[i] + 9);
  return 2000;
}

// The keys worker `w` of node `rank` touches at clock `c`: a deterministic pseudo-random batch.
std::vector<gapm::key_type> batch_at(int rank, int w, long c) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(rank * 1000003 + w * 7919) + static_cast<std::uint64_t>(c));
  std::vector<gapm::key_type> keys(batch);
  for (auto& k : keys) k = rng() % num_keys;
  return keys;
}

}  // namespace

int main(int argc, char** argv) try {
  gapm::Options base;
  base.tables = {{num_keys, row_length}};
  base.workers = 2;
  const gapm::Options options = gapm::Options::parse(argc, argv, gapm::Options::from_env(base));
  const long clocks = clocks_from_args(argc, argv);

  gapm::Node<std::int64_t> node(options);
  std::cout << "node " << node.rank() << " of " << node.world_size() << ": " << node.num_keys() << " keys x "
            << row_length << " values, " << options.workers << " workers, store '" << node.store_name() << "'\n";

  // Every row ends up holding the number of times any worker of any node touched it.
  std::vector<std::int64_t> expected(num_keys, 0);
  for (int r = 0; r < node.world_size(); ++r)
    for (int w = 0; w < options.workers; ++w)
      for (long c = 0; c < clocks; ++c)
        for (auto k : batch_at(r, w, c)) ++expected[k];

  std::uint64_t wrong = 0;
  std::vector<std::thread> threads;
  for (int w = 0; w < options.workers; ++w)
    threads.emplace_back([&, w] {
      gapm::Worker<std::int64_t> worker(node, w);
      std::vector<std::int64_t> rows(batch * row_length);
      std::vector<std::int64_t> ones(batch * row_length, 1);
      for (long c = 0; c < ahead; ++c) worker.intent(batch_at(node.rank(), w, c), c);  // the first clocks
      for (long c = 0; c < clocks; ++c) {
        auto keys = batch_at(node.rank(), w, c);
        worker.intent(batch_at(node.rank(), w, c + ahead), c + ahead);  // keys of clock c + ahead, announced now
        worker.wait(worker.pull(keys.data(), keys.size(), rows.data()));
        worker.push(keys.data(), keys.size(), ones.data());     // value += 1, additive
        worker.advance_clock();
        if (w == 0 && (c + 1) % std::max(clocks / 4, 1L) == 0)
          std::cout << "node " << node.rank() << " worker 0: clock " << worker.clock() << " of " << clocks << "\n";
      }
      // Quiescence: every update everywhere has landed once all have passed this recipe.
      worker.wait_all();
      worker.wait_sync();
      worker.barrier();
      worker.wait_sync();
      worker.barrier();
      if (w == 0) {
        std::vector<gapm::key_type> all(num_keys);
        for (gapm::key_type k = 0; k < num_keys; ++k) all[k] = k;
        std::vector<std::int64_t> values(num_keys * row_length);
        worker.wait(worker.pull(all.data(), all.size(), values.data()));
        for (gapm::key_type k = 0; k < num_keys; ++k)
          for (std::uint32_t j = 0; j < row_length; ++j) wrong += values[k * row_length + j] != expected[k];
      }
      worker.finalize();  // no node leaves while another still reads from it
    });
  for (auto& t : threads) t.join();

  std::cout << "node " << node.rank() << ": "
            << (wrong == 0 ? "all rows exact" : "WRONG rows: " + std::to_string(wrong)) << std::endl;
  node.shutdown();  // prints the node's counters (option print_stats)
  return wrong == 0 ? 0 : 1;
} catch (const gapm::error& e) {
  std::cerr << e.what() << "\n";
  return 2;
}
