// The routing rule (host/adaptive/routing.hpp) as a pure function: requests follow the newest dated
// knowledge, and wait only where the key is provably on its way.
#include <gtest/gtest.h>

#include "host/adaptive/routing.hpp"

namespace {

using namespace gapm::detail;
using action = next_hop::action;

key_knowledge at(int rank, int home) {
  key_knowledge k;
  k.rank = rank;
  k.home = home;
  return k;
}

TEST(Routing, ANodeWithoutKnowledgeSendsToTheHome) {
  const auto hop = route_request(at(1, 2), no_hint);
  EXPECT_EQ(hop.what, action::forward);
  EXPECT_EQ(hop.node, 2);
  EXPECT_EQ(hop.hint, no_hint);
}

TEST(Routing, TheHomeForwardsByItsDirectoryWithTheDirectorysCounter) {
  auto home = at(2, 2);
  home.directory_owner = 0;
  home.directory_counter = 4;
  const auto hop = route_request(home, no_hint);
  EXPECT_EQ(hop.what, action::forward);
  EXPECT_EQ(hop.node, 0);
  EXPECT_EQ(hop.hint, 4);
}

TEST(Routing, AnOldOwnerFollowsItsForwardingPointerNotTheStaleHome) {
  // Node 0 received the key at 4 and handed it to node 3 at 5; the home still says 0.
  auto old_owner = at(0, 2);
  old_owner.successor = 3;
  old_owner.last_event = 5;
  const auto hop = route_request(old_owner, 4);
  EXPECT_EQ(hop.what, action::forward);
  EXPECT_EQ(hop.node, 3);
  EXPECT_EQ(hop.hint, 5);
}

TEST(Routing, TheNewerOfPointerAndDirectoryWinsAtTheHome) {
  auto home = at(2, 2);
  home.successor = 0;  // the home handed the key to 0 at 1 ...
  home.last_event = 1;
  home.directory_owner = 3;  // ... and has since heard that 3 holds it since 6
  home.directory_counter = 6;
  EXPECT_EQ(route_request(home, no_hint).node, 3);
  home.directory_counter = 0;  // an older directory entry loses to the pointer
  EXPECT_EQ(route_request(home, no_hint).node, 0);
}

TEST(Routing, ARequestedKeySentHereAfterOurLastEventIsWaitedFor) {
  auto pending = at(3, 2);
  pending.requested = true;
  pending.successor = 1;  // an old pointer: node 3 handed the key to 1 at 2, then asked for it back
  pending.last_event = 2;
  EXPECT_EQ(route_request(pending, 5).what, action::wait);  // somebody handed it to 3 at 5
  // Knowledge no newer than our own last event is stale: follow our pointer instead.
  const auto stale = route_request(pending, 2);
  EXPECT_EQ(stale.what, action::forward);
  EXPECT_EQ(stale.node, 1);
  const auto undated = route_request(pending, no_hint);
  EXPECT_EQ(undated.what, action::forward);
  EXPECT_EQ(undated.node, 1);
}

TEST(Routing, AKeyNotRequestedHereIsNeverWaitedFor) {
  auto replica_less = at(3, 2);
  replica_less.last_event = 2;
  replica_less.successor = 1;
  EXPECT_EQ(route_request(replica_less, 7).what, action::forward);
}

TEST(Routing, TheHomeWaitsForAKeyItsDirectorySaysIsArrivingThere) {
  auto home = at(2, 2);
  home.directory_owner = 2;
  home.directory_counter = 3;
  EXPECT_EQ(route_request(home, no_hint).what, action::wait);
}

TEST(Routing, CountersAlongAChaseNeverDecrease) {
  // A key moved 0 -> 1 (counter 1) -> 2 (2) -> 0 (3); the home (node 3) has heard only of 1.
  key_knowledge nodes[4] = {at(0, 3), at(1, 3), at(2, 3), at(3, 3)};
  nodes[1].successor = 2, nodes[1].last_event = 2;
  nodes[2].successor = 0, nodes[2].last_event = 3;
  nodes[3].directory_owner = 1, nodes[3].directory_counter = 1;
  int at_node = 3;
  std::int64_t hint = no_hint;
  for (int hops = 0; hops < 4 && at_node != 0; ++hops) {
    const auto hop = route_request(nodes[at_node], hint);
    ASSERT_EQ(hop.what, action::forward);
    EXPECT_GE(hop.hint, hint);
    at_node = hop.node;
    hint = hop.hint;
  }
  EXPECT_EQ(at_node, 0);  // the owner, reached in three hops: home -> 1 -> 2 -> 0
}

}  // namespace
