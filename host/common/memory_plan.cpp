#include "host/common/memory_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

constexpr std::uint64_t kib = 1024;

// At start: a presence bit per home key (the slot index), and with several nodes a byte per
// key of the key space (role and shared mark), the location cache (8 bytes an entry, at most
// 2^20 entries for the whole node), for tables where it costs at most 1/16 of the home rows
// the slot index's dense array (4 bytes per key), and within option state.dense_mb the
// records and the directory as arrays. Records, directory entries and the rows of other
// keys grow with what the node takes on later (host/adaptive/key_states.hpp).
constexpr std::uint64_t home_keys_per_index_byte = 8;
constexpr std::uint64_t state_bytes_per_key = 1;
constexpr std::uint64_t cache_bytes_per_entry = 8;
constexpr std::uint64_t max_cache_entries = std::uint64_t{1} << 20;

// a * b, saturating: a row length of 2^32 - 1 times 10^12 keys must not wrap around.
std::uint64_t times(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

std::uint64_t plus(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

std::uint64_t meminfo_kib(const std::string& field) {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  return 0;
}

std::uint64_t cgroup_room() {
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  std::string max_text;
  std::uint64_t current = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(current_file >> current))
    return std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = std::stoull(max_text);
  return limit > current ? limit - current : 0;
}

}  // namespace

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 6) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

bool dense_state_fits(std::uint64_t num_keys, int world_size, std::uint64_t budget, std::uint64_t record_bytes) noexcept {
  const auto world = static_cast<std::uint64_t>(world_size);
  return plus(times(num_keys, record_bytes + 4), times(num_keys / world + 1, 8)) <= budget;
}

std::uint64_t planned_bytes(const memory_plan_input& in, std::size_t t, std::string& what) {
  const table_spec& table = in.keys->table(t);
  const auto world = static_cast<std::uint64_t>(in.world_size);
  const std::uint64_t home_keys = table.num_keys / world + (static_cast<std::uint64_t>(in.rank) < table.num_keys % world);
  const std::uint64_t rows = in.rows_on_host ? times(times(home_keys, table.row_length), in.value_bytes) : 0;
  std::uint64_t bookkeeping = home_keys / home_keys_per_index_byte + 8;
  if (in.world_size > 1) {
    bookkeeping = plus(bookkeeping, times(table.num_keys, state_bytes_per_key));
    // Records, directory and slot index as arrays over all keys, within the budget (key_states).
    const bool dense = dense_state_fits(in.keys->num_keys(), in.world_size, in.dense_state_bytes);
    if (t == 0) bookkeeping = plus(bookkeeping, std::min(in.keys->num_keys(), max_cache_entries) * cache_bytes_per_entry);
    if (dense) bookkeeping = plus(bookkeeping, times(table.num_keys, 24 + 4) + times(home_keys, 8));
    // Else the slot index's dense array for keys homed elsewhere, where it is cheap (slot_index.hpp).
    const std::uint64_t home_row_bytes = times(times(home_keys, table.row_length), in.value_bytes);
    if (!dense && times(table.num_keys, 4 * 16) <= home_row_bytes) bookkeeping = plus(bookkeeping, times(table.num_keys, 4));
  }
  std::ostringstream os;
  if (in.rows_on_host) os << "rows of its " << home_keys << " home keys " << human_bytes(static_cast<double>(rows)) << ", ";
  os << "bookkeeping for " << table.num_keys << " keys " << human_bytes(static_cast<double>(bookkeeping));
  what = os.str();
  return plus(rows, bookkeeping);
}

std::uint64_t available_memory_bytes() {
  const std::uint64_t meminfo = times(plus(meminfo_kib("MemAvailable"), meminfo_kib("SwapFree")), kib);
  const std::uint64_t cgroup = cgroup_room();
  if (meminfo == 0) return cgroup;  // no /proc/meminfo: trust the cgroup (or nothing)
  return std::min(meminfo, cgroup);
}

void check_memory_plan(const memory_plan_input& in, std::uint64_t available) {
  std::uint64_t total = 0;
  for (std::size_t t = 0; t < in.keys->num_tables(); ++t) {
    std::string what;
    const std::uint64_t bytes = planned_bytes(in, t, what);
    total = plus(total, bytes);
    if (total <= available) continue;
    const table_spec& table = in.keys->table(t);
    throw error(concat("gapm: node ", in.rank, " of ", in.world_size, ": table ", t, " (", table.num_keys, " keys x ",
                       table.row_length, " values of ", in.value_bytes, " bytes) needs ",
                       human_bytes(static_cast<double>(bytes)), " of host memory on this node (", what, ")",
                       t > 0 ? concat(", ", human_bytes(static_cast<double>(total)), " with the tables before it")
                             : std::string(),
                       ", but only ", human_bytes(static_cast<double>(available)),
                       " are available (option 'tables'; more nodes share the rows)"));
  }
}

}  // namespace gapm::detail
