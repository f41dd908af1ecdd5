// Options: textual names, parsing from argv and the environment, validation.
#include <gapm/options.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

#include "host/common/cores.hpp"
#include "host/common/expects.hpp"

extern char** environ;

namespace gapm {
namespace {

// --- value codecs ------------------------------------------------------------------------

template <class Int>
Int parse_int(std::string_view name, std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  GAPM_EXPECTS(ec == std::errc{} && end == text.data() + text.size(),
               "option '", name, "': '", text, "' is not a valid integer");
  return value;
}

double parse_double(std::string_view name, std::string_view text) {
  if (text == "inf") return std::numeric_limits<double>::infinity();
  std::string owned(text);
  char* end = nullptr;
  double value = std::strtod(owned.c_str(), &end);
  GAPM_EXPECTS(!owned.empty() && end == owned.c_str() + owned.size() && !std::isnan(value),
               "option '", name, "': '", text, "' is not a valid number");
  return value;
}

bool parse_bool(std::string_view name, std::string_view text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  throw logic_error(detail::concat("gapm: option '", name, "': '", text,
                                   "' is not a boolean (true/false/1/0)"));
}

// One enum <-> text table per enum, so parsing and printing cannot drift apart.
template <class Enum>
struct enum_name {
  Enum value;
  std::string_view text;
};

template <class Enum, std::size_t N>
Enum parse_enum(std::string_view name, std::string_view text,
                const enum_name<Enum> (&table)[N]) {
  for (const auto& entry : table)
    if (entry.text == text) return entry.value;
  std::string choices;
  for (const auto& entry : table) choices += (choices.empty() ? "" : " | ") + std::string(entry.text);
  throw logic_error(detail::concat("gapm: option '", name, "': '", text,
                                   "' is not one of ", choices));
}

template <class Enum, std::size_t N>
std::string print_enum(Enum value, const enum_name<Enum> (&table)[N]) {
  for (const auto& entry : table)
    if (entry.value == value) return std::string(entry.text);
  return "?";
}

constexpr enum_name<technique_mode> technique_names[] = {
    {technique_mode::all, "all"},
    {technique_mode::replication_only, "replication_only"},
    {technique_mode::relocation_only, "relocation_only"},
    {technique_mode::none, "none"}};
constexpr enum_name<sampling_mode> scheme_names[] = {
    {sampling_mode::naive, "naive"},
    {sampling_mode::preloc, "preloc"},
    {sampling_mode::pool, "pool"},
    {sampling_mode::local, "local"}};
constexpr enum_name<store_kind> store_names[] = {
    {store_kind::auto_select, "auto"}, {store_kind::cpu, "cpu"}, {store_kind::cuda, "cuda"}};
constexpr enum_name<data_plane_kind> plane_names[] = {
    {data_plane_kind::auto_select, "auto"}, {data_plane_kind::tcp, "tcp"}, {data_plane_kind::nccl, "nccl"}};

std::vector<table_spec> parse_tables(std::string_view name, std::string_view text) {
  std::vector<table_spec> tables;
  if (text.empty()) return tables;
  // Every comma separates two tables: "10x4," and "10x4,,5x2" name an empty table.
  for (std::size_t at = 0;;) {
    const auto comma = text.find(',', at);
    const std::string_view item = text.substr(at, comma == std::string_view::npos ? text.npos : comma - at);
    const auto x = item.find('x');
    GAPM_EXPECTS(!item.empty() && x != std::string_view::npos && x > 0 && x + 1 < item.size(), "option '", name,
                 "': '", item, "' (table ", tables.size(), " of '", text, "') is not NUM_KEYSxROW_LENGTH (e.g. 1000x16)");
    tables.push_back({parse_int<std::uint64_t>(name, item.substr(0, x)), parse_int<std::uint32_t>(name, item.substr(x + 1))});
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return tables;
}

std::string print_tables(const std::vector<table_spec>& tables) {
  std::string text;
  for (const auto& t : tables)
    text += (text.empty() ? "" : ",") + std::to_string(t.num_keys) + "x" + std::to_string(t.row_length);
  return text;
}

std::string print_double(double value) {
  // The shortest text that reads back as exactly `value` (0.1, not 0.10000000000000001).
  std::array<char, 32> text{};
  const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
  return std::string(text.data(), end);
}

// --- the option table ------------------------------------------------------------------

struct option_codec {
  std::string name;
  std::function<void(Options&, std::string_view)> set;
  std::function<std::string(const Options&)> get;
};

// A plain option: parsed and printed by the type of its field.
template <class V>
option_codec value_option(std::string name, V Options::*field) {
  return {name,
          [name, field](Options& o, std::string_view v) {
            if constexpr (std::is_same_v<V, bool>) o.*field = parse_bool(name, v);
            else if constexpr (std::is_floating_point_v<V>) o.*field = parse_double(name, v);
            else o.*field = parse_int<V>(name, v);
          },
          [field](const Options& o) -> std::string {
            if constexpr (std::is_same_v<V, bool>) return o.*field ? "true" : "false";
            else if constexpr (std::is_floating_point_v<V>) return print_double(o.*field);
            else return std::to_string(o.*field);
          }};
}

template <class Enum, std::size_t N>
option_codec enum_option(std::string name, Enum Options::*field, const enum_name<Enum> (&table)[N]) {
  return {name, [name, field, &table](Options& o, std::string_view v) { o.*field = parse_enum(name, v, table); },
          [field, &table](const Options& o) { return print_enum(o.*field, table); }};
}

const std::vector<option_codec>& codecs() {
  static const std::vector<option_codec> table = {
      {"tables", [](Options& o, std::string_view v) { o.tables = parse_tables("tables", v); },
       [](const Options& o) { return print_tables(o.tables); }},
      value_option("workers", &Options::workers),
      enum_option("techniques", &Options::techniques, technique_names),
      value_option("time_intent_actions", &Options::time_intent_actions),
      value_option("location_caches", &Options::location_caches),
      value_option("sync.channels", &Options::sync_channels),
      value_option("sync.max_per_sec", &Options::sync_max_per_sec),
      value_option("sync.threshold", &Options::sync_threshold),
      value_option("timing.initial_estimate", &Options::timing_initial_estimate),
      value_option("timing.smoothing", &Options::timing_smoothing),
      value_option("timing.quantile", &Options::timing_quantile),
      enum_option("sampling.scheme", &Options::sampling_scheme, scheme_names),
      value_option("sampling.pool_size", &Options::sampling_pool_size),
      value_option("sampling.reuse", &Options::sampling_reuse),
      value_option("sampling.batch_size", &Options::sampling_batch_size),
      enum_option("store", &Options::store, store_names),
      enum_option("data_plane", &Options::data_plane, plane_names),
      value_option("capacity", &Options::capacity),
      value_option("capacity_fraction", &Options::capacity_fraction),
      value_option("state.dense_mb", &Options::state_dense_mb),
      value_option("print_stats", &Options::print_stats),
      value_option("rendezvous_timeout_s", &Options::rendezvous_timeout_s),
      value_option("peer_timeout_s", &Options::peer_timeout_s),
      value_option("barrier_timeout_s", &Options::barrier_timeout_s),
      value_option("sync.round_timeout_s", &Options::sync_round_timeout_s),
      // Benchmark-only network model (comm/shaped_transport.hpp).
      value_option("net.latency_us", &Options::net_latency_us),
      value_option("net.bandwidth_gbps", &Options::net_bandwidth_gbps),
  };
  return table;
}

const option_codec& codec(std::string_view name) {
  for (const auto& c : codecs())
    if (c.name == name) return c;
  throw logic_error(detail::concat("gapm: unknown option '", name, "'"));
}

// GAPM_SYNC_MAX_PER_SEC -> sync.max_per_sec: match against the known names, since both '.'
// and '_' appear in them.
std::string name_from_env(std::string_view variable) {
  for (const auto& c : codecs()) {
    std::string expected = "GAPM_";
    for (char ch : c.name) expected += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
    if (expected == variable) return c.name;
  }
  throw logic_error(detail::concat("gapm: unknown option in environment variable '", variable, "'"));
}

// Environment variables with the GAPM_ prefix that belong to the launcher, not to Options.
// GAPM_JOB_TOKEN is the job's secret (comm/job_auth.hpp): never an option, never printed.
bool is_launcher_variable(std::string_view variable) {
  return variable == "GAPM_RUN_ID" || variable == "GAPM_VERBOSE" || variable == "GAPM_JOB_TOKEN";
}

// `value` in [low, high] (both finite), or an error naming the option, the range and why.
std::string print_bound(double bound) {
  if (bound == std::floor(bound) && std::abs(bound) < 1e15) return std::to_string(static_cast<std::int64_t>(bound));
  return print_double(bound);
}

void expect_range(std::string_view name, double value, double low, double high, std::string_view why = {}) {
  GAPM_EXPECTS(value >= low && value <= high, "option '", name, "' must be in [", print_bound(low), ", ",
               print_bound(high), "]",
               why.empty() ? std::string() : " (" + std::string(why) + ")", ", got ", print_double(value));
}

}  // namespace

void Options::set(std::string_view name, std::string_view value) {
  Options changed = *this;  // parse into a copy: a malformed value changes nothing
  codec(name).set(changed, value);
  *this = std::move(changed);
}

std::string Options::get(std::string_view name) const { return codec(name).get(*this); }

const std::vector<std::string>& Options::names() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> out;
    for (const auto& c : codecs()) out.push_back(c.name);
    return out;
  }();
  return all;
}

Options Options::parse(int argc, const char* const* argv, Options base) {
  constexpr std::string_view prefix = "--gapm.";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with(prefix)) continue;
    arg.remove_prefix(prefix.size());
    auto eq = arg.find('=');
    if (eq != std::string_view::npos) {
      base.set(arg.substr(0, eq), arg.substr(eq + 1));
    } else {
      GAPM_EXPECTS(i + 1 < argc, "option '", arg, "' has no value");
      base.set(arg, argv[++i]);
    }
  }
  return base;
}

Options Options::parse(int argc, const char* const* argv) { return parse(argc, argv, Options{}); }

Options Options::from_env() { return from_env(Options{}); }

Options Options::from_env(Options base) {
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text = *entry;
    if (!text.starts_with("GAPM_")) continue;
    auto eq = text.find('=');
    std::string_view variable = text.substr(0, eq);
    if (is_launcher_variable(variable)) continue;
    base.set(name_from_env(variable), eq == std::string_view::npos ? "" : text.substr(eq + 1));
  }
  return base;
}

void Options::validate() const {
  // Model layout: what memory_plan cannot see (it checks the bytes against the machine).
  constexpr std::size_t max_tables = 4096;
  constexpr std::uint32_t max_row_length = 1u << 20;       // 8 MiB rows of int64
  constexpr std::uint64_t max_slots = (1ull << 31) - 1;    // a table's slot index is int32
  GAPM_EXPECTS(!tables.empty(), "option 'tables' is empty: give at least one table (e.g. tables=1000x16)");
  GAPM_EXPECTS(tables.size() <= max_tables, "option 'tables' names ", tables.size(), " tables; at most ", max_tables);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    GAPM_EXPECTS(tables[i].num_keys > 0, "option 'tables': table ", i, " has no keys");
    GAPM_EXPECTS(tables[i].row_length > 0, "option 'tables': table ", i, " has row length 0");
    GAPM_EXPECTS(tables[i].row_length <= max_row_length, "option 'tables': table ", i, " has row length ",
                 tables[i].row_length, "; at most ", max_row_length);
    GAPM_EXPECTS(total + tables[i].num_keys > total, "option 'tables': the key count overflows");
    total += tables[i].num_keys;
  }
  GAPM_EXPECTS(workers >= 1 && workers <= 1024, "option 'workers' must be in [1, 1024], got ", workers);
  const int cores = detail::usable_cores();
  const int max_channels = std::max(8, 4 * cores);
  GAPM_EXPECTS(sync_channels == 0 || (sync_channels > 0 && std::has_single_bit(static_cast<unsigned>(sync_channels))),
               "option 'sync.channels' must be 0 (auto) or a power of two, got ", sync_channels);
  GAPM_EXPECTS(sync_channels <= max_channels, "option 'sync.channels' must be at most ", max_channels,
               " (max(8, 4 x the ", cores, " cores this process may use): each channel is a thread), got ",
               sync_channels);
  expect_range("sync.max_per_sec", sync_max_per_sec, 0, 1e6, "rounds per second per channel; 0 = unpaced");
  GAPM_EXPECTS(sync_threshold >= 0 || sync_threshold == -1,
               "option 'sync.threshold' must be -1, 0, positive or inf, got ", sync_threshold);
  expect_range("timing.initial_estimate", timing_initial_estimate, 1e-9, 1e9, "clocks per sync round");
  GAPM_EXPECTS(timing_smoothing >= 0 && timing_smoothing <= 1,
               "option 'timing.smoothing' must be in [0, 1], got ", timing_smoothing);
  GAPM_EXPECTS(timing_quantile > 0 && timing_quantile < 1,
               "option 'timing.quantile' must be in (0, 1), got ", timing_quantile);
  constexpr std::size_t max_sampling = 100'000'000;
  GAPM_EXPECTS(sampling_pool_size >= 1 && sampling_pool_size <= max_sampling,
               "option 'sampling.pool_size' must be in [1, ", max_sampling, "], got ", sampling_pool_size);
  GAPM_EXPECTS(sampling_reuse >= 1 && sampling_reuse <= 1'000'000,
               "option 'sampling.reuse' must be in [1, 1000000], got ", sampling_reuse);
  GAPM_EXPECTS(sampling_batch_size >= 1 && sampling_batch_size <= max_sampling,
               "option 'sampling.batch_size' must be in [1, ", max_sampling, "], got ", sampling_batch_size);
  GAPM_EXPECTS(capacity <= max_slots, "option 'capacity' must be at most ", max_slots,
               " row slots per table (0 = every key), got ", capacity);
  GAPM_EXPECTS(capacity_fraction > 0 && capacity_fraction <= 1,
               "option 'capacity_fraction' must be in (0, 1], got ", capacity_fraction);
  expect_range("rendezvous_timeout_s", rendezvous_timeout_s, 0.1, 86400, "seconds");
  expect_range("peer_timeout_s", peer_timeout_s, 0.1, 3600, "seconds");
  expect_range("barrier_timeout_s", barrier_timeout_s, 1, 30 * 86400, "seconds; at most 30 days");
  expect_range("sync.round_timeout_s", sync_round_timeout_s, 1, 86400);
  GAPM_EXPECTS(sync_round_timeout_s >= peer_timeout_s, "option 'sync.round_timeout_s' (", print_double(sync_round_timeout_s),
               ") must be at least peer_timeout_s (", print_double(peer_timeout_s),
               "): a paused peer is given peer_timeout_s before it counts as dead");
  GAPM_EXPECTS(net_latency_us >= 0 && net_latency_us <= 1e6,
               "option 'net.latency_us' must be in [0, 1000000] (microseconds; 0 = no model), got ",
               net_latency_us);
  GAPM_EXPECTS(net_bandwidth_gbps >= 0 && net_bandwidth_gbps <= 1e6,
               "option 'net.bandwidth_gbps' must be >= 0 and finite, at most 1000000 (Gbit/s per peer; 0 = unlimited), got ",
               print_double(net_bandwidth_gbps));
}

std::string Options::to_string() const {
  std::string text;
  for (const auto& c : codecs()) text += c.name + "=" + c.get(*this) + "\n";
  return text;
}

std::uint64_t Options::num_keys() const noexcept {
  std::uint64_t total = 0;
  for (const auto& t : tables) total += t.num_keys;
  return total;
}

}  // namespace gapm
