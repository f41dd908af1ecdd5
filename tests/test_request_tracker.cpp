// request_tracker: tickets complete when every key is answered; failures wake all waiters.
#include "host/request_tracker.hpp"

#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace {

using gapm::detail::request_tracker;

TEST(RequestTracker, CompletesAfterEveryKeyIsAnswered) {
  request_tracker tracker;
  auto ticket = tracker.open(3);
  EXPECT_FALSE(ticket.is_local());
  EXPECT_FALSE(tracker.is_finished(ticket));
  tracker.answer(ticket.id, 2);
  EXPECT_FALSE(tracker.is_finished(ticket));
  tracker.answer(ticket.id, 1);
  EXPECT_TRUE(tracker.is_finished(ticket));
  tracker.answer(ticket.id, 1);  // a late duplicate is ignored
  EXPECT_EQ(tracker.outstanding(), 0u);
}

TEST(RequestTracker, ARequestWithNothingToWaitForIsComplete) {
  request_tracker tracker;
  auto ticket = tracker.open(0);
  EXPECT_TRUE(ticket.is_local());
  EXPECT_TRUE(tracker.is_finished(ticket));
  tracker.wait_all();  // returns at once
}

TEST(RequestTracker, WaitBlocksUntilAnsweredFromAnotherThread) {
  request_tracker tracker;
  auto a = tracker.open(1);
  auto b = tracker.open(2);
  std::thread answerer([&] {
    tracker.answer(b.id, 2);
    tracker.answer(a.id, 1);
  });
  tracker.wait(b);
  tracker.wait_all();
  answerer.join();
  EXPECT_TRUE(tracker.is_finished(a));
}

TEST(RequestTracker, FailureWakesWaitersWithTheError) {
  request_tracker tracker;
  auto ticket = tracker.open(1);
  std::thread failer([&] { tracker.fail(std::make_exception_ptr(std::runtime_error("peer 2 died"))); });
  EXPECT_THROW(tracker.wait(ticket), std::runtime_error);
  failer.join();
  EXPECT_THROW(tracker.wait_all(), std::runtime_error);
}

}  // namespace
