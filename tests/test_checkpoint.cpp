// Snapshots across real processes: restored on fewer and more nodes and continued, a run ends
// exactly where an uninterrupted one does; a snapshot one node cannot verify changes nothing
// anywhere; a save killed at any moment leaves a complete snapshot behind.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "scenario_results.hpp"

namespace {

using gapm::testing::describe;
using gapm::testing::expect_all_pass;
using gapm::testing::process_result;
using gapm::testing::run_cluster;

const std::string scenarios = GAPM_SCENARIOS_BINARY;

struct temporary_directory {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("gapm_checkpoint_" + std::to_string(::getpid()) + "_" +
                                std::to_string(std::random_device{}()));
  temporary_directory() { std::filesystem::create_directories(path); }
  ~temporary_directory() { std::filesystem::remove_all(path); }
};

TEST(Checkpoint, RestoredOnFewerAndMoreNodesARunEndsExactlyAsAnUninterruptedOne) {
  temporary_directory dir;
  const std::string snapshot = "SCENARIO_SNAPSHOT=" + (dir.path / "model").string();
  auto first = run_cluster(scenarios, {"checkpoint"}, 3, {"SCENARIO_PHASE=first", snapshot});
  expect_all_pass(first, "checkpoint");  // includes a load back on the live cluster, keys moved since
  std::uint64_t relocations = 0;
  for (const auto& r : first)
    if (auto at = r.output.find("relocations "); at != std::string::npos) relocations += std::stoull(r.output.substr(at + 12));
  EXPECT_GT(relocations, 0u) << "the snapshot must be taken while keys live away from their home";
  for (int nodes : {2, 4}) expect_all_pass(run_cluster(scenarios, {"checkpoint"}, nodes, {"SCENARIO_PHASE=second", snapshot}), "checkpoint");
  expect_all_pass(run_cluster(scenarios, {"checkpoint"}, 3, {"SCENARIO_PHASE=whole"}), "checkpoint");
}

TEST(Checkpoint, ASnapshotOneNodeCannotVerifyChangesNothingOnAnyNode) {
  temporary_directory dir;
  const auto model = dir.path / "model";
  const std::string snapshot = "SCENARIO_SNAPSHOT=" + model.string();
  expect_all_pass(run_cluster(scenarios, {"checkpoint"}, 2, {"SCENARIO_PHASE=first", snapshot}), "checkpoint");
  // Flip one byte of the last row's values in the last part (the byte before the 20-byte
  // trailer: records, payload bytes, CRC-32). Its middle is no good: a part that holds few keys
  // has its header there, and a flipped key is caught as out of range or order.
  std::filesystem::path part;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path))
    if (entry.path().string().ends_with(".part1")) part = entry.path();
  ASSERT_FALSE(part.empty());
  const auto at = static_cast<std::streamoff>(std::filesystem::file_size(part)) - 21;
  std::fstream file(part, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(at);
  char byte = 0;
  file.read(&byte, 1);
  file.seekp(at);
  byte = static_cast<char>(byte ^ 0x10);
  file.write(&byte, 1);
  file.close();
  auto results = run_cluster(scenarios, {"checkpoint_damaged"}, 2, {snapshot});
  expect_all_pass(results, "checkpoint_damaged");
  EXPECT_NE(results[1].output.find("checksum does not match"), std::string::npos) << describe(results);
}

// The log of a save_loop process, as far as it got.
std::string read_log(const std::string& path) {
  std::ifstream log(path);
  return {std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>()};
}

TEST(Checkpoint, ASaveKilledAtAnyMomentLeavesACompleteSnapshot) {
  temporary_directory dir;
  const std::string snapshot = "SCENARIO_SNAPSHOT=" + (dir.path / "model").string();
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 6; ++attempt) {
    // One process saving again and again (a 12 MiB table), killed at a random moment. The
    // first attempt waits for one complete save however slow the machine is (under TSan a
    // save takes seconds), so a snapshot exists; later ones may be killed at any moment, even
    // before their own first save ends, and must leave that snapshot or a newer one intact.
    const std::string output = (dir.path / "loop.log").string();
    const pid_t saver = ::fork();
    if (saver == 0) {
      ::setenv("SCENARIO_SNAPSHOT", (dir.path / "model").c_str(), 1);
      ::unsetenv("RANK");
      ::unsetenv("WORLD_SIZE");
      std::freopen(output.c_str(), "w", stdout);
      ::execl(scenarios.c_str(), scenarios.c_str(), "save_loop", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(saver, 0);
    if (attempt == 0) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      while (read_log(output).find("saved 1") == std::string::npos && std::chrono::steady_clock::now() < deadline &&
             ::waitpid(saver, nullptr, WNOHANG) == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1200));
    ::kill(saver, SIGKILL);
    ::waitpid(saver, nullptr, 0);
    const std::string saved = read_log(output);
    if (attempt == 0) {
      ASSERT_NE(saved.find("saved 1"), std::string::npos) << "no save completed in 120 s: " << saved;
    }
    const auto last = saved.rfind("saved");
    std::cout << "killed after: " << (last == std::string::npos ? "no new save\n" : saved.substr(last)) << std::flush;
    expect_all_pass(run_cluster(scenarios, {"save_check"}, 1, {snapshot}), "save_check");
  }
}

}  // namespace
