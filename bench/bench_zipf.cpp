// End-to-end: a sparse training loop on a Zipf(1.1) workload, run as one process per node
// (bench/run_e2e.sh starts it under gapm-run, once classic and once adaptive, and prints the
// ratio). Each worker, per clock: pull a batch of rows, push a delta to each, advance the
// clock; with intent on, it announces each batch `--ahead` clocks before using it.
//
//   bench_zipf [--clocks=N] [--batch=B] [--ahead=A] [--gapm.techniques=none|all ...]
#include <gapm/gapm.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

namespace {

long arg(int argc, char** argv, const char* name, long fallback) {
  const std::size_t len = std::strlen(name);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') return std::atol(argv[i] + len + 1);
  return fallback;
}

// Zipf(s) over [0, n) by inverting a precomputed CDF.
class zipf_keys {
 public:
  zipf_keys(std::uint64_t n, double s) : cdf_(n) {
    double sum = 0;
    for (std::uint64_t k = 0; k < n; ++k) cdf_[k] = (sum += 1.0 / std::pow(static_cast<double>(k + 1), s));
    for (auto& c : cdf_) c /= sum;
  }
  gapm::key_type operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<gapm::key_type>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace

int main(int argc, char** argv) try {
  const long clocks = arg(argc, argv, "--clocks", 3000);
  const auto batch = static_cast<std::size_t>(arg(argc, argv, "--batch", 64));
  const long ahead = arg(argc, argv, "--ahead", 100);
  constexpr std::uint64_t num_keys = 100000;
  constexpr std::uint32_t row = 16;
  gapm::Options base;
  base.tables = {{num_keys, row}};
  base.workers = 2;
  const gapm::Options options = gapm::Options::parse(argc, argv, gapm::Options::from_env(base));
  gapm::Node<float> node(options);
  const zipf_keys zipf(num_keys, 1.1);
  // A worker's batch at clock c: a hash-permuted Zipf draw, so that hot keys spread over nodes.
  auto batch_at = [&](int worker, long c) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(node.rank() * 7919 + worker * 104729) * 1000003 +
                        static_cast<std::uint64_t>(c));
    std::vector<gapm::key_type> keys(batch);
    for (auto& k : keys) k = (zipf(rng) * 2654435761u) % num_keys;
    return keys;
  };

  std::vector<std::thread> threads;
  double seconds = 0;
  for (int w = 0; w < options.workers; ++w)
    threads.emplace_back([&, w] {
      gapm::Worker<float> worker(node, w);
      std::vector<float> rows(batch * row), deltas(batch * row, 0.001f);
      for (long c = 0; c < ahead; ++c) worker.intent(batch_at(w, c), c);
      worker.barrier();
      const auto start = std::chrono::steady_clock::now();
      for (long c = 0; c < clocks; ++c) {
        worker.intent(batch_at(w, c + ahead), c + ahead);
        auto keys = batch_at(w, c);
        worker.wait(worker.pull(keys.data(), keys.size(), rows.data()));
        worker.push(keys.data(), keys.size(), deltas.data());
        worker.advance_clock();
      }
      worker.wait_all();
      worker.barrier();
      if (w == 0) seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      worker.finalize();
    });
  for (auto& t : threads) t.join();
  const double keys_per_sec = static_cast<double>(clocks) * static_cast<double>(batch) * options.workers / seconds;
  const auto stats = node.stats();
  std::cout << "node " << node.rank() << " techniques=" << options.get("techniques") << ": " << seconds << " s, "
            << keys_per_sec << " keys/s, local pulls "
            << 100.0 * static_cast<double>(stats.pulls_local) / static_cast<double>(stats.pulls_local + stats.pulls_remote)
            << " %\n";
  node.shutdown();
  return 0;
} catch (const gapm::error& e) {
  std::cerr << e.what() << "\n";
  return 2;
}
