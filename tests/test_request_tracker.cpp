// request_tracker: tickets complete when every key is answered; failures wake all waiters.
#include "host/runtime/request_tracker.hpp"

#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace {

using gapm::detail::request_tracker;
using gapm::detail::ticket_source;
using credit = request_tracker::credit;

TEST(RequestTracker, CompletesAfterEveryKeyIsAnswered) {
  ticket_source ids;
  request_tracker tracker{ids};
  auto ticket = tracker.open(3);
  EXPECT_FALSE(ticket.is_local());
  EXPECT_FALSE(tracker.is_finished(ticket));
  EXPECT_EQ(tracker.answer(ticket.id, 2), credit::counted);
  EXPECT_FALSE(tracker.is_finished(ticket));
  EXPECT_EQ(tracker.answer(ticket.id, 1), credit::counted);
  EXPECT_TRUE(tracker.is_finished(ticket));
  EXPECT_EQ(tracker.answer(ticket.id, 1), credit::unknown);  // a late duplicate is ignored
  EXPECT_EQ(tracker.outstanding(), 0u);
}

TEST(RequestTracker, AnAnswerClaimingMoreKeysThanOutstandingCreditsNothing) {
  ticket_source ids;
  request_tracker tracker{ids};
  auto ticket = tracker.open(2);
  EXPECT_EQ(tracker.answer(ticket.id, 5), credit::excessive);
  EXPECT_FALSE(tracker.is_finished(ticket));
  EXPECT_EQ(tracker.answer(ticket.id, 2), credit::counted);
  EXPECT_TRUE(tracker.is_finished(ticket));
}

TEST(RequestTracker, AnAbandonedRequestIsFinishedAndIgnoresLateAnswers) {
  ticket_source ids;
  request_tracker tracker{ids};
  auto ticket = tracker.open(3);
  tracker.abandon(ticket.id);
  EXPECT_TRUE(tracker.is_finished(ticket));
  EXPECT_EQ(tracker.answer(ticket.id, 1), credit::unknown);
  tracker.wait_all();
}

TEST(RequestTracker, TicketIdsNeverRepeatAcrossTrackersOfOneNode) {
  ticket_source ids;
  auto first = std::make_unique<request_tracker>(ids);
  const auto old_ticket = first->open(1);
  first.reset();  // the worker is gone; a new one registers under the same worker id
  request_tracker second{ids};
  const auto new_ticket = second.open(1);
  EXPECT_NE(new_ticket.id, old_ticket.id);
  EXPECT_EQ(second.answer(old_ticket.id, 1), credit::unknown);  // the old answer finds nothing
  EXPECT_FALSE(second.is_finished(new_ticket));
}

TEST(RequestTracker, ARequestWithNothingToWaitForIsComplete) {
  ticket_source ids;
  request_tracker tracker{ids};
  auto ticket = tracker.open(0);
  EXPECT_TRUE(ticket.is_local());
  EXPECT_TRUE(tracker.is_finished(ticket));
  tracker.wait_all();  // returns at once
}

TEST(RequestTracker, WaitBlocksUntilAnsweredFromAnotherThread) {
  ticket_source ids;
  request_tracker tracker{ids};
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
  ticket_source ids;
  request_tracker tracker{ids};
  auto ticket = tracker.open(1);
  std::thread failer([&] { tracker.fail(std::make_exception_ptr(std::runtime_error("peer 2 died"))); });
  EXPECT_THROW(tracker.wait(ticket), std::runtime_error);
  failer.join();
  EXPECT_THROW(tracker.wait_all(), std::runtime_error);
}

}  // namespace
