// snapshots<T>: Node::save and Node::load as consistent, cluster-wide operations.
//
// Both are collective (every node calls them, while no worker pulls or pushes). They first
// freeze the structure: replicas flush every delta into the main copies (two sync rounds, held
// back deltas included), then no sync round starts anywhere and the open ones complete, so
// every key has exactly one main copy and none is in flight. save() then writes each node's
// main copies as one part and rank 0 publishes the manifest; load() reads every part on every
// node, keeps the records of the main copies it holds, and only when every node has verified
// everything (a vote) overwrites them. So a snapshot restores on any number of nodes, and a
// damaged one changes nothing. File format: host/runtime/snapshot_files.hpp.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "host/runtime/node_parts.hpp"
#include "host/runtime/snapshot_files.hpp"
#include "host/store/pinned_memory.hpp"

namespace gapm::detail {

template <class T>
class snapshots {
 public:
  explicit snapshots(node_parts<T>& node) : node_{node} {}

  void save(const std::string& path);
  void load(const std::string& path);

 private:
  /// Every node in the same call: the smallest contribution of all (see cluster::barrier).
  std::uint64_t agree(std::uint64_t contribution = std::numeric_limits<std::uint64_t>::max());
  /// Replicas flushed into the main copies, then no main copy moves until thaw_structure().
  void freeze_structure();
  void thaw_structure() noexcept;
  /// Waits for two more sync rounds on every channel.
  void two_rounds();
  /// The main copies held here, in key order (structure frozen).
  [[nodiscard]] std::vector<key_type> main_copies() const;
  void write_part(const std::string& file, std::uint64_t id, const snapshot::layout& shape);
  void publish(const std::string& path, std::uint64_t id, const snapshot::layout& shape);
  // The records of the main copies held here, verified; throws gapm::error otherwise.
  void read_mine(const std::string& path, std::vector<key_type>& keys, pinned_vector<T>& rows);
  [[nodiscard]] snapshot::layout shape() const;

  node_parts<T>& node_;
};

}  // namespace gapm::detail
