// soak: SOAK_SECONDS of intent churn with a moving working set on every node, then exact.
// Each node's worker trains a window of keys that slides over the key space (one key further
// every clock), overlapping its neighbours' windows, and signals every batch `ahead` clocks
// early: keys are replicated, relocated and dropped again without end. Every few seconds the
// node samples its RSS and gapm's own counters; after a warm-up, memory must stay flat and
// throughput must not sink (tests/test_soak.cpp; the table is printed for the record).
#include "scenario.hpp"

#include <algorithm>
#include <fstream>
#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using value = std::int64_t;

constexpr key_type num_keys = 20000;
constexpr std::uint32_t row = 4;  // column = rank: up to 4 nodes
constexpr key_type window = 2000;
constexpr std::size_t batch = 32;
constexpr long ahead = 30;

// The keys node `rank` uses at clock `c`: from its window, which slides one key per clock and
// overlaps half of the next node's.
std::vector<key_type> batch_of(int rank, long c) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(rank) * 7919u + static_cast<std::uint64_t>(c));
  const key_type start = (static_cast<key_type>(rank) * window / 2 + static_cast<key_type>(c)) % num_keys;
  std::vector<key_type> keys(batch);
  for (auto& k : keys) k = (start + rng() % window) % num_keys;
  return keys;
}

double rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// Under a sanitizer, RSS is the runtime's as much as gapm's (shadow memory, ASan's quarantine,
// TSan's history grow on their own): there only gapm's counters are checked.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool check_rss = false;
#else
constexpr bool check_rss = true;
#endif

struct sample {
  double seconds, rss_mb, keys_per_s;
  std::uint64_t intent_entries, replicas, slots_used;
};

GAPM_SCENARIO(soak) {
  gapm::Options o;
  o.tables = {{num_keys, row}};
  o.print_stats = false;
  gapm::Node<value> node(gapm::Options::from_env(o));
  gapm::Worker<value> w(node, 0);
  const auto column = static_cast<std::size_t>(node.rank());
  const auto duration = std::chrono::seconds(env_int("SOAK_SECONDS", 120));
  const auto every = std::chrono::milliseconds(env_int("SOAK_SAMPLE_MS", 3000));
  std::vector<value> mine(num_keys, 0);
  std::vector<value> deltas(batch * row, 0), pulled(batch * row);
  std::vector<sample> samples;
  const auto start = std::chrono::steady_clock::now();
  auto next_sample = start + every;
  std::uint64_t keys_since = 0;
  for (long c = 0; c < ahead; ++c) w.intent(batch_of(node.rank(), c), c, c + 1);
  for (long c = 0;; ++c) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_sample) {
      const auto stats = node.stats();
      samples.push_back({std::chrono::duration<double>(now - start).count(), rss_mb(),
                         static_cast<double>(keys_since) / std::chrono::duration<double>(every).count(),
                         stats.intent_entries, stats.replicas_created - stats.replicas_dropped, stats.slots_used});
      keys_since = 0;
      next_sample += every;
      if (now - start >= duration) break;
    }
    w.intent(batch_of(node.rank(), c + ahead), w.clock() + ahead, w.clock() + ahead + 1);
    const auto keys = batch_of(node.rank(), c);
    std::fill(deltas.begin(), deltas.end(), 0);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      deltas[i * row + column] = 1;
      ++mine[keys[i]];
    }
    w.push(keys.data(), keys.size(), deltas.data());
    w.wait(w.pull(keys.data(), keys.size(), pulled.data()));
    keys_since += keys.size();
    w.advance_clock();
  }
  quiesce(w);
  std::vector<key_type> all(num_keys);
  for (key_type k = 0; k < num_keys; ++k) all[k] = k;
  std::vector<value> got(num_keys * row);
  w.wait(w.pull(all.data(), all.size(), got.data()));
  for (key_type k = 0; k < num_keys; ++k) expect_equal(got[k * row + column], mine[k], "key " + std::to_string(k));

  std::cout << "SOAK node " << node.rank() << ": t_s rss_mb keys_per_s intent_entries replicas slots_used\n";
  for (const auto& s : samples)
    std::cout << "SOAK " << s.seconds << " " << s.rss_mb << " " << s.keys_per_s << " " << s.intent_entries << " "
              << s.replicas << " " << s.slots_used << "\n";
  // After the warm-up (the first quarter), memory is flat and throughput does not sink.
  const std::size_t warm = std::max<std::size_t>(1, samples.size() / 4);
  expect_true(samples.size() >= warm + 4, "too few samples for a soak; raise SOAK_SECONDS");
  if (samples.size() >= warm + 4) {
    const auto& base = samples[warm];
    auto mean_rate = [&](std::size_t from, std::size_t to) {
      double sum = 0;
      for (std::size_t i = from; i < to; ++i) sum += samples[i].keys_per_s;
      return sum / static_cast<double>(to - from);
    };
    const std::size_t third = (samples.size() - warm) / 3;
    for (std::size_t i = warm; i < samples.size(); ++i) {
      const auto& s = samples[i];
      const std::string at = " at " + std::to_string(s.seconds) + " s";
      expect_true(!check_rss || s.rss_mb <= base.rss_mb * 1.10 + 16, "RSS grew" + at);
      expect_true(s.intent_entries <= 2 * base.intent_entries + 2 * batch * ahead, "intents grew" + at);
      expect_true(s.replicas <= 2 * base.replicas + num_keys / 10, "replicas grew" + at);
      // Main copies follow their users from node to node, so a node's share swings; but its
      // slots never exceed every main copy plus its live replicas (freed slots are reused).
      expect_true(s.slots_used <= num_keys + s.replicas, "slots leaked" + at);
    }
    const double early = mean_rate(warm, warm + third), late = mean_rate(samples.size() - third, samples.size());
    expect_true(late >= 0.5 * early, "throughput sank from " + std::to_string(early) + " to " +
                                         std::to_string(late) + " keys/s");
  }
  w.finalize();
  node.shutdown();
  return exit_code();
}

}  // namespace
