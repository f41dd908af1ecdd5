// The node program of the multi-process tests (tests/scenarios/*.cpp): each process is one
// node (RANK/WORLD_SIZE from the environment, as gapm-run or the test sets them) and runs the
// scenario named by argv[1]. A scenario prints "PASS <name>" and exits 0 when every check
// holds; it exits 1 on a wrong value, 3 on a gapm::comm_error, 4 on a gapm::logic_error.
//
// Scenarios register themselves with GAPM_SCENARIO(name) { ... return exit code; }.
#pragma once

#include <gapm/gapm.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace gapm::scenarios {

using scenario_fn = int (*)();

/// name -> scenario, filled by GAPM_SCENARIO before main() runs.
inline std::map<std::string, scenario_fn>& registry() {
  static std::map<std::string, scenario_fn> scenarios;
  return scenarios;
}

struct registrar {
  registrar(const char* name, scenario_fn fn) { registry()[name] = fn; }
};

#define GAPM_SCENARIO(name)                                                          \
  static int scenario_##name();                                                      \
  static const ::gapm::scenarios::registrar register_##name{#name, scenario_##name}; \
  static int scenario_##name()

inline int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text == nullptr ? fallback : std::atoi(text);
}

/// Wrong values seen so far; a scenario returns 1 when there are any.
inline std::atomic<std::uint64_t>& wrong_values() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}

inline int exit_code() { return wrong_values() == 0 ? 0 : 1; }

template <class V>
void expect_equal(V got, std::type_identity_t<V> want, const std::string& what) {
  if (got == want) return;
  if (wrong_values().fetch_add(1) < 10) std::cout << "WRONG " << what << ": got " << got << ", want " << want << "\n";
}

inline void expect_true(bool condition, const std::string& what) {
  if (!condition && wrong_values().fetch_add(1) < 10) std::cout << "WRONG " << what << "\n";
}

/// Runs body(worker) on options.workers threads; rethrows the first exception.
template <class T, class Body>
void run_workers(Node<T>& node, const Body& body) {
  std::vector<std::thread> threads;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  for (int w = 0; w < node.options().workers; ++w)
    threads.emplace_back([&, w] {
      try {
        Worker<T> worker(node, w);
        body(worker);
      } catch (...) {
        std::lock_guard guard{failure_mutex};
        if (!failure) failure = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

/// The recipe after which every node reads the same values (SPEC behaviour 5).
template <class T>
void quiesce(Worker<T>& w) {
  w.wait_all();
  w.wait_sync();
  w.barrier();
  w.wait_sync();
  w.barrier();
}

/// Whether `key` is served from this node's memory: a pull that counts as local.
template <class T>
bool is_local(Node<T>& node, Worker<T>& w, key_type key) {
  std::vector<T> row(node.row_length(key));
  const auto before = node.stats().pulls_local;
  w.wait(w.pull(&key, 1, row.data()));
  return node.stats().pulls_local == before + 1;
}

}  // namespace gapm::scenarios
