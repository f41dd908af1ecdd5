// End-to-end: a sparse training loop on a synthetic Zipf workload, run as one process per
// node under gapm-run (bench/e2e/run_e2e.sh runs it in every technique mode, with and without
// the network model, and tabulates the nodes' RESULT lines). Each worker, per clock: pull a
// batch of rows, wait for them, push a delta to each row, advance the clock. With intent on
// (--ahead > 0) it announces each batch `--ahead` clocks before it uses it. Batches are Zipf
// draws over the key space, hash-permuted so that hot keys spread over the nodes; every node
// draws from the same distribution, so hot keys are wanted everywhere (replicated) and cold
// ones mostly by one node at a time (relocated).
//
//   bench_zipf [--keys=100000] [--row=16] [--batch=64] [--ahead=100] [--skew=1.1]
//              [--clocks=3000] [--duration=0] [--seed=1] [--gapm.workers=2 ...]
//   --ahead=0       no intent (what the classic server gets anyway: techniques=none ignores it)
//   --duration=S    stop each worker after S seconds even if it has not done --clocks clocks
//
// Output: one line per node, machine-readable, e.g.
//   RESULT node=0 nodes=4 workers=2 techniques=all ... seconds=3.1 keys_per_s=412000 local_pct=99.7 ...
// values_mb: the rows this node holds at the end; peak_rss_mb: the process's peak resident
// memory (VmHWM), for the memory-per-key goal; cores, sync_cores, receive_cores and
// transport_cores: the CPU this process used in the timed part, in cores, and in it gapm's sync
// threads, receive thread and transport threads (ZeroMQ I/O, heartbeats).
// keys_per_s counts the keys this node's workers pulled (and pushed) per second of the timed
// part (from the barrier after the first intents to the barrier after the last push);
// waited_clocks and wait_s: the clocks whose pull was not complete at once (some key was
// remote) and the time the workers spent waiting for them, summed over workers.
#include <gapm/gapm.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_args.hpp"

namespace {

// Peak resident memory of this process (VmHWM), in bytes; 0 where /proc is not there.
std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  return 0;
}

// --- arguments: --name=value; gapm's own --gapm.* are parsed by gapm::Options -------------

struct settings {
  std::uint64_t keys = 100000;
  std::uint32_t row = 16;
  std::size_t batch = 64;
  long ahead = 100;
  double skew = 1.1;
  long clocks = 3000;
  double duration_s = 0;
  std::uint64_t seed = 1;
};

settings parse_settings(int argc, char** argv) {
  settings s;
  bench::for_each_numeric_argument(argc, argv, [&s](const std::string& name, double value) {
    if (name == "keys") s.keys = static_cast<std::uint64_t>(value);
    else if (name == "row") s.row = static_cast<std::uint32_t>(value);
    else if (name == "batch") s.batch = static_cast<std::size_t>(value);
    else if (name == "ahead") s.ahead = static_cast<long>(value);
    else if (name == "skew") s.skew = value;
    else if (name == "clocks") s.clocks = static_cast<long>(value);
    else if (name == "duration") s.duration_s = value;
    else if (name == "seed") s.seed = static_cast<std::uint64_t>(value);
    else return false;
    return true;
  });
  if (s.keys == 0 || s.row == 0 || s.batch == 0 || s.clocks == 0)
    throw std::invalid_argument("--keys, --row, --batch and --clocks must be at least 1");
  return s;
}

// splitmix64: a cheap, well-mixed generator; seeding one per batch costs nothing.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t operator()() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }  // [0, 1)
};

// Zipf(s) over [0, n): rank r (0-based) with probability proportional to (r + 1)^-s, drawn by
// rejection-inversion (Hörmann and Derflinger, 1996) in O(1) memory, so that the benchmark
// itself does not add 8 bytes per key to the memory it measures. s = 0: uniform.
class zipf_keys {
 public:
  zipf_keys(std::uint64_t n, double s)
      : n_{n}, s_{s}, h_first_{H(1.5) - 1.0}, h_last_{H(static_cast<double>(n) + 0.5)},
        squeeze_{2.0 - H_inverse(H(2.5) - h(2.0))} {}

  std::uint64_t operator()(splitmix64& rng) const {
    if (s_ == 0) return static_cast<std::uint64_t>(rng.uniform() * static_cast<double>(n_));
    for (;;) {
      // u uniform over the area under the hat function; x its inverse; k the nearest rank.
      const double u = h_last_ + rng.uniform() * (h_first_ - h_last_);
      const double x = H_inverse(u);
      const double k = std::clamp(std::round(x), 1.0, static_cast<double>(n_));
      if (k - x <= squeeze_ || u >= H(k + 0.5) - h(k)) return static_cast<std::uint64_t>(k) - 1;
    }
  }

 private:
  // h(x) = x^-s; H is an antiderivative, (x^(1-s) - 1) / (1 - s) (log x at s = 1), written
  // with expm1/log1p so that it stays exact near s = 1.
  [[nodiscard]] double h(double x) const { return std::exp(-s_ * std::log(x)); }
  [[nodiscard]] double H(double x) const {
    const double log_x = std::log(x);
    return expm1_over((1.0 - s_) * log_x) * log_x;
  }
  [[nodiscard]] double H_inverse(double y) const {
    const double t = std::max(y * (1.0 - s_), -1.0);  // rounding may step just past -1
    return std::exp(log1p_over(t) * y);
  }
  static double expm1_over(double x) { return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x / 2.0; }
  static double log1p_over(double x) { return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x / 2.0; }

  std::uint64_t n_;
  double s_;
  double h_first_, h_last_, squeeze_;
};

}  // namespace

int main(int argc, char** argv) try {
  const settings s = parse_settings(argc, argv);
  gapm::Options base;
  base.tables = {{s.keys, s.row}};
  base.workers = 2;
  const gapm::Options options = gapm::Options::parse(argc, argv, gapm::Options::from_env(base));
  gapm::Node<float> node(options);
  const zipf_keys zipf(s.keys, s.skew);
  // A worker's batch at clock c: a hash-permuted Zipf draw (2654435761 is prime, so the
  // permutation is a bijection unless it divides the key count), seeded by (seed, rank, worker, c).
  auto batch_at = [&](int worker, long c) {
    splitmix64 mix{s.seed};
    mix.state ^= mix() + static_cast<std::uint64_t>(node.rank());
    mix.state ^= mix() + static_cast<std::uint64_t>(worker);
    mix.state ^= mix() + static_cast<std::uint64_t>(c);
    splitmix64 rng{mix()};
    std::vector<gapm::key_type> keys(s.batch);
    for (auto& k : keys) k = (zipf(rng) * 2654435761u) % s.keys;
    return keys;
  };

  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> keys_done{0};
  std::atomic<long> clocks_done{0};
  std::atomic<long> pull_waits{0};              // clocks whose pull had to wait for another node
  std::atomic<std::int64_t> pull_wait_ns{0};    // time workers spent waiting for those pulls
  double seconds = 0;
  gapm::Stats timed_start, timed_end;  // for the CPU over the timed part
  for (int w = 0; w < options.workers; ++w)
    threads.emplace_back([&, w] {
      gapm::Worker<float> worker(node, w);
      std::vector<float> rows(s.batch * s.row), deltas(s.batch * s.row, 0.001f);
      std::deque<std::vector<gapm::key_type>> upcoming;  // the batches of clocks c .. c + ahead - 1
      for (long c = 0; c < s.ahead; ++c) {
        upcoming.push_back(batch_at(w, c));
        worker.intent(upcoming.back(), c);
      }
      worker.barrier();
      if (w == 0) timed_start = node.stats();
      const auto start = std::chrono::steady_clock::now();
      const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::duration<double>(s.duration_s));
      long c = 0, waited_clocks = 0;
      std::int64_t waited_ns = 0;
      for (; c < s.clocks; ++c) {
        if (s.duration_s > 0 && std::chrono::steady_clock::now() >= deadline) break;
        std::vector<gapm::key_type> keys;
        if (s.ahead > 0) {
          upcoming.push_back(batch_at(w, c + s.ahead));
          worker.intent(upcoming.back(), c + s.ahead);
          keys = std::move(upcoming.front());
          upcoming.pop_front();
        } else {
          keys = batch_at(w, c);
        }
        const auto ticket = worker.pull(keys.data(), keys.size(), rows.data());
        if (!worker.is_finished(ticket)) {  // some key was not local: the clock waits a round trip
          const auto waiting = std::chrono::steady_clock::now();
          worker.wait(ticket);
          ++waited_clocks;
          waited_ns += (std::chrono::steady_clock::now() - waiting).count();
        }
        worker.push(keys.data(), keys.size(), deltas.data());
        worker.advance_clock();
      }
      worker.wait_all();
      worker.barrier();
      if (w == 0) {
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        timed_end = node.stats();
      }
      keys_done += static_cast<std::uint64_t>(c) * s.batch;
      clocks_done += c;
      pull_waits += waited_clocks;
      pull_wait_ns += waited_ns;
      worker.finalize();
    });
  for (auto& t : threads) t.join();
  const auto stats = node.stats();
  const double pulls = static_cast<double>(stats.pulls_local + stats.pulls_remote);
  std::ostringstream line;
  line << "RESULT node=" << node.rank() << " nodes=" << node.world_size() << " workers=" << options.workers
       << " techniques=" << options.get("techniques") << " keys=" << s.keys << " row=" << s.row
       << " batch=" << s.batch << " ahead=" << s.ahead << " skew=" << s.skew
       << " net_latency_us=" << options.net_latency_us << " net_bandwidth_gbps=" << options.net_bandwidth_gbps
       << " clocks=" << clocks_done.load() << " seconds=" << seconds << " waited_clocks=" << pull_waits.load()
       << " wait_s=" << static_cast<double>(pull_wait_ns.load()) / 1e9
       << " keys_per_s=" << static_cast<double>(keys_done.load()) / seconds
       << " local_pct=" << (pulls > 0 ? 100.0 * static_cast<double>(stats.pulls_local) / pulls : 100.0)
       << " pulls_local=" << stats.pulls_local << " pulls_remote=" << stats.pulls_remote
       << " pushes_local=" << stats.pushes_local << " pushes_remote=" << stats.pushes_remote
       << " bytes_sent=" << stats.bytes_sent << " messages_sent=" << stats.messages_sent
       << " replicas_created=" << stats.replicas_created << " relocations=" << stats.relocations
       << " sync_rounds=" << stats.sync_rounds << " forward_hops=" << stats.forward_hops
       << " values_mb=" << static_cast<double>(stats.slots_used * s.row * sizeof(float)) / 1e6
       << " peak_rss_mb=" << static_cast<double>(peak_rss_bytes()) / 1e6
       << " cores=" << (timed_end.cpu_process_s - timed_start.cpu_process_s) / seconds
       << " sync_cores=" << (timed_end.cpu_sync_s - timed_start.cpu_sync_s) / seconds
       << " receive_cores=" << (timed_end.cpu_receive_s - timed_start.cpu_receive_s) / seconds
       << " transport_cores="
       << (timed_end.cpu_transport_s + timed_end.cpu_liveness_s - timed_start.cpu_transport_s - timed_start.cpu_liveness_s) /
              seconds;
  std::cout << line.str() << std::endl;
  node.shutdown();
  return 0;
} catch (const std::invalid_argument& e) {
  std::cerr << "bench_zipf: " << e.what() << "\n";
  return 2;
} catch (const gapm::error& e) {
  std::cerr << e.what() << "\n";
  return 2;
}
