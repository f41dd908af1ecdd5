// multi_node_scenarios: the node program of the multi-process tests. Each process is one
// node (RANK/WORLD_SIZE from the environment, as gapm-run or the test sets them) and runs the
// scenario named by argv[1]. It prints "PASS <scenario>" and exits 0 when every check
// holds; it exits 1 on a wrong value, 3 on a gapm::comm_error, 4 on a gapm::logic_error.
#include <gapm/gapm.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using gapm::key_type;
using value = std::int64_t;
using clock_type = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text == nullptr ? fallback : std::atoi(text);
}

std::atomic<std::uint64_t> wrong_values{0};

void expect_equal(value got, value want, const std::string& what) {
  if (got == want) return;
  if (wrong_values.fetch_add(1) < 10) std::cout << "WRONG " << what << ": got " << got << ", want " << want << "\n";
}

// Runs body(worker) on options.workers threads; rethrows the first exception.
void run_workers(gapm::Node<value>& node, const std::function<void(gapm::Worker<value>&)>& body) {
  std::vector<std::thread> threads;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  for (int w = 0; w < node.options().workers; ++w)
    threads.emplace_back([&, w] {
      try {
        gapm::Worker<value> worker(node, w);
        body(worker);
      } catch (...) {
        std::lock_guard guard{failure_mutex};
        if (!failure) failure = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

// The recipe after which every node reads the same values (SPEC behaviour 5).
void quiesce(gapm::Worker<value>& w) {
  w.wait_all();
  w.wait_sync();
  w.barrier();
  w.wait_sync();
  w.barrier();
}

// Whether `key` is served from this node's memory: a pull that counts as local.
bool is_local(gapm::Node<value>& node, gapm::Worker<value>& w, key_type key) {
  std::vector<value> row(node.row_length(key));
  const auto before = node.stats().pulls_local;
  w.wait(w.pull(&key, 1, row.data()));
  return node.stats().pulls_local == before + 1;
}

// --- sum: every node pushes known deltas to every key; all read exactly the sum --------------

value sum_delta(key_type k, std::uint32_t j, int rank, int worker) {
  return static_cast<value>((k + 1) * (j + 1)) * (rank * 10 + worker + 1);
}

int scenario_sum() {
  gapm::Options o;
  o.tables = {{37, 3}, {20, 2}};  // two tables: rows of different lengths cross the wire
  o.workers = 2;
  gapm::Node<value> node(gapm::Options::from_env(o));
  const int world = node.world_size();
  const std::uint64_t n = node.num_keys();
  run_workers(node, [&](gapm::Worker<value>& w) {
    // One push of every key, in a shuffled order, with key 5 twice: repeated keys add up.
    std::vector<key_type> keys(n);
    for (key_type k = 0; k < n; ++k) keys[k] = k;
    std::shuffle(keys.begin(), keys.end(), std::mt19937_64(static_cast<std::uint64_t>(node.rank() * 7 + w.id())));
    keys.push_back(5);
    std::vector<value> rows;
    for (key_type k : keys)
      for (std::uint32_t j = 0; j < node.row_length(k); ++j) rows.push_back(sum_delta(k, j, node.rank(), w.id()));
    w.push(std::span<const key_type>(keys), std::span<const value>(rows));
    w.wait_all();
    w.barrier();

    // Every node reads every key (reversed, with repeats) and sees exactly the sum.
    std::vector<key_type> read(keys.rbegin(), keys.rend());
    read.push_back(5);
    read.push_back(n - 1);
    std::vector<value> out;
    for (key_type k : read) out.resize(out.size() + node.row_length(k));
    auto ticket = w.pull(std::span<const key_type>(read), std::span<value>(out));
    if (world > 1 && ticket.is_local()) expect_equal(0, 1, "a pull with remote keys returned a local ticket");
    w.wait(ticket);
    if (!w.is_finished(ticket)) expect_equal(0, 1, "ticket not finished after wait");
    std::size_t at = 0;
    for (key_type k : read)
      for (std::uint32_t j = 0; j < node.row_length(k); ++j) {
        value want = 0;
        for (int r = 0; r < world; ++r)
          for (int v = 0; v < node.options().workers; ++v) want += sum_delta(k, j, r, v) * (k == 5 ? 2 : 1);
        expect_equal(out[at++], want, "key " + std::to_string(k) + "[" + std::to_string(j) + "]");
      }
    // A pull of keys this node is home for is served locally: a finished, local ticket.
    key_type own = static_cast<key_type>(node.rank());
    std::vector<value> own_row(node.row_length(own));
    auto local = w.pull(&own, 1, own_row.data());
    if (!local.is_local()) expect_equal(0, 1, "a pull of a home key was not local");
    w.finalize();
  });
  std::cout << node.stats().summary();
  node.shutdown();
  return wrong_values == 0 ? 0 : 1;
}

// --- random: many random mixed operations; final values are exact -------------------------

constexpr std::uint64_t random_keys = 500;
constexpr std::uint64_t set_keys = 60;  // keys below this are only ever set, by one worker each
constexpr std::uint32_t random_row = 4;

struct random_op {
  int kind;  // 0 pull, 1 push, 2 set, 3 intent
  std::vector<key_type> keys;
  std::vector<value> rows;
  value start = 0, end = 0;  // intent clocks
};

// The deterministic operation stream of one worker, replayable by every node.
class op_stream {
 public:
  op_stream(std::uint64_t seed, int rank, int worker, int world, int workers)
      : rng_(seed * 1000003 + static_cast<std::uint64_t>(rank * 1009 + worker)),
        owner_slot_(rank * workers + worker), slots_(world * workers) {}

  random_op next(value iteration) {
    random_op op;
    op.kind = static_cast<int>(rng_() % 4);
    const std::size_t n = 1 + rng_() % 24;
    for (std::size_t i = 0; i < n; ++i) {
      if (op.kind == 3) {  // intent: any key, soon or later, short or long
        op.keys.push_back(rng_() % random_keys);
        continue;
      }
      if (op.kind == 2) {  // set: only this worker's own set keys, each once per op
        const key_type k = owner_slot_ + slots_ * (rng_() % (set_keys / slots_));
        if (std::find(op.keys.begin(), op.keys.end(), k) == op.keys.end()) op.keys.push_back(k);
      } else {
        op.keys.push_back(op.kind == 0 ? rng_() % random_keys : set_keys + rng_() % (random_keys - set_keys));
      }
    }
    if (op.kind == 3) {
      op.start = iteration + static_cast<value>(rng_() % 50);
      op.end = op.start + 1 + static_cast<value>(rng_() % 200);
      return op;
    }
    for (key_type k : op.keys)
      for (std::uint32_t j = 0; j < random_row; ++j)
        op.rows.push_back(op.kind == 2 ? iteration * 10 + j + static_cast<value>(k)
                                       : static_cast<value>(rng_() % 11) - 5);
    return op;
  }

 private:
  std::mt19937_64 rng_;
  int owner_slot_;
  int slots_;
};

int scenario_random() {
  gapm::Options o;
  o.tables = {{random_keys, random_row}};
  o.workers = 2;
  gapm::Node<value> node(gapm::Options::from_env(o));
  const int world = node.world_size();
  const std::uint64_t seed = static_cast<std::uint64_t>(env_int("SCENARIO_SEED", 1));
  const int total_ops = env_int("SCENARIO_OPS", 100000);
  const int per_worker = total_ops / (world * node.options().workers);
  if (node.rank() == 0) std::cout << "seed " << seed << ", " << per_worker << " operations per worker\n";

  run_workers(node, [&](gapm::Worker<value>& w) {
    op_stream ops(seed, node.rank(), w.id(), world, node.options().workers);
    std::vector<std::pair<gapm::Ticket, std::vector<value>>> in_flight;  // pulls still running
    for (int i = 0; i < per_worker; ++i) {
      random_op op = ops.next(i);
      if (op.kind == 0) {
        std::vector<value> out(op.keys.size() * random_row);
        auto ticket = w.pull(op.keys.data(), op.keys.size(), out.data());
        in_flight.emplace_back(ticket, std::move(out));  // the buffer must live until the answer
        if (in_flight.size() > 8) {
          w.wait(in_flight.front().first);
          in_flight.erase(in_flight.begin());
        }
      } else if (op.kind == 1) {
        w.push(op.keys.data(), op.keys.size(), op.rows.data());
      } else if (op.kind == 3) {
        w.intent(op.keys.data(), op.keys.size(), op.start, op.end);
      } else {
        w.wait(w.set(op.keys.data(), op.keys.size(), op.rows.data()));  // ordered sets of one key
      }
      w.advance_clock();
    }
    quiesce(w);
    if (w.id() == 0) {
      // Replay every worker's stream to know the exact final value of every key.
      std::vector<value> expected(random_keys * random_row, 0);
      for (int r = 0; r < world; ++r)
        for (int v = 0; v < node.options().workers; ++v) {
          op_stream replay(seed, r, v, world, node.options().workers);
          for (int i = 0; i < per_worker; ++i) {
            random_op op = replay.next(i);
            for (std::size_t p = 0; p < op.keys.size(); ++p)
              for (std::uint32_t j = 0; j < random_row; ++j) {
                value& slot = expected[op.keys[p] * random_row + j];
                if (op.kind == 1) slot += op.rows[p * random_row + j];
                if (op.kind == 2) slot = op.rows[p * random_row + j];
              }
          }
        }
      std::vector<key_type> all(random_keys);
      for (key_type k = 0; k < random_keys; ++k) all[k] = k;
      std::vector<value> out(random_keys * random_row);
      w.wait(w.pull(all.data(), all.size(), out.data()));
      for (std::size_t i = 0; i < out.size(); ++i)
        expect_equal(out[i], expected[i], "key " + std::to_string(i / random_row));
    }
    w.finalize();
  });
  std::cout << node.stats().summary();
  node.shutdown();
  return wrong_values == 0 ? 0 : 1;
}

// --- locality: the decision rule on AdaPM's reference scenario (SPEC behaviour 2) ----------

int scenario_locality() {
  gapm::Options o;
  o.tables = {{36, 1}};
  gapm::Node<value> node(gapm::Options::from_env(o));
  if (node.world_size() != 3) throw gapm::logic_error("the locality scenario needs exactly 3 nodes");
  gapm::Worker<value> w(node, 0);
  const int r = node.rank();
  auto expect_local = [&](key_type k, bool want, const char* when) {
    if (is_local(node, w, k) != want)
      expect_equal(!want, want, std::string(when) + ": key " + std::to_string(k) + " local on node " + std::to_string(r));
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
  if (r == 2 && during.replicas_created != 1) expect_equal(static_cast<value>(during.replicas_created), 1, "replicas on node 2");
  if (r == 0 && during.relocations != 1) expect_equal(static_cast<value>(during.relocations), 1, "relocations to node 0");
  if (r == 2 && during.relocations != 2) expect_equal(static_cast<value>(during.relocations), 2, "relocations to node 2");

  // A remote pull hands out a ticket that wait() completes; a local multi-key pull is done.
  const key_type remote_key = r == 1 ? 4 : 2 - static_cast<key_type>(r) + 9;  // homed elsewhere, never moved
  std::vector<value> out(2);
  auto ticket = w.pull(&remote_key, 1, out.data());
  if (ticket.is_local()) expect_equal(0, 1, "remote pull returned a local ticket");
  w.wait(ticket);
  if (!w.is_finished(ticket)) expect_equal(0, 1, "remote pull not finished after wait");
  const std::vector<key_type> home_keys{static_cast<key_type>(r + 9), static_cast<key_type>(r + 12)};
  if (!w.pull(home_keys.data(), 2, out.data()).is_local()) expect_equal(0, 1, "local pull returned a remote ticket");

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
    expect_equal(static_cast<value>(end.replicas_dropped), static_cast<value>(end.replicas_created), "replicas left");
  w.finalize();
  node.shutdown();
  return wrong_values == 0 ? 0 : 1;
}

// --- hot: one key under constant intent churn from every worker ------------------------------

int scenario_hot() {
  gapm::Options o;
  o.tables = {{36, 2}};
  o.workers = 2;
  gapm::Node<value> node(gapm::Options::from_env(o));
  const int iterations = env_int("SCENARIO_ITERATIONS", 100000);
  constexpr key_type hot = 9;
  run_workers(node, [&](gapm::Worker<value>& w) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(node.rank() * 31 + w.id()));
    const value delta[2] = {1, 2};
    std::vector<std::pair<gapm::Ticket, std::vector<value>>> in_flight;
    for (int i = 0; i < iterations; ++i) {
      const gapm::clock_type c = w.clock();
      if (rng() % 50 == 0) w.intent(&hot, 1, c + 10, c + 40);
      w.push(&hot, 1, delta);
      in_flight.emplace_back(gapm::Ticket{}, std::vector<value>(2));
      in_flight.back().first = w.pull(&hot, 1, in_flight.back().second.data());
      if (in_flight.size() > 16) {
        w.wait(in_flight.front().first);
        in_flight.erase(in_flight.begin());
      }
      w.advance_clock();
    }
    quiesce(w);
    value row[2];
    w.wait(w.pull(&hot, 1, row));
    const value total = static_cast<value>(node.world_size()) * node.options().workers * iterations;
    expect_equal(row[0], total, "hot key [0]");
    expect_equal(row[1], 2 * total, "hot key [1]");
    w.finalize();
  });
  std::cout << node.stats().summary();
  node.shutdown();
  return wrong_values == 0 ? 0 : 1;
}

// --- set: overwrite semantics, without and with replicas --------------------------------------

int scenario_set() {
  gapm::Options o;
  o.tables = {{36, 2}};
  o.workers = 2;
  gapm::Node<value> node(gapm::Options::from_env(o));
  constexpr key_type key = 9;  // homed on node 0
  const int r = node.rank();
  run_workers(node, [&](gapm::Worker<value>& w) {
    auto read = [&] {
      value row[2];
      w.wait(w.pull(&key, 1, row));
      return std::pair{row[0], row[1]};
    };
    // 1. No replicas: the writer reads back exactly what it set, every time.
    if (r == 0 && w.id() == 0) {
      std::mt19937_64 rng(7);
      for (int i = 0; i < 50; ++i) {
        const value v[2] = {static_cast<value>(rng() % 1000), -static_cast<value>(rng() % 1000)};
        w.wait(w.set(&key, 1, v));
        const auto got = read();
        expect_equal(got.first, v[0], "set/read [0]");
        expect_equal(got.second, v[1], "set/read [1]");
      }
    }
    quiesce(w);
    // 2. Replicas on every other node; a set from a replica holder reaches the main copy and
    //    every replica picks it up.
    const gapm::clock_type forever = gapm::CLOCK_MAX;
    if (r != 0) w.intent(&key, 1, 0, forever);
    quiesce(w);
    const value fresh[2] = {1000, 2000};
    if (r == node.world_size() - 1 && w.id() == 1) w.wait(w.set(&key, 1, fresh));
    quiesce(w);
    auto got = read();
    expect_equal(got.first, 1000, "after set with replicas [0]");
    expect_equal(got.second, 2000, "after set with replicas [1]");
    quiesce(w);
    // 3. Everybody pushes on top, through replicas: the set value plus every push, exactly.
    const value d[2] = {w.id() + 1, 2 * (w.id() + 1)};
    for (int i = 0; i < 100; ++i) {
      w.push(&key, 1, d);
      if (i % 10 == 0) w.advance_clock();
    }
    quiesce(w);
    got = read();
    const value per_node = 100 * (1 + 2);  // workers 0 and 1 push 1 and 2, 100 times each
    expect_equal(got.first, 1000 + node.world_size() * per_node, "set + pushes [0]");
    expect_equal(got.second, 2000 + 2 * node.world_size() * per_node, "set + pushes [1]");
    w.finalize();
  });
  node.shutdown();
  return wrong_values == 0 ? 0 : 1;
}

// --- timing: intents signalled well ahead make (almost) every access local -----------------

int scenario_timing() {
  gapm::Options o;
  o.tables = {{2000, 4}};
  gapm::Node<value> node(gapm::Options::from_env(o));
  gapm::Worker<value> w(node, 0);
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

int scenario_sampling() {
  gapm::Options o;
  o.tables = {{1000, 5}};
  const gapm::Options options = gapm::Options::from_env(o);
  gapm::Node<value> node(options);
  gapm::Worker<value> w(node, 0);
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
    for (std::size_t i = 0; i < got.size(); ++i) expect_equal(static_cast<value>(got[i]), static_cast<value>(sequence(i)), "key");
  } else if (scheme == gapm::sampling_mode::pool) {
    const std::size_t pools = (got.size() + options.sampling_pool_size * options.sampling_reuse - 1) /
                              (options.sampling_pool_size * options.sampling_reuse);
    expect_equal(static_cast<value>(drawn.size()), static_cast<value>(pools * options.sampling_pool_size), "sampler calls");
    for (key_type key : got)
      if (std::find(drawn.begin(), drawn.end(), key) == drawn.end()) expect_equal(0, 1, "a pool key never drawn");
  } else {  // local: only local keys, in the sequence's order
    expect_equal(static_cast<value>(after.pulls_remote - before.pulls_remote), 0, "remote pulls of local samples");
    std::vector<key_type> expected;
    for (key_type key : drawn)
      if (key % 3 == static_cast<key_type>(r)) expected.push_back(key);
    expected.resize(got.size());
    for (std::size_t i = 0; i < got.size(); ++i) expect_equal(static_cast<value>(got[i]), static_cast<value>(expected[i]), "local key");
  }
  std::cout << "sampled " << got.size() << " keys; sampler called " << drawn.size() << " times\n";
  w.finalize();
  node.shutdown();
  return wrong_values == 0 ? 0 : 1;
}

// --- mismatch: a node with other tables may not join ------------------------------------------

int scenario_mismatch() {
  gapm::Options o;
  o.tables = {{100, std::getenv("RANK") != nullptr && std::string(std::getenv("RANK")) == "1" ? 3u : 4u}};
  gapm::Node<value> node(gapm::Options::from_env(o));
  std::cout << "joined although the options differ\n";
  return 1;
}

// --- killed: the last node dies mid-run; the others must notice and fail fast -----------------

int scenario_killed() {
  gapm::Options o;
  o.tables = {{300, 2}};
  o.workers = 2;
  gapm::Node<value> node(gapm::Options::from_env(o));
  const int victim = node.world_size() - 1;
  node.barrier();
  const auto start = clock_type::now();
  std::atomic<bool> busy_failed{false}, barrier_failed{false};
  std::string message;
  std::mutex message_mutex;
  std::vector<std::thread> threads;
  for (int id = 0; id < 2; ++id)
    threads.emplace_back([&, id] {
      gapm::Worker<value> w(node, id);
      try {
        if (id == 1) {
          w.barrier();  // parked: worker 0 never arrives, so only the failure can release it
          return;
        }
        std::vector<key_type> keys(300);
        for (key_type k = 0; k < keys.size(); ++k) keys[k] = k;
        std::vector<value> rows(600, 1);
        while (clock_type::now() - start < std::chrono::seconds(30)) {
          if (node.rank() == victim && clock_type::now() - start > std::chrono::milliseconds(300)) ::raise(SIGKILL);
          w.push(keys.data(), keys.size(), rows.data());
          w.wait(w.pull(keys.data(), keys.size(), rows.data()));
        }
      } catch (const gapm::comm_error& e) {
        (id == 0 ? busy_failed : barrier_failed) = true;
        std::lock_guard guard{message_mutex};
        message = e.what();
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  node.shutdown();  // must not hang with a dead peer
  std::cout << "DETECTED after " << seconds << " s: " << message << "\n";
  const bool ok = busy_failed && barrier_failed && seconds < 10.3 &&
                  message.find("node " + std::to_string(victim)) != std::string::npos;
  return ok ? 0 : 1;
}

// --- shutdown: any order of calls, including none, ends every process -------------------------

int scenario_shutdown() {
  gapm::Options o;
  o.tables = {{30, 1}};
  auto node = std::make_unique<gapm::Node<value>>(gapm::Options::from_env(o));
  auto worker = std::make_unique<gapm::Worker<value>>(*node, 0);
  key_type k = 1;
  value one = 1;
  worker->wait(worker->push(&k, 1, &one));
  worker->barrier();
  switch (node->rank() % 3) {
    case 0:  // shutdown twice, the worker destroyed after the node shut down
      node->shutdown();
      node->shutdown();
      worker.reset();
      node.reset();
      break;
    case 1:  // no shutdown at all: the destructor leaves abortively
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      worker.reset();
      node.reset();
      break;
    default:  // shutdown, then a use of the worker must fail cleanly
      node->shutdown();
      try {
        worker->advance_clock();
        return 1;
      } catch (const gapm::logic_error&) {
      }
      worker.reset();
      node.reset();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "";
  const std::map<std::string, int (*)()> scenarios = {
      {"sum", scenario_sum},         {"random", scenario_random},     {"mismatch", scenario_mismatch},
      {"killed", scenario_killed},   {"shutdown", scenario_shutdown},   {"locality", scenario_locality},
      {"hot", scenario_hot},         {"set", scenario_set},             {"timing", scenario_timing},
      {"sampling", scenario_sampling},
  };
  auto it = scenarios.find(scenario);
  if (it == scenarios.end()) {
    std::cerr << "usage: multi_node_scenarios sum|random|mismatch|killed|shutdown|locality|hot|set|timing|sampling\n";
    return 2;
  }
  try {
    const int code = it->second();
    if (code == 0) std::cout << "PASS " << scenario << "\n";
    return code;
  } catch (const gapm::comm_error& e) {
    std::cout << "COMM_ERROR " << e.what() << "\n";
    return 3;
  } catch (const gapm::logic_error& e) {
    std::cout << "LOGIC_ERROR " << e.what() << "\n";
    return 4;
  }
}
