// gapm.Node: one process of a gapm cluster, in Python terms.
//
// gapm.Node(tables="1000x16,50x8", dtype=torch.float32, **options) joins the cluster the way
// gapm::Node<T> does (torchrun / mpirun / srun environment, else one node), with the GIL
// released during the rendezvous. node.worker(i) gives worker i (created on first use, then
// the same object). The node owns its workers: closing or dropping it ends them.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <pybind11/pybind11.h>

#include "py_worker.hpp"
#include "typed_api.hpp"

namespace gapm::python {

class py_node {
 public:
  /// See options_from_python() for tables, the keywords, read_env and argv; dtype is a torch
  /// dtype or its name (float32, float64, int64).
  py_node(pybind11::handle tables, pybind11::handle dtype, bool read_env, pybind11::handle argv,
          const pybind11::kwargs& options);
  ~py_node();
  py_node(const py_node&) = delete;
  py_node& operator=(const py_node&) = delete;

  [[nodiscard]] int rank() const;
  [[nodiscard]] int world_size() const;
  [[nodiscard]] std::uint64_t num_keys() const;
  [[nodiscard]] std::uint32_t row_length(std::int64_t key) const;
  [[nodiscard]] std::string store_name() const;
  [[nodiscard]] pybind11::object dtype() const;
  /// [(num_keys, row_length), ...] in key order.
  [[nodiscard]] pybind11::list tables() const;
  /// Every option's textual value, by its dotted name.
  [[nodiscard]] pybind11::dict options() const;
  [[nodiscard]] bool closed() const noexcept { return !api_; }

  std::shared_ptr<py_worker> worker(int id);
  void barrier();
  /// Clean shutdown: waits for every node, then leaves (Node::shutdown). Idempotent.
  void shutdown();
  /// Leaves at once without waiting for the others (what dropping a Node<T> does) and ends
  /// the workers. For error paths; idempotent. Throws logic_error while a worker is in a call
  /// in another thread. (The destructor cannot meet that case: a worker in a call keeps its
  /// Python object, and so the node's, alive.)
  void close();

  /// Python callable returning a key in [0, num_keys); called with the GIL, from the workers'
  /// threads (slow: one Python call per drawn key).
  void set_sampler(pybind11::function sample_key);
  /// Uniform keys in [begin, end), from a thread-safe generator seeded with `seed` (fast).
  void set_uniform_sampler(std::uint64_t begin, std::uint64_t end, std::uint64_t seed);

  [[nodiscard]] pybind11::dict stats() const;
  [[nodiscard]] std::string stats_summary() const;
  void save(const std::filesystem::path& path);
  void load(const std::filesystem::path& path);

 private:
  node_api& api(const char* operation) const;
  void tear_down() noexcept;  // ends the workers, then the node (without the GIL)

  std::unique_ptr<node_api> api_;
  std::shared_ptr<const node_facts> facts_;
  std::map<int, std::shared_ptr<py_worker>> workers_;
};

}  // namespace gapm::python
