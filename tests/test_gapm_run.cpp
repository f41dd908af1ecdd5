// gapm-run: starts N processes with the rendezvous environment, prefixes their output with
// the rank, and on a failure stops the others and exits with the failure's code.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "process_cluster.hpp"

namespace {

std::string run(const std::string& command, int& code) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

const std::string gapm_run = GAPM_RUN_BINARY;

TEST(GapmRun, RunsTheQuickstartOnThreeNodes) {
#ifndef GAPM_QUICKSTART_BINARY
  GTEST_SKIP() << "the samples are not built (GAPM_BUILD_SAMPLES=OFF)";
#else
  int code = -1;
  auto output = run(gapm_run + " -n 3 -- " + GAPM_QUICKSTART_BINARY + " --clocks=200", code);
  EXPECT_EQ(code, 0) << output;
  for (int r = 0; r < 3; ++r)
    EXPECT_NE(output.find("[" + std::to_string(r) + "] node " + std::to_string(r) + ": all rows exact"),
              std::string::npos)
        << output;
#endif
}

TEST(GapmRun, GivesEveryProcessItsRankAndPrefixesItsLines) {
  int code = -1;
  auto output = run(gapm_run + " -n 2 -- sh -c 'echo rank=$RANK world=$WORLD_SIZE port=$MASTER_PORT'", code);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("[0] rank=0 world=2 port="), std::string::npos) << output;
  EXPECT_NE(output.find("[1] rank=1 world=2 port="), std::string::npos) << output;
}

TEST(GapmRun, GivesEveryProcessTheSameJobTokenItsOwnOrTheCallers) {
  int code = -1;
  auto output = run("env -u GAPM_JOB_TOKEN " + gapm_run + " -n 2 -- sh -c 'echo token=$GAPM_JOB_TOKEN'", code);
  EXPECT_EQ(code, 0) << output;
  const auto token_of = [&](int rank) {
    const std::string tag = "[" + std::to_string(rank) + "] token=";
    const auto at = output.find(tag);
    return at == std::string::npos ? std::string() : output.substr(at + tag.size(), output.find('\n', at) - at - tag.size());
  };
  EXPECT_EQ(token_of(0).size(), 48u) << output;  // 24 random bytes in hex
  EXPECT_EQ(token_of(0), token_of(1)) << output;
  const auto first = token_of(0);
  output = run("env -u GAPM_JOB_TOKEN " + gapm_run + " -n 1 -- sh -c 'echo token=$GAPM_JOB_TOKEN'", code);
  EXPECT_NE(token_of(0), first) << "a fresh token per run";
  output = run("GAPM_JOB_TOKEN=the-callers-own-token " + gapm_run + " -n 2 -- sh -c 'echo token=$GAPM_JOB_TOKEN'", code);
  EXPECT_EQ(token_of(0), "the-callers-own-token") << output;
  EXPECT_EQ(token_of(1), "the-callers-own-token") << output;
}

TEST(GapmRun, AFailureStopsTheOthersAndSetsTheExitCode) {
  int code = -1;
  const auto start = std::chrono::steady_clock::now();
  auto output = run(gapm_run + " -n 3 -- sh -c 'if [ $RANK = 1 ]; then exit 7; fi; sleep 60'", code);
  EXPECT_EQ(code, 7) << output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_NE(output.find("rank 1 exited with code 7"), std::string::npos) << output;
}

TEST(GapmRun, RejectsBadUsage) {
  int code = -1;
  auto output = run(gapm_run + " -n 0 -- true", code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("usage: gapm-run"), std::string::npos);
  output = run(gapm_run + " -n 2 -- /nonexistent/program", code);
  EXPECT_EQ(code, 127) << output;
}

}  // namespace
