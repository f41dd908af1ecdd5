// gapm.Node: the Python class over py_node.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "py_node.hpp"
#include "py_worker.hpp"

namespace gapm::python {
namespace py = pybind11;

void bind_node(py::module_& m) {
  py::class_<py_node, std::shared_ptr<py_node>>(m, "Node", R"doc(
One process of a gapm cluster, holding rows of one dtype (float32, float64 or int64).

    node = gapm.Node(tables="1000x16,50x8", dtype=torch.float32, workers=1, sync_max_per_sec=500)

Joins the cluster from the torchrun / mpirun / srun environment (RANK and WORLD_SIZE,
OMPI_COMM_WORLD_*, SLURM_*; rendezvous at MASTER_ADDR:MASTER_PORT, one above under torchrun)
or runs alone when none is set. Every keyword is a gapm option, dots written as underscores
(sync_max_per_sec=500 is option sync.max_per_sec); GAPM_* environment variables override
them (env=False ignores them), and --gapm.NAME=VALUE items of `argv` override both. Rows
start at zero. Raises gapm.UsageError (a ValueError) for bad options, gapm.CommError when the
cluster cannot be formed. Use it as a context manager, or call shutdown() at the end.
)doc")
      .def(py::init([](py::object tables, py::object dtype, bool env, py::object argv, const py::kwargs& options) {
             return std::make_shared<py_node>(tables, dtype, env, argv, options);
           }),
           py::arg("tables") = py::none(), py::kw_only(), py::arg("dtype") = "float32", py::arg("env") = true,
           py::arg("argv") = py::none())
      .def_property_readonly("rank", &py_node::rank, "This node's number in [0, world_size).")
      .def_property_readonly("world_size", &py_node::world_size, "The number of nodes.")
      .def_property_readonly("num_keys", &py_node::num_keys, "Keys in all tables together.")
      .def_property_readonly("dtype", &py_node::dtype, "The torch dtype of the values.")
      .def_property_readonly("store_name", &py_node::store_name, "'cpu' or 'cuda': where this node's rows live.")
      .def_property_readonly("tables", &py_node::tables, "[(num_keys, row_length), ...] in key order.")
      .def_property_readonly("options", &py_node::options, "Every option's value as text, by dotted name.")
      .def_property_readonly("closed", &py_node::closed, "True after close().")
      .def("row_length", &py_node::row_length, py::arg("key"), "The row length of `key`'s table.")
      .def("worker", &py_node::worker, py::arg("id") = 0, py::keep_alive<0, 1>(),
           "Worker `id` (in [0, option workers)): created on first use, afterwards the same object. "
           "One worker per thread.")
      .def("barrier", &py_node::barrier, "Waits until every node has called barrier() (process level).")
      .def("shutdown", &py_node::shutdown,
           "Waits for every node, then leaves the cluster (prints the counters unless print_stats=False). "
           "Idempotent; afterwards the workers raise gapm.UsageError.")
      .def("close", &py_node::close,
           "Leaves at once, without waiting for the other nodes (they will see this node as gone), and "
           "ends the workers. For error paths; idempotent.")
      .def("set_sampler", &py_node::set_sampler, py::arg("sample_key"),
           "The distribution of the sampling API: a callable returning a key in [0, num_keys). It is "
           "called with the GIL for every drawn key (slow); prefer set_uniform_sampler.")
      .def("set_uniform_sampler", &py_node::set_uniform_sampler, py::arg("begin"), py::arg("end"),
           py::arg("seed") = 0, "Samples keys uniformly from [begin, end) in C++ (thread-safe, fast).")
      .def("stats", &py_node::stats, "This node's counters since start, as a dict (gapm::Stats).")
      .def("stats_summary", &py_node::stats_summary, "The counters as a few readable lines.")
      .def("save", &py_node::save, py::arg("path"),
           "Collective: writes a snapshot of every key (call on every node, while no worker pulls or pushes).")
      .def("load", &py_node::load, py::arg("path"),
           "Collective: replaces every key's value with the snapshot at `path` (from any number of nodes).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](py_node& node, py::handle type, py::handle, py::handle) {
             // A clean exit waits for the other nodes; an exception leaves at once, so that the
             // others learn of the failure instead of waiting for this node.
             if (type.is_none()) node.shutdown();
             else node.close();
           })
      .def("__repr__", [](const py_node& node) {
        if (node.closed()) return std::string("<gapm.Node closed>");
        return "<gapm.Node rank " + std::to_string(node.rank()) + " of " + std::to_string(node.world_size()) + ", " +
               std::to_string(node.num_keys()) + " keys, " + py::str(node.dtype()).cast<std::string>() + ", store '" +
               node.store_name() + "'>";
      });
}

}  // namespace gapm::python
