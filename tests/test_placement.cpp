// The decision rule of SPEC behaviour 2 (host/adaptive/placement.hpp), without processes:
// relocate to a sole requester, replicate when anybody else intends the key, and the ablations.
#include <gtest/gtest.h>

#include "host/adaptive/placement.hpp"

namespace {

using gapm::technique_mode;
using gapm::detail::place;
using gapm::detail::placement;

TEST(Placement, ASoleRequesterGetsTheMainCopy) {
  EXPECT_EQ(place(technique_mode::all, false, false), placement::relocate);
}

TEST(Placement, AnyOtherIntentMeansAReplica) {
  EXPECT_EQ(place(technique_mode::all, true, false), placement::replicate);   // the owner's own workers
  EXPECT_EQ(place(technique_mode::all, false, true), placement::replicate);   // another node asked too
  EXPECT_EQ(place(technique_mode::all, true, true), placement::replicate);
}

TEST(Placement, TheReferenceScenario) {
  // 3 nodes, home = key % 3. Key 3: nodes 0 (its owner) and 2 intend it -> node 2 gets a
  // replica; key 4: only node 0 -> relocated to node 0; keys 1 and 6: only node 2 -> relocated.
  EXPECT_EQ(place(technique_mode::all, /*owner 0 intends*/ true, false), placement::replicate);  // key 3 for node 2
  EXPECT_EQ(place(technique_mode::all, false, false), placement::relocate);                      // key 4 for node 0
  EXPECT_EQ(place(technique_mode::all, false, /*node 2 asks for 1 and 6 alone*/ false), placement::relocate);
}

TEST(Placement, TheAblationsPinTheAnswer) {
  for (bool owner : {false, true})
    for (bool others : {false, true}) {
      EXPECT_EQ(place(technique_mode::replication_only, owner, others), placement::replicate);
      EXPECT_EQ(place(technique_mode::relocation_only, owner, others), placement::relocate);
    }
}

}  // namespace
