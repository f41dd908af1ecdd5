// Scenarios of the device_scenarios program: nodes on the emulated device (cuda/emulation/)
// whose workers pass device buffers. Run by tests/test_emulated_cluster.cpp.
#include <future>
#include <numeric>
#include <set>
#include <vector>

#include "cuda/emulation/emulated_runtime.hpp"
#include "scenario.hpp"

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using value = std::int64_t;

// Pulls of keys held by other nodes into device buffers: with pull (blocking) the rows are in
// the buffer when wait() returns; with pull_async they land in the stream's order, after work
// enqueued before the pull, even when the stream is busy until after wait() has returned. And
// no thread of a node ever works on another node's device (the receive thread included).
GAPM_SCENARIO(device_remote_pull) {
  auto& rt = gapm::detail::emulated_device();
  const int rank = env_int("RANK", 0);
  const int device = env_int("LOCAL_RANK", 0) % rt.device_count();
  rt.set_device(device);
  gapm::Options o;
  o.tables = {{600, 8}, {90, 3}};
  o.store = gapm::store_kind::cuda;
  o.techniques = gapm::technique_mode::none;  // keys stay home: most pulls are remote
  gapm::Node<value> node(gapm::Options::from_env(o));
  gapm::Worker<value> w(node, 0);
  const std::size_t n = node.num_keys();
  std::vector<key_type> keys(n);
  std::iota(keys.begin(), keys.end(), key_type{0});
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + node.row_length(keys[i]);
  const std::size_t values = offsets[n];

  // Every node adds rank + 1 to every value, so each reads world * (world + 1) / 2.
  w.wait(w.push(keys.data(), n, std::vector<value>(values, rank + 1).data()));
  w.wait_all();
  w.barrier();
  const int world = node.world_size();
  const value expected = static_cast<value>(world) * (world + 1) / 2;

  auto* dkeys = static_cast<key_type*>(rt.allocate_now(n * sizeof(key_type)));
  std::copy(keys.begin(), keys.end(), dkeys);
  auto* blocking_out = static_cast<value*>(rt.allocate_now(values * sizeof(value)));
  auto* async_out = static_cast<value*>(rt.allocate_now(values * sizeof(value)));
  std::fill_n(blocking_out, values, -1);
  std::fill_n(async_out, values, -1);

  w.wait(w.pull(dkeys, n, blocking_out));
  expect_true(std::all_of(blocking_out, blocking_out + values, [&](value v) { return v == expected; }),
              "a blocking pull into a device buffer is complete when wait() returns");

  // A user stream busy until after wait() has returned; what it reads after the pull must be
  // the pulled rows. (Keys in host memory: device keys would be read in the stream's order,
  // which is held here.)
  gapm::detail::device_stream user = rt.create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  rt.host_task(user, [opened] { opened.wait(); });
  const gapm::Ticket ticket = w.pull_async(keys.data(), n, async_out, gapm::stream_view{user});
  w.wait(ticket);
  std::vector<value> seen_by_stream;
  rt.host_task(user, [&] { seen_by_stream.assign(async_out, async_out + values); });
  gate.set_value();
  rt.synchronize(user);
  rt.destroy_stream(user);
  expect_true(std::all_of(seen_by_stream.begin(), seen_by_stream.end(), [&](value v) { return v == expected; }),
              "work enqueued on the stream after an async pull sees its rows");
  expect_true(node.stats().pulls_remote > 0, "some pulls were remote");

  rt.free_now(dkeys);
  rt.free_now(blocking_out);
  rt.free_now(async_out);
  w.finalize();
  node.shutdown();
  const std::set<int> used = rt.devices_used();
  expect_true(used == std::set<int>{device}, "every thread of node " + std::to_string(rank) + " kept to device " +
                                                 std::to_string(device) + " (used " + std::to_string(used.size()) +
                                                 " devices)");
  return exit_code();
}

}  // namespace
