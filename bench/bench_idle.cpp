// What an idle node costs: N nodes (one process each, under gapm-run) first work for a while
// (intents, pulls and pushes on random keys, so that replicas come and main copies move), then
// sit idle — every intent expired, no replica left — for --seconds. Each node reports the CPU
// its gapm threads used while idle, as a share of one core (goal: an idle sync channel < 1 %).
//
//   gapm-run -n 2 -- bench_idle [--seconds=10] [--work-clocks=300] [--gapm.* ...]
//
// Output: one line per node, e.g.
//   RESULT node=0 nodes=2 channels=4 idle_s=10.0 replicas_left=0 process_pct=0.9 sync_pct=0.4
//          per_channel_pct=0.1 receive_pct=0.2 liveness_pct=0.1 transport_pct=0.2
#include <gapm/gapm.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_args.hpp"

namespace {

struct settings {
  double seconds = 10;
  long work_clocks = 300;
};

settings parse_settings(int argc, char** argv) {
  settings s;
  bench::for_each_numeric_argument(argc, argv, [&s](const std::string& name, double value) {
    if (name == "seconds") s.seconds = value;
    else if (name == "work-clocks") s.work_clocks = static_cast<long>(value);
    else return false;
    return true;
  });
  if (s.seconds <= 0) throw std::invalid_argument("--seconds must be > 0");
  return s;
}

// Random keys pulled and pushed, each batch announced one clock ahead: replicas and relocations.
void work(gapm::Worker<float>& worker, std::uint64_t keys, std::uint32_t row, long clocks, std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::uniform_int_distribution<gapm::key_type> pick(0, keys - 1);
  constexpr std::size_t batch = 32;
  auto draw = [&] {
    std::vector<gapm::key_type> b(batch);
    for (auto& k : b) k = pick(rng);
    return b;
  };
  std::vector<float> rows(batch * row), deltas(batch * row, 0.5f);
  std::vector<gapm::key_type> next = draw();
  worker.intent(next, 0);
  for (long c = 0; c < clocks; ++c) {
    const std::vector<gapm::key_type> now = next;
    next = draw();
    worker.intent(next, c + 1);
    worker.wait(worker.pull(now.data(), now.size(), rows.data()));
    worker.push(now.data(), now.size(), deltas.data());
    worker.advance_clock();
  }
  worker.wait_all();
}

double percent_of_core(double cpu_before, double cpu_after, double seconds) {
  return 100.0 * (cpu_after - cpu_before) / seconds;
}

}  // namespace

int main(int argc, char** argv) try {
  const settings s = parse_settings(argc, argv);
  gapm::Options base;
  base.tables = {{10000, 16}};
  const gapm::Options options = gapm::Options::parse(argc, argv, gapm::Options::from_env(base));
  gapm::Node<float> node(options);
  gapm::Worker<float> worker(node, 0);
  work(worker, node.num_keys(), 16, s.work_clocks, 17 + static_cast<std::uint64_t>(node.rank()));
  worker.advance_clock();  // the last intents (for the clock after the work) expire
  worker.wait_sync();
  worker.wait_sync();
  worker.barrier();

  const gapm::Stats before = node.stats();
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
  const gapm::Stats after = node.stats();
  const double idle_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Sync channels run only with several nodes and adaptive management.
  const bool adaptive = node.world_size() > 1 && node.options().techniques != gapm::technique_mode::none;
  const int channels = adaptive ? node.options().sync_channels : 0;
  const double sync_pct = percent_of_core(before.cpu_sync_s, after.cpu_sync_s, idle_s);

  std::printf(
      "RESULT node=%d nodes=%d channels=%d idle_s=%.1f replicas_left=%llu process_pct=%.2f sync_pct=%.2f "
      "per_channel_pct=%.3f receive_pct=%.2f liveness_pct=%.2f transport_pct=%.2f sync_rounds=%llu\n",
      node.rank(), node.world_size(), channels, idle_s,
      static_cast<unsigned long long>(after.replicas_created - after.replicas_dropped),
      percent_of_core(before.cpu_process_s, after.cpu_process_s, idle_s),
      sync_pct, channels > 0 ? sync_pct / channels : 0.0,
      percent_of_core(before.cpu_receive_s, after.cpu_receive_s, idle_s),
      percent_of_core(before.cpu_liveness_s, after.cpu_liveness_s, idle_s),
      percent_of_core(before.cpu_transport_s, after.cpu_transport_s, idle_s),
      static_cast<unsigned long long>(after.sync_rounds - before.sync_rounds));
  std::fflush(stdout);
  worker.finalize();
  node.shutdown();
  return 0;
} catch (const std::invalid_argument& e) {
  std::cerr << "bench_idle: " << e.what() << "\n";
  return 2;
} catch (const gapm::error& e) {
  std::cerr << e.what() << "\n";
  return 2;
}
