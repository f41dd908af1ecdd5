#include "host/common/thread_cpu.hpp"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace gapm::detail {
namespace {

struct task_time {
  std::string name;
  double seconds = 0;
};

// /proc/<pid>/task/<tid>/stat: "tid (name) state ..." with utime and stime (clock ticks) as
// fields 14 and 15; the name may hold spaces and parentheses, so fields count from the last ')'.
bool read_task(const std::filesystem::path& stat_path, task_time& task) {
  std::ifstream in(stat_path);
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  task.name = line.substr(open + 1, close - open - 1);
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
  }
  static const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  task.seconds = static_cast<double>(utime + stime) / ticks_per_second;
  return true;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

}  // namespace

void name_this_thread(const char* name) noexcept {
  char truncated[16];
  std::snprintf(truncated, sizeof truncated, "%s", name);
  (void)::pthread_setname_np(::pthread_self(), truncated);
}

thread_cpu measure_thread_cpu() noexcept {
  thread_cpu cpu;
  timespec now{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now) == 0)
    cpu.process = static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
  try {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", error)) {
      task_time task;
      if (!read_task(entry.path() / "stat", task)) continue;  // the thread ended meanwhile
      if (starts_with(task.name, "gapm-sync")) cpu.sync += task.seconds;
      else if (task.name == "gapm-receive") cpu.receive += task.seconds;
      else if (task.name == "gapm-liveness") cpu.liveness += task.seconds;
      else if (starts_with(task.name, "ZMQbg/") || task.name == "gapm-netmodel") cpu.transport += task.seconds;
    }
  } catch (const std::exception&) {  // a malformed stat line: report what was read
  }
  return cpu;
}

}  // namespace gapm::detail
