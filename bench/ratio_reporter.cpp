#include "ratio_reporter.hpp"

#include <cstdio>
#include <vector>

namespace gapm::bench {

void ratio_reporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  for (const auto& run : runs) {
    if (run.run_type != Run::RT_Iteration) continue;
    auto it = run.counters.find("bytes_per_second");
    if (it != run.counters.end()) bytes_per_second_[run.run_name.str()] = it->second.value;
  }
}

void ratio_reporter::Finalize() {
  std::printf("\n%-34s %12s %12s %8s\n", "benchmark", "GB/s", "copy GB/s", "ratio");
  for (const auto& [name, rate] : bytes_per_second_) {
    const auto first = name.find('/');
    const auto second = name.find('/', first + 1);
    if (name.compare(0, first, "copy") == 0 || second == std::string::npos) continue;
    const std::string baseline = "copy" + name.substr(first);
    auto base = bytes_per_second_.find(baseline);
    if (base == bytes_per_second_.end()) continue;
    std::printf("%-34s %12.2f %12.2f %8.2f\n", name.c_str(), rate / 1e9, base->second / 1e9, rate / base->second);
  }
  ConsoleReporter::Finalize();
}

}  // namespace gapm::bench
