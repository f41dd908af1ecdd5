// Scenarios of cluster failures: mismatched options, a killed peer, shutdown orders.
#include "scenario.hpp"

#include <signal.h>
#include <chrono>
#include <memory>
#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using gapm::Node;
using gapm::Worker;
using value = std::int64_t;

// --- mismatch: a node with other tables may not join ------------------------------------------

GAPM_SCENARIO(mismatch) {
  gapm::Options o;
  o.tables = {{100, std::getenv("RANK") != nullptr && std::string(std::getenv("RANK")) == "1" ? 3u : 4u}};
  Node<value> node(gapm::Options::from_env(o));
  std::cout << "joined although the options differ\n";
  return 1;
}

// --- killed: the last node dies mid-run; the others must notice and fail fast -----------------

GAPM_SCENARIO(killed) {
  gapm::Options o;
  o.tables = {{300, 2}};
  o.workers = 2;
  Node<value> node(gapm::Options::from_env(o));
  const int victim = node.world_size() - 1;
  node.barrier();
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> busy_failed{false}, barrier_failed{false};
  std::string message;
  std::mutex message_mutex;
  std::vector<std::thread> threads;
  for (int id = 0; id < 2; ++id)
    threads.emplace_back([&, id] {
      Worker<value> w(node, id);
      try {
        if (id == 1) {
          w.barrier();  // parked: worker 0 never arrives, so only the failure can release it
          return;
        }
        std::vector<key_type> keys(300);
        for (key_type k = 0; k < keys.size(); ++k) keys[k] = k;
        std::vector<value> rows(600, 1);
        while (std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
          if (node.rank() == victim && std::chrono::steady_clock::now() - start > std::chrono::milliseconds(300)) ::raise(SIGKILL);
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
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  node.shutdown();  // must not hang with a dead peer
  std::cout << "DETECTED after " << seconds << " s: " << message << "\n";
  const bool ok = busy_failed && barrier_failed && seconds < 10.3 &&
                  message.find("node " + std::to_string(victim)) != std::string::npos;
  return ok ? 0 : 1;
}

// --- shutdown: any order of calls, including none, ends every process -------------------------

GAPM_SCENARIO(shutdown) {
  gapm::Options o;
  o.tables = {{30, 1}};
  auto node = std::make_unique<Node<value>>(gapm::Options::from_env(o));
  auto worker = std::make_unique<Worker<value>>(*node, 0);
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

// --- steady: busy workers for SCENARIO_SECONDS, while the test pauses nodes; exact at the end --

GAPM_SCENARIO(steady) {
  constexpr std::uint64_t keys = 64;
  gapm::Options o;
  o.workers = 2;
  o.tables = {{keys, 8}};  // column c is written by worker c only (rank * 2 + id, up to 4 nodes)
  Node<value> node(gapm::Options::from_env(o));
  const auto seconds = std::chrono::seconds(env_int("SCENARIO_SECONDS", 15));
  const auto until = std::chrono::steady_clock::now() + seconds;
  run_workers(node, [&](Worker<value>& w) {
    const auto column = static_cast<std::size_t>(node.rank() * 2 + w.id());
    std::mt19937_64 rng(column + 1);
    std::vector<value> mine(keys, 0), delta(8, 0), row(8);
    delta[column] = 1;
    std::vector<key_type> batch(16);
    std::vector<value> deltas(batch.size() * 8);
    while (std::chrono::steady_clock::now() < until) {
      for (auto& k : batch) k = rng() % keys;
      std::fill(deltas.begin(), deltas.end(), 0);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        deltas[i * 8 + column] = 1;
        ++mine[batch[i]];
      }
      const key_type ahead = rng() % keys;
      w.intent(&ahead, 1, w.clock() + 5, w.clock() + 20);
      w.push(batch.data(), batch.size(), deltas.data());
      w.wait(w.pull(&batch[0], 1, row.data()));
      w.advance_clock();
    }
    quiesce(w);
    for (key_type k = 0; k < keys; ++k) {
      w.wait(w.pull(&k, 1, row.data()));
      expect_equal(row[column], mine[k], "key " + std::to_string(k) + " column " + std::to_string(column));
    }
    w.finalize();
  });
  node.shutdown();
  return exit_code();
}

}  // namespace
