// Options: names, parsing from argv and the environment, validation, exact error messages.
#include <gapm/gapm.hpp>

#include <cmath>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "expect_error.hpp"

namespace {

using gapm::testing::expect_error;

TEST(Options, DefaultsFollowAdaPM) {
  gapm::Options o;
  EXPECT_EQ(o.techniques, gapm::technique_mode::all);
  EXPECT_TRUE(o.time_intent_actions);
  EXPECT_TRUE(o.location_caches);
  EXPECT_EQ(o.sync_channels, 0);  // auto: 4 with enough cores per process (AdaPM's 4), fewer below
  EXPECT_EQ(o.sync_max_per_sec, 1000);
  EXPECT_EQ(o.sync_threshold, 0);
  EXPECT_EQ(o.timing_initial_estimate, 10);
  EXPECT_EQ(o.timing_smoothing, 0.1);
  EXPECT_EQ(o.timing_quantile, 0.9999);
  EXPECT_EQ(o.sampling_scheme, gapm::sampling_mode::local);
  EXPECT_EQ(o.sampling_pool_size, 250u);
  EXPECT_EQ(o.sampling_reuse, 1u);
  EXPECT_EQ(o.sampling_batch_size, 10000u);
}

TEST(Options, ParsesArgvAndLeavesOtherArguments) {
  const char* argv[] = {"prog", "--epochs=3", "--gapm.sync.max_per_sec=500", "--gapm.techniques",
                        "relocation_only", "--gapm.tables=10x4,5x2", "--gapm.sync.threshold=inf"};
  auto o = gapm::Options::parse(7, argv);
  EXPECT_EQ(o.sync_max_per_sec, 500);
  EXPECT_EQ(o.techniques, gapm::technique_mode::relocation_only);
  ASSERT_EQ(o.tables.size(), 2u);
  EXPECT_EQ(o.tables[0], (gapm::table_spec{10, 4}));
  EXPECT_EQ(o.tables[1], (gapm::table_spec{5, 2}));
  EXPECT_EQ(o.num_keys(), 15u);
  EXPECT_TRUE(std::isinf(o.sync_threshold));
}

TEST(Options, UnknownAndMalformedOptionsNameTheOption) {
  const char* unknown[] = {"prog", "--gapm.sync.max_per_second=5"};
  expect_error([&] { (void)gapm::Options::parse(2, unknown); }, "'sync.max_per_second'");
  const char* malformed[] = {"prog", "--gapm.sync.channels=four"};
  expect_error([&] { (void)gapm::Options::parse(2, malformed); }, "'sync.channels'");
  const char* bad_enum[] = {"prog", "--gapm.techniques=some"};
  expect_error([&] { (void)gapm::Options::parse(2, bad_enum); }, "not one of all | replication_only");
  const char* bad_table[] = {"prog", "--gapm.tables=10y4"};
  expect_error([&] { (void)gapm::Options::parse(2, bad_table); }, "NUM_KEYSxROW_LENGTH");
  const char* no_value[] = {"prog", "--gapm.workers"};
  expect_error([&] { (void)gapm::Options::parse(2, no_value); }, "'workers' has no value");
}

TEST(Options, MalformedValueChangesNothing) {
  gapm::Options o;
  o.sync_channels = 8;
  expect_error([&] { o.set("sync.channels", "8x"); }, "'sync.channels'");
  EXPECT_EQ(o.sync_channels, 8);
}

TEST(Options, ReadsEnvironment) {
  ::setenv("GAPM_SYNC_MAX_PER_SEC", "250", 1);
  ::setenv("GAPM_TIME_INTENT_ACTIONS", "false", 1);
  auto o = gapm::Options::from_env();
  EXPECT_EQ(o.sync_max_per_sec, 250);
  EXPECT_FALSE(o.time_intent_actions);
  ::setenv("GAPM_NOT_AN_OPTION", "1", 1);
  expect_error([] { (void)gapm::Options::from_env(); }, "GAPM_NOT_AN_OPTION");
  ::unsetenv("GAPM_NOT_AN_OPTION");
  ::unsetenv("GAPM_SYNC_MAX_PER_SEC");
  ::unsetenv("GAPM_TIME_INTENT_ACTIONS");
}

TEST(Options, ValidateNamesTheBadOption) {
  gapm::Options o;
  expect_error([&] { o.validate(); }, "'tables' is empty");
  o.tables = {{10, 4}};
  o.validate();
  o.sync_channels = 3;
  expect_error([&] { o.validate(); }, "'sync.channels' must be 0 (auto) or a power of two, got 3");
  o.sync_channels = 4;
  o.tables = {{10, 0}};
  expect_error([&] { o.validate(); }, "row length 0");
  o.tables = {{10, 4}};
  o.timing_quantile = 1.5;
  expect_error([&] { o.validate(); }, "'timing.quantile'");
}

TEST(Options, ATableListWithAnEmptyItemIsAnError) {
  gapm::Options o;
  for (const char* text : {"10x4,", "10x4,,5x2", ",10x4", "x4", "10x", "10x4,5"}) {
    expect_error([&] { o.set("tables", text); }, "is not NUM_KEYSxROW_LENGTH");
    EXPECT_TRUE(o.tables.empty()) << text;
  }
  o.set("tables", "10x4,5x2");
  EXPECT_EQ(o.tables.size(), 2u);
}

// Each of these was accepted: 4096 channel threads per process, a cast of inf to an integer
// (undefined behaviour that made peers "dead" after a few milliseconds), an absurd pool.
TEST(Options, EveryNumericOptionHasARangeCheckedAtStart) {
  auto rejects = [](const char* name, const char* value, const std::string& words) {
    gapm::Options o;
    o.tables = {{10, 4}};
    o.set(name, value);
    expect_error([&] { o.validate(); }, words);
  };
  rejects("sync.channels", "4096", "option 'sync.channels' must be at most");
  rejects("sync.channels", "-2", "0 (auto) or a power of two");
  rejects("sync.channels", "-2147483648", "0 (auto) or a power of two");  // one bit set, as unsigned
  rejects("sync.channels", "6", "0 (auto) or a power of two");
  rejects("workers", "0", "option 'workers' must be in [1, 1024], got 0");
  rejects("workers", "100000", "option 'workers' must be in [1, 1024]");
  rejects("peer_timeout_s", "inf", "option 'peer_timeout_s' must be in [0.1, 3600]");
  rejects("peer_timeout_s", "1e300", "option 'peer_timeout_s' must be in [0.1, 3600]");
  rejects("peer_timeout_s", "0", "option 'peer_timeout_s'");
  rejects("rendezvous_timeout_s", "inf", "option 'rendezvous_timeout_s' must be in [0.1, 86400]");
  rejects("rendezvous_timeout_s", "-1", "option 'rendezvous_timeout_s'");
  rejects("barrier_timeout_s", "inf", "option 'barrier_timeout_s' must be in [1, 2592000]");
  rejects("sync.round_timeout_s", "0.5", "option 'sync.round_timeout_s' must be in [1, 86400]");
  rejects("sync.round_timeout_s", "2", "must be at least peer_timeout_s");  // default peer_timeout_s: 5
  rejects("sync.max_per_sec", "inf", "option 'sync.max_per_sec' must be in [0, 1000000]");
  rejects("timing.initial_estimate", "inf", "option 'timing.initial_estimate' must be in [1e-09, 1000000000]");
  rejects("sampling.pool_size", "1000000000", "option 'sampling.pool_size' must be in [1, 100000000]");
  rejects("sampling.reuse", "18446744073709551615", "option 'sampling.reuse' must be in [1, 1000000]");
  rejects("sampling.batch_size", "0", "option 'sampling.batch_size'");
  rejects("capacity", "4294967296", "option 'capacity' must be at most 2147483647");
  rejects("tables", "10x2000000", "row length 2000000; at most 1048576");
  // The defaults and ordinary values pass.
  gapm::Options o;
  o.tables = {{10, 4}};
  o.validate();
  o.set("sync.channels", "8");
  o.set("peer_timeout_s", "0.5");
  o.set("sync.round_timeout_s", "1");
  o.set("barrier_timeout_s", "86400");
  o.validate();
}

TEST(Options, TextRoundTripsEveryOption) {
  gapm::Options o;
  o.tables = {{7, 3}, {2, 1}};
  o.sampling_scheme = gapm::sampling_mode::pool;
  o.sync_threshold = -1;
  gapm::Options copy;
  for (const auto& name : gapm::Options::names()) copy.set(name, o.get(name));
  EXPECT_EQ(copy.to_string(), o.to_string());
  EXPECT_NE(o.to_string().find("sampling.scheme=pool\n"), std::string::npos);
}

}  // namespace
