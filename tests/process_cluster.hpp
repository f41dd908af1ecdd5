// process_cluster: starts real processes of one program as the nodes of a cluster on
// loopback (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and collects their exit codes and
// output. Used by the multi-process tests; a hung process is killed at the deadline and
// reported as such, so a test fails instead of hanging.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tools/free_port.hpp"

extern char** environ;

namespace gapm::testing {

struct process_result {
  int exit_code = -1;   ///< 128 + signal when killed by a signal; -1 when killed at the deadline
  std::string output;   ///< stdout and stderr
  double seconds = 0;   ///< how long it ran
};

/// A free rendezvous port (tools/free_port.hpp), 29500 when none was found.
inline int free_port() {
  const int port = gapm::tools::free_port();
  return port < 0 ? 29500 : port;
}

/// One process per entry of `ranks` (each a rank in a world of `world_size`), all running
/// `program args...`, with `extra_env` ("NAME=VALUE") added. Waits at most `deadline`.
/// `meddle`, when given, runs on a thread of its own with the processes' ids (by rank) while
/// they run (to pause or kill them); it must return before they can all end.
inline std::vector<process_result> run_processes(const std::string& program, const std::vector<std::string>& args,
                                                 int world_size, const std::vector<int>& ranks,
                                                 const std::vector<std::string>& extra_env = {},
                                                 std::chrono::seconds deadline = std::chrono::seconds{120},
                                                 const std::function<void(const std::vector<pid_t>&)>& meddle = {}) {
  const int port = free_port();
  struct running {
    pid_t pid;
    std::string log;
    bool done = false;
    process_result result;
  };
  std::vector<running> procs;
  const auto start = std::chrono::steady_clock::now();
  for (int rank : ranks) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      if (entry.starts_with("RANK=") || entry.starts_with("WORLD_SIZE=") || entry.starts_with("MASTER_")) continue;
      env_strings.push_back(entry);
    }
    env_strings.push_back("RANK=" + std::to_string(rank));
    env_strings.push_back("WORLD_SIZE=" + std::to_string(world_size));
    env_strings.push_back("LOCAL_RANK=" + std::to_string(rank));
    env_strings.push_back("MASTER_ADDR=127.0.0.1");
    env_strings.push_back("MASTER_PORT=" + std::to_string(port));
#ifdef GAPM_SCENARIO_EXTRA_ENV
    // A suite built to run on another platform (e.g. the emulated device) adds its settings.
    for (std::string_view all = GAPM_SCENARIO_EXTRA_ENV; !all.empty();) {
      const auto space = all.find(' ');
      env_strings.emplace_back(all.substr(0, space));
      all = space == std::string_view::npos ? std::string_view{} : all.substr(space + 1);
    }
#endif
    for (const auto& e : extra_env) env_strings.push_back(e);
    // Four sync channels unless a test says otherwise: auto would pick one on a small CI
    // machine, and the scenarios must cover keys spread over several channels.
    if (std::none_of(env_strings.begin(), env_strings.end(),
                     [](const std::string& e) { return e.starts_with("GAPM_SYNC_CHANNELS="); }))
      env_strings.emplace_back("GAPM_SYNC_CHANNELS=4");
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings{program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);

    char log_template[] = "/tmp/gapm_test_XXXXXX";
    const int log_fd = ::mkstemp(log_template);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    pid_t pid = -1;
    const int status = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(log_fd);
    running r{status == 0 ? pid : -1, log_template, false, {}};
    if (status != 0) {
      r.done = true;
      r.result.output = "posix_spawn failed for " + program;
    }
    procs.push_back(std::move(r));
  }
  std::thread meddler;
  if (meddle) {
    std::vector<pid_t> pids;
    for (const auto& p : procs) pids.push_back(p.pid);
    meddler = std::thread([meddle, pids] { meddle(pids); });
  }
  for (bool all_done = false; !all_done;) {
    all_done = true;
    const auto now = std::chrono::steady_clock::now();
    for (auto& p : procs) {
      if (p.done) continue;
      int status = 0;
      if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
        p.done = true;
        p.result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        p.result.seconds = std::chrono::duration<double>(now - start).count();
      } else if (now - start > deadline) {
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, &status, 0);
        p.done = true;
        p.result.exit_code = -1;
        p.result.seconds = std::chrono::duration<double>(now - start).count();
      } else {
        all_done = false;
      }
    }
    if (!all_done) std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (meddler.joinable()) meddler.join();
  std::vector<process_result> results;
  for (auto& p : procs) {
    std::ifstream in(p.log);
    std::stringstream text;
    text << in.rdbuf();
    p.result.output += text.str();
    ::unlink(p.log.c_str());
    results.push_back(std::move(p.result));
  }
  return results;
}

/// Every rank of a world of `n`.
inline std::vector<process_result> run_cluster(const std::string& program, const std::vector<std::string>& args,
                                               int n, const std::vector<std::string>& extra_env = {},
                                               std::chrono::seconds deadline = std::chrono::seconds{120},
                                               const std::function<void(const std::vector<pid_t>&)>& meddle = {}) {
  std::vector<int> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back(r);
  return run_processes(program, args, n, ranks, extra_env, deadline, meddle);
}

}  // namespace gapm::testing
