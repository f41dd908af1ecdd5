// parking_lot: messages wait for a key in transit and come back whole, when due or woken.
#include "host/adaptive/parking_lot.hpp"

#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace gapm::detail;
using namespace std::chrono_literals;

wire::message numbered(std::uint64_t n) {
  const std::vector<std::uint64_t> payload{n, n + 1};
  return wire::make_message(wire::header{.request = n, .count = 2}, payload);
}

TEST(ParkingLot, MessagesComeBackWholeWhenDueAndTheOthersStayIntact) {
  parking_lot lot(1h);
  lot.park(numbered(1), 1h);
  lot.park(numbered(2), 0s);  // due at once
  lot.park(numbered(3), 1h);
  auto due = lot.take_due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].head.request, 2u);
  EXPECT_EQ(due[0].payload.size(), 16u);
  EXPECT_FALSE(lot.empty());
  lot.wake();
  due = lot.take_due();
  ASSERT_EQ(due.size(), 2u);
  for (const auto& message : due) EXPECT_EQ(message.payload.size(), 16u) << "request " << message.head.request;
  EXPECT_TRUE(lot.empty());
}

TEST(ParkingLot, TheTimeWaitedAddsUpInTheHeader) {
  parking_lot lot(1ms);
  lot.park(numbered(7));
  std::this_thread::sleep_for(20ms);
  auto due = lot.take_due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_GE(due[0].head.waited_ms, 20);
  EXPECT_NO_THROW((void)wire::parked(due[0].head, 7));
  due[0].head.waited_ms = wire::max_wait_ms;
  EXPECT_THROW((void)wire::parked(due[0].head, 7), std::runtime_error);  // the key never came
}

// The thread that takes parked messages sleeps until the next is due, and the notifier wakes
// it whenever something is parked or the lot is woken (the receive loop's eventfd).
TEST(ParkingLot, SaysWhenTheNextMessageIsDueAndNotifiesOnParkAndWake) {
  parking_lot lot(1h);
  int notified = 0;
  lot.set_notifier([&] { ++notified; });
  EXPECT_EQ(lot.time_to_next_due(50ms), parking_lot::clock::duration(50ms));  // nothing parked: the cap
  lot.park(numbered(1), 1h);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(lot.time_to_next_due(50ms), parking_lot::clock::duration(50ms));  // due later than the cap
  lot.park(numbered(2), 10ms);
  EXPECT_EQ(notified, 2);
  const auto next = lot.time_to_next_due(50ms);
  EXPECT_GT(next, parking_lot::clock::duration::zero());
  EXPECT_LE(next, parking_lot::clock::duration(10ms));
  lot.wake();
  EXPECT_EQ(notified, 3);
  EXPECT_EQ(lot.time_to_next_due(50ms), parking_lot::clock::duration::zero());  // woken: everything is due
  EXPECT_EQ(lot.take_due().size(), 2u);
  EXPECT_EQ(lot.time_to_next_due(50ms), parking_lot::clock::duration(50ms));
}

}  // namespace
