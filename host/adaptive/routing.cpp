#include "host/adaptive/routing.hpp"

namespace gapm::detail {

next_hop route_request(const key_knowledge& known, std::int64_t hint) noexcept {
  // The key was handed to this node after its own last relocation event, and it asked for
  // the key: it is on its way here.
  if (known.requested && hint > known.last_event) return {next_hop::action::wait};
  // The newest dated knowledge this node has.
  int target = -1;
  std::int64_t counter = no_hint;
  if (known.successor >= 0) {
    target = known.successor;
    counter = known.last_event;  // handing the key on was this node's last event with it
  }
  if (known.directory_owner >= 0 && known.directory_counter > counter) {
    target = known.directory_owner;
    counter = known.directory_counter;
  }
  if (target == known.rank) return {next_hop::action::wait};  // the directory says here: arriving
  if (target >= 0 && counter >= hint) return {next_hop::action::forward, target, counter};
  // Nothing newer than the hint here: the home's directory catches up with every relocation.
  if (known.home != known.rank) return {next_hop::action::forward, known.home, hint};
  // The home itself, with a directory older than the hint: the news is on its way.
  return {next_hop::action::wait};
}

}  // namespace gapm::detail
