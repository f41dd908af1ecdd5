// placement: SPEC behaviour 2 as a pure function. When a node asks the owner for a key it
// intends, the owner relocates the main copy to it iff nobody else — the owner's own workers
// or another node that asked to refresh the key in its latest round — intends the key;
// otherwise it replicates. The ablations pin the answer.
#pragma once

#include <gapm/options.hpp>

namespace gapm::detail {

enum class placement { replicate, relocate };

[[nodiscard]] constexpr placement place(technique_mode techniques, bool owner_intends, bool others_intend) noexcept {
  switch (techniques) {
    case technique_mode::replication_only: return placement::replicate;
    case technique_mode::relocation_only: return placement::relocate;
    default: return owner_intends || others_intend ? placement::replicate : placement::relocate;
  }
}

}  // namespace gapm::detail
