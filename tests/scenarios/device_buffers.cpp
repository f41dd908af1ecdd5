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

  // A user stream that becomes busy after the pull and stays so until after wait() has
  // returned: the rows land behind that work, and what the stream reads next is the pulled
  // rows. (The pull itself reads its keys and local rows in the stream's order, so the stream
  // is held only once it has returned.)
  gapm::detail::device_stream user = rt.create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  const gapm::Ticket ticket = w.pull_async(keys.data(), n, async_out, gapm::stream_view{user});
  rt.host_task(user, [opened] { opened.wait(); });
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

// Pushes with device keys and deltas left queued on a user's stream (push_async) while the
// keys are replicated, relocated and dropped under intent churn: every node reads exactly the
// sum of all pushes at the end. Each node's schedule is a function of its rank, so every node
// knows what all of them pushed.
GAPM_SCENARIO(device_async_writes) {
  auto& rt = gapm::detail::emulated_device();
  const int device = env_int("LOCAL_RANK", 0) % rt.device_count();
  rt.set_device(device);
  constexpr key_type hot_keys = 64;
  constexpr std::size_t per_push = 8;
  constexpr std::uint32_t row = 4;
  const int iterations = env_int("SCENARIO_ITERATIONS", 300);
  gapm::Options o;
  o.tables = {{hot_keys, row}};
  o.store = gapm::store_kind::cuda;
  gapm::Node<value> node(gapm::Options::from_env(o));
  gapm::Worker<value> w(node, 0);
  const int world = node.world_size();
  auto schedule = [](int rank, int i) {
    std::vector<key_type> keys(per_push);
    for (std::size_t j = 0; j < per_push; ++j)
      keys[j] = static_cast<key_type>(i * 7 + rank * 13 + static_cast<int>(j) * 3 + (i / 10) * rank) % hot_keys;
    return keys;
  };

  gapm::detail::device_stream user = rt.create_stream();
  std::vector<void*> buffers;  // device buffers of queued work: freed once the stream is done
  auto device_copy = [&](const auto& host) {
    using V = typename std::decay_t<decltype(host)>::value_type;
    auto* on_device = static_cast<V*>(rt.allocate_now(host.size() * sizeof(V)));
    std::copy(host.begin(), host.end(), on_device);
    buffers.push_back(on_device);
    return on_device;
  };
  for (int i = 0; i < iterations; ++i) {
    const auto keys = schedule(node.rank(), i);
    w.intent(keys.data(), keys.size(), w.clock() + 1, w.clock() + 4);
    const std::vector<value> deltas(per_push * row, node.rank() + 1);
    w.push_async(device_copy(keys), keys.size(), device_copy(deltas), gapm::stream_view{user});
    if (i % 10 == 0) {
      auto* out = static_cast<value*>(rt.allocate_now(per_push * row * sizeof(value)));
      buffers.push_back(out);
      w.wait(w.pull_async(device_copy(keys), keys.size(), out, gapm::stream_view{user}));
    }
    w.advance_clock();
  }
  rt.synchronize(user);
  w.wait_all();
  quiesce(w);

  std::vector<value> expected(hot_keys * row, 0);
  for (int r = 0; r < world; ++r)
    for (int i = 0; i < iterations; ++i)
      for (key_type k : schedule(r, i))
        for (std::uint32_t j = 0; j < row; ++j) expected[k * row + j] += r + 1;
  std::vector<key_type> all(hot_keys);
  std::iota(all.begin(), all.end(), key_type{0});
  std::vector<value> got(hot_keys * row);
  w.wait(w.pull(all.data(), all.size(), got.data()));
  for (key_type k = 0; k < hot_keys; ++k)
    expect_equal(got[k * row], expected[k * row], "key " + std::to_string(k));
  const auto stats = node.stats();
  expect_true(world == 1 || stats.replicas_created + stats.relocations > 0, "keys were replicated or relocated");
  std::cout << "replicas " << stats.replicas_created << " relocations " << stats.relocations << ", deltas sent "
            << stats.deltas_sent << " (" << stats.plane_delta_bytes_sent << " B on the data plane)\n";

  rt.destroy_stream(user);
  for (void* b : buffers) rt.free_now(b);
  w.finalize();
  node.shutdown();
  // Sync threads too (deltas taken into device buffers, answers gathered, rows received).
  const std::set<int> used = rt.devices_used();
  expect_true(used == std::set<int>{device}, "every thread of node " + std::to_string(node.rank()) +
                                                 " kept to device " + std::to_string(device) + " (used " +
                                                 std::to_string(used.size()) + " devices)");
  return exit_code();
}

}  // namespace
