// Scenarios of exactness: every push lands exactly once, whatever the interleaving.
#include "scenario.hpp"

#include <algorithm>
#include <random>
#include <span>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using gapm::Node;
using gapm::Worker;
using value = std::int64_t;

// --- sum: every node pushes known deltas to every key; all read exactly the sum --------------

value sum_delta(key_type k, std::uint32_t j, int rank, int worker) {
  return static_cast<value>((k + 1) * (j + 1)) * (rank * 10 + worker + 1);
}

GAPM_SCENARIO(sum) {
  gapm::Options o;
  o.tables = {{37, 3}, {20, 2}};  // two tables: rows of different lengths cross the wire
  o.workers = 2;
  Node<value> node(gapm::Options::from_env(o));
  const int world = node.world_size();
  const std::uint64_t n = node.num_keys();
  run_workers(node, [&](Worker<value>& w) {
    // One push of every key, in a shuffled order, with key 5 twice: repeated keys add up.
    std::vector<key_type> keys(n);
    for (key_type k = 0; k < n; ++k) keys[k] = k;
    std::shuffle(keys.begin(), keys.end(), std::mt19937_64(static_cast<std::uint64_t>(node.rank() * 7 + w.id())));
    keys.push_back(5);
    std::vector<value> rows;
    for (key_type k : keys)
      for (std::uint32_t j = 0; j < node.row_length(k); ++j) rows.push_back(sum_delta(k, j, node.rank(), w.id()));
    // Half through the span overload, half through push_async on the default stream (the CPU
    // build's only one; it behaves like push): both land exactly once.
    const std::size_t half = keys.size() / 2, half_values = [&] {
      std::size_t values = 0;
      for (std::size_t i = 0; i < half; ++i) values += node.row_length(keys[i]);
      return values;
    }();
    w.push(std::span<const key_type>(keys.data(), half), std::span<const value>(rows.data(), half_values));
    w.push_async(keys.data() + half, keys.size() - half, rows.data() + half_values, gapm::stream_view{});
    w.wait_all();
    w.barrier();

    // Every node reads every key (reversed, with repeats) and sees exactly the sum.
    std::vector<key_type> read(keys.rbegin(), keys.rend());
    read.push_back(5);
    read.push_back(n - 1);
    std::vector<value> out;
    for (key_type k : read) out.resize(out.size() + node.row_length(k));
    auto ticket = w.pull(std::span<const key_type>(read), std::span<value>(out));
    expect_true(!(world > 1 && ticket.is_local()), "a pull with remote keys returned a local ticket");
    w.wait(ticket);
    expect_true(w.is_finished(ticket), "ticket not finished after wait");
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
    expect_true(local.is_local(), "a pull of a home key was not local");
    w.finalize();
  });
  std::cout << node.stats().summary();
  node.shutdown();
  return exit_code();
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

GAPM_SCENARIO(random) {
  gapm::Options o;
  o.tables = {{random_keys, random_row}};
  o.workers = 2;
  Node<value> node(gapm::Options::from_env(o));
  const int world = node.world_size();
  const std::uint64_t seed = static_cast<std::uint64_t>(env_int("SCENARIO_SEED", 1));
  const int total_ops = env_int("SCENARIO_OPS", 100000);
  const int per_worker = total_ops / (world * node.options().workers);
  if (node.rank() == 0) std::cout << "seed " << seed << ", " << per_worker << " operations per worker\n";

  run_workers(node, [&](Worker<value>& w) {
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
  return exit_code();
}

// --- hot: one key under constant intent churn from every worker ------------------------------

GAPM_SCENARIO(hot) {
  gapm::Options o;
  o.tables = {{36, 2}};
  o.workers = 2;
  Node<value> node(gapm::Options::from_env(o));
  const int iterations = env_int("SCENARIO_ITERATIONS", 100000);
  constexpr key_type hot = 9;
  run_workers(node, [&](Worker<value>& w) {
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
  return exit_code();
}

// --- set: overwrite semantics, without and with replicas --------------------------------------

GAPM_SCENARIO(set) {
  gapm::Options o;
  o.tables = {{36, 2}};
  o.workers = 2;
  Node<value> node(gapm::Options::from_env(o));
  constexpr key_type key = 9;  // homed on node 0
  const int r = node.rank();
  run_workers(node, [&](Worker<value>& w) {
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
  return exit_code();
}

}  // namespace
