// The typed sync messages (host/adaptive/sync_messages.hpp): what is encoded decodes to the
// same entries, and every kind of malformed payload is refused before it is used.
#include <gtest/gtest.h>

#include <gapm/errors.hpp>

#include "host/adaptive/intent_table.hpp"
#include "host/adaptive/sync_messages.hpp"

namespace {

using namespace gapm::detail;
using gapm::key_type;

const key_space keys({{40, 3}, {20, 2}});

wire::message as_message(const std::vector<std::byte>& frame) { return wire::local_message(frame); }

// Keys of channel `c` of 2 channels.
std::vector<key_type> keys_of_channel(int c) {
  std::vector<key_type> out;
  for (key_type k = 0; k < 60; ++k)
    if (channel_of(k, 2) == c) out.push_back(k);
  return out;
}

TEST(SyncMessages, ARequestRoundTripsWithDeltasAndHints) {
  const auto mine = keys_of_channel(1);
  sync_request<std::int64_t> request;
  const std::vector<std::int64_t> three{1, 2, 3}, two{7, 8};
  const auto length = [&](key_type k) { return keys.row_length_of(k); };
  request.add(mine[0], sync_ask::delta | sync_ask::refresh, 5, length(mine[0]) == 3 ? three : two);
  request.add(mine[1], sync_ask::refresh, -1, {});
  request.add(mine.back(), sync_ask::delta, 0, length(mine.back()) == 3 ? three : two, 42);
  const auto decoded = sync_request<std::int64_t>::decode(as_message(request.encode({.origin = 1, .worker = 1})), keys, 2, 1);
  EXPECT_EQ(decoded.keys, request.keys);
  EXPECT_EQ(decoded.asks, request.asks);
  EXPECT_EQ(decoded.versions, request.versions);
  EXPECT_EQ(decoded.deltas, request.deltas);
  EXPECT_EQ(decoded.hints, request.hints);
  EXPECT_TRUE(decoded.wants_refresh(1));
  EXPECT_FALSE(decoded.has_delta(1));
  EXPECT_EQ(std::vector<std::int64_t>(decoded.delta(2).begin(), decoded.delta(2).end()),
            length(mine.back()) == 3 ? three : two);
  const auto picked = decoded.pick(std::vector<std::uint32_t>{2, 0});
  EXPECT_EQ(picked.keys, (std::vector<key_type>{mine.back(), mine[0]}));
}

// Deltas placed in a device buffer follow on the data plane: the frame leaves them out, and a
// receiver that finds them neither in the frame nor on the plane refuses it. Entries without a
// delta can still be picked (forwarded) while the deltas are on the device.
TEST(SyncMessages, DeltasPlacedOnTheDeviceAreLeftOutOfTheFrame) {
  const auto mine = keys_of_channel(1);
  sync_request<float> placed;
  placed.add_placed(mine[0], sync_ask::refresh, 2, 0);
  placed.add_placed(mine[1], sync_ask::delta | sync_ask::refresh, 4, keys.row_length_of(mine[1]));
  placed.add_placed(mine[2], sync_ask::delta, 0, keys.row_length_of(mine[2]));
  EXPECT_FALSE(placed.deltas_on_host());
  EXPECT_EQ(placed.delta_values(), keys.row_length_of(mine[1]) + keys.row_length_of(mine[2]));
  const auto frame = placed.encode({.origin = 0, .worker = 1});
  EXPECT_THROW((void)sync_request<float>::decode(as_message(frame), keys, 2, 1), wire::malformed_message);
  EXPECT_EQ(placed.pick(std::vector<std::uint32_t>{0}).keys, (std::vector<key_type>{mine[0]}));
  EXPECT_THROW((void)placed.pick(std::vector<std::uint32_t>{1}), gapm::logic_error);

  placed.deltas.assign(placed.delta_values(), 0.25f);  // the same entries with their deltas here
  ASSERT_TRUE(placed.deltas_on_host());
  const auto decoded = sync_request<float>::decode(as_message(placed.encode({.origin = 0, .worker = 1})), keys, 2, 1);
  EXPECT_EQ(decoded.deltas, placed.deltas);
  EXPECT_EQ(decoded.delta(1).size(), keys.row_length_of(mine[1]));
}

TEST(SyncMessages, AResponseRoundTrips) {
  const auto mine = keys_of_channel(0);
  sync_response<double> response;
  response.handled = 3;
  response.acknowledges = true;
  response.add(mine[0], sync_answer::current, 4);
  response.add(mine[1], sync_answer::value, 9);
  response.add(mine[2], sync_answer::relocated, 9, 17);
  response.values.assign(keys.row_length_of(mine[1]) + keys.row_length_of(mine[2]), 0.5);
  const auto decoded = sync_response<double>::decode(as_message(response.encode({.worker = 0})), keys, 2, 0);
  EXPECT_EQ(decoded.handled, 3u);
  EXPECT_TRUE(decoded.acknowledges);
  EXPECT_EQ(decoded.answers, response.answers);
  EXPECT_EQ(decoded.counters, response.counters);
  EXPECT_EQ(decoded.values, response.values);
}

TEST(SyncMessages, MalformedPayloadsAreRefused) {
  const auto mine = keys_of_channel(1), other = keys_of_channel(0);
  auto refuses = [&](const sync_request<float>& request, const std::function<void(wire::message&)>& damage) {
    auto message = as_message(request.encode({.origin = 0, .worker = 1}));
    damage(message);
    EXPECT_THROW((void)sync_request<float>::decode(message, keys, 2, 1), wire::malformed_message);
  };
  sync_request<float> good;
  good.add(mine[0], sync_ask::refresh, 1, {});
  refuses(good, [](wire::message& m) { m.payload.pop_back(); });                            // cut short
  refuses(good, [](wire::message& m) { m.payload.push_back(std::byte{0}); });               // too long
  refuses(good, [](wire::message& m) { m.head.count = 2; });                                 // lying count
  refuses(good, [](wire::message& m) { m.payload[8] = std::byte{7}; });                      // unknown ask
  sync_request<float> foreign;
  foreign.add(other[0], sync_ask::refresh, 1, {});
  refuses(foreign, [](wire::message&) {});                                                   // another channel
  sync_request<float> outside;
  outside.add(1000, sync_ask::refresh, 1, {});
  refuses(outside, [](wire::message&) {});                                                   // out of range
  sync_response<float> too_many;
  too_many.add(mine[0], sync_answer::current, 1);  // an answer, but nothing handled
  EXPECT_THROW((void)sync_response<float>::decode(as_message(too_many.encode({.worker = 1})), keys, 2, 1),
               wire::malformed_message);
}

TEST(SyncMessages, ADirectoryUpdateTakesOnlyKeysHomedAtTheReceiver) {
  directory_update update;
  update.keys = {3, 6};
  update.owners = {2, 1};
  update.counters = {4, 5};
  const auto message = as_message(update.encode({}));
  EXPECT_EQ(directory_update::decode(message, keys, 0, 3).owners, update.owners);
  EXPECT_THROW((void)directory_update::decode(message, keys, 1, 3), wire::malformed_message);
  update.owners = {2, 3};
  EXPECT_THROW((void)directory_update::decode(as_message(update.encode({})), keys, 0, 3), wire::malformed_message);
}

}  // namespace
