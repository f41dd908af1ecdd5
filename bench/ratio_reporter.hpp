// ratio_reporter: a console reporter that also prints each benchmark's throughput as a
// ratio to its baseline from the same run.
//
// Naming convention: "<op>/<backend>/<row>/<keys>"; the baseline of backend B is the
// benchmark "copy/B/<row>/<keys>".
#pragma once

#include <map>
#include <string>

#include <benchmark/benchmark.h>

namespace gapm::bench {

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::map<std::string, double> bytes_per_second_;  // by benchmark name
};

}  // namespace gapm::bench
