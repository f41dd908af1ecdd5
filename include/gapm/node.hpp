// gapm::Node<T>: one per process. It joins the cluster, owns this node's share of the
// parameters and the threads that manage them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <gapm/options.hpp>
#include <gapm/stats.hpp>
#include <gapm/types.hpp>

namespace gapm {

namespace detail {
template <class T>
class node_impl;
}  // namespace detail

template <class T>
class Worker;

/// One process of a gapm cluster, holding values of type T (float, double or int64_t).
///
/// The constructor reads the rank and the world size from the environment (torchrun, mpirun
/// or srun conventions; world size 1 when none is set), joins the other nodes, and allocates
/// (zero-filled) the keys this node is home for. Throws logic_error for invalid options,
/// comm_error when the cluster cannot be formed, cuda_error when the GPU store cannot start.
template <class T>
class Node {
 public:
  explicit Node(Options options);
  ~Node();  ///< shuts down if shutdown() was not called; never throws
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  Node(Node&&) noexcept;
  Node& operator=(Node&&) noexcept;

  [[nodiscard]] int rank() const noexcept;
  [[nodiscard]] int world_size() const noexcept;
  [[nodiscard]] const Options& options() const noexcept;
  [[nodiscard]] std::uint64_t num_keys() const noexcept;
  /// The row length of `key`'s table; throws logic_error for a key out of range.
  [[nodiscard]] std::uint32_t row_length(key_type key) const;
  /// "cpu" or "cuda": which store holds this node's rows.
  [[nodiscard]] std::string store_name() const;

  /// Waits until every node has called barrier() (process level; workers use Worker::barrier).
  void barrier();

  /// Stops this node's threads and leaves the cluster; idempotent. Workers must not be used
  /// afterwards (they throw logic_error).
  void shutdown();

  /// The distribution the sampling API draws from (Worker::prepare_sample): a function that
  /// returns one key in [0, num_keys). Worker threads call it concurrently, so it must be
  /// thread-safe. Set it before any worker prepares a sample.
  void set_sampler(std::function<key_type()> sample_key);

  /// Counters since start (see Stats).
  [[nodiscard]] Stats stats() const;

  /// Writes a snapshot of every key's value to `path`, restorable with load() on any number of
  /// nodes. Collective: every node calls it with the same path (on a file system all nodes
  /// share), while no worker of any node pulls or pushes (e.g. between Worker::barrier()
  /// calls, or after finalize()). Replicas are flushed first, so the snapshot holds every
  /// update made before the call. Files: the manifest at `path` and one part per node beside
  /// it; all carry their length and a checksum and are renamed into place when complete, so a
  /// crash leaves the previous snapshot intact. Throws gapm::error when a file cannot be
  /// written (on every node), comm_error when the cluster fails.
  void save(const std::string& path);
  /// Replaces every key's value with the snapshot at `path` (written by save() on this or any
  /// other number of nodes with the same tables and value type). Collective, like save().
  /// Every node verifies every file first; a missing, damaged or mismatched snapshot throws
  /// gapm::error on every node and changes nothing. Returns when every replica has the loaded
  /// values.
  void load(const std::string& path);

 private:
  friend class Worker<T>;
  std::unique_ptr<detail::node_impl<T>> impl_;
};

extern template class Node<float>;
extern template class Node<double>;
extern template class Node<std::int64_t>;

}  // namespace gapm
