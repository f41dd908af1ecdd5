// Thread CPU accounting: gapm's threads are told apart by name, and their CPU time shows in
// Stats. CPU time, not wall time, so the checks hold on a loaded machine.
#include <gtest/gtest.h>

#include <time.h>

#include <atomic>
#include <thread>

#include <gapm/gapm.hpp>

#include "host/common/thread_cpu.hpp"

namespace gapm::detail {
namespace {

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Runs a thread named `name` that burns `seconds` of CPU, then calls `check` while it is alive.
template <class Check>
void with_busy_thread(const char* name, double seconds, Check check) {
  std::atomic<bool> burnt{false};
  std::atomic<bool> done{false};
  std::thread busy([&] {
    name_this_thread(name);
    const double start = thread_cpu_seconds();
    volatile std::uint64_t sink = 0;
    while (thread_cpu_seconds() - start < seconds) sink = sink + 1;
    burnt = true;
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!burnt) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  check();
  done = true;
  busy.join();
}

TEST(ThreadCpu, CountsANamedThreadInItsKind) {
  const thread_cpu before = measure_thread_cpu();
  with_busy_thread("gapm-sync7", 0.2, [&] {
    const thread_cpu during = measure_thread_cpu();
    // /proc counts in clock ticks (10 ms): leave a few of them.
    EXPECT_GE(during.sync - before.sync, 0.15);
    EXPECT_GE(during.process - before.process, 0.15);
    EXPECT_LT(during.receive - before.receive, 0.05);
    EXPECT_LT(during.transport - before.transport, 0.05);
  });
  with_busy_thread("ZMQbg/IO/9", 0.1, [&] { EXPECT_GE(measure_thread_cpu().transport - before.transport, 0.07); });
}

TEST(ThreadCpu, AnApplicationThreadCountsOnlyInTheProcess) {
  const thread_cpu before = measure_thread_cpu();
  with_busy_thread("my-worker", 0.2, [&] {
    const thread_cpu during = measure_thread_cpu();
    EXPECT_GE(during.process - before.process, 0.15);
    EXPECT_LT(during.sync + during.receive + during.liveness + during.transport -
                  (before.sync + before.receive + before.liveness + before.transport),
              0.05);
  });
}

TEST(ThreadCpu, StatsCarryTheProcessTime) {
  Options options;
  options.tables = {{16, 4}};
  Node<float> node(options);
  const double before = node.stats().cpu_process_s;
  with_busy_thread("my-worker", 0.1, [&] {
    const Stats s = node.stats();
    EXPECT_GE(s.cpu_process_s - before, 0.07);
    EXPECT_NE(s.to_json().find("\"cpu_sync_s\""), std::string::npos);
    EXPECT_NE(s.summary().find("cpu "), std::string::npos);
  });
}

}  // namespace
}  // namespace gapm::detail
