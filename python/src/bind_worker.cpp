// gapm.Worker and gapm.Ticket: the Python classes over py_worker and py_ticket.
#include <torch/csrc/utils/pybind.h>  // the at::Tensor <-> torch.Tensor caster

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "py_worker.hpp"

namespace gapm::python {
namespace py = pybind11;

void bind_worker(py::module_& m) {
  py::class_<py_ticket>(m, "Ticket", R"doc(
One pull, push or set request of a worker. Requests served from local memory are complete
at once; others complete when every key is answered. A pull's output tensor stays valid (and
owned by gapm until completion) even when the ticket is dropped.
)doc")
      .def("wait", [](const py_ticket& t) { return t.worker->wait(t); },
           "Blocks (without the GIL) until the request completes; returns the pulled tensor, or None "
           "for a push or set.")
      .def_property_readonly("done", [](const py_ticket& t) { return t.worker->is_finished(t); },
                             "Whether the request has completed.")
      .def_property_readonly("is_local", [](const py_ticket& t) { return t.ticket.is_local(); },
                             "True for a request served entirely from local memory.")
      .def("__repr__", [](const py_ticket& t) {
        return "<gapm.Ticket " + std::to_string(t.ticket.id) + " of worker " + std::to_string(t.worker->id()) + ">";
      });

  py::class_<py_worker, std::shared_ptr<py_worker>>(m, "Worker", R"doc(
One application thread's handle to its node (from node.worker(i)); not for use by two
threads at once. Keys are int64 tensors (or sequences of ints); values are tensors of the
node's dtype, on the CPU (or CUDA tensors with a CUDA store, ordered on torch's current
stream). Misuse raises gapm.UsageError (a ValueError) and changes nothing; a failed cluster
raises gapm.CommError. Blocking calls release the GIL.
)doc")
      .def_property_readonly("id", &py_worker::id)
      .def_property_readonly("clock", &py_worker::clock, "This worker's logical clock (starts at 0).")
      .def("pull", &py_worker::pull, py::arg("keys"), py::arg("out") = py::none(),
           "The keys' current rows: a new tensor of shape (n, row_length) when the rows have one length "
           "(else 1-D, concatenated), or `out` filled (contiguous, node dtype, matching element count). "
           "Blocks until remote rows have arrived.")
      .def("pull_async", &py_worker::pull_async, py::arg("keys"), py::arg("out") = py::none(), py::keep_alive<0, 1>(),
           "Starts a pull and returns its Ticket; ticket.wait() returns the rows.")
      .def("push", &py_worker::push, py::arg("keys"), py::arg("deltas"), py::keep_alive<0, 1>(),
           "Additive update: value += delta (repeated keys add up). `deltas` holds the keys' rows in any "
           "shape. Returns a Ticket; the deltas have been read when it returns.")
      .def("set", &py_worker::set, py::arg("keys"), py::arg("values"), py::keep_alive<0, 1>(),
           "Overwrites the keys' values (main copies; replicas pick it up). Returns a Ticket.")
      .def(
          "apply_sgd",
          [](py_worker& w, py::handle keys, const at::Tensor& grads, double lr) {
            return w.apply_step(keys, grads, {.kind = optimizer::sgd, .lr = lr});
          },
          py::arg("keys"), py::arg("grads"), py::arg("lr"), py::keep_alive<0, 1>(),
          "Fused SGD step in gapm: rows [param], param -= lr * grad, applied where each row lives "
          "(repeated keys: gradients summed). Returns a Ticket.")
      .def(
          "apply_adagrad",
          [](py_worker& w, py::handle keys, const at::Tensor& grads, double lr, double eps) {
            return w.apply_step(keys, grads, {.kind = optimizer::adagrad, .lr = lr, .eps = eps});
          },
          py::arg("keys"), py::arg("grads"), py::arg("lr"), py::arg("eps") = 1e-10, py::keep_alive<0, 1>(),
          "Fused AdaGrad step in gapm: rows [param | sum of squared gradients], acc += g*g, "
          "param -= lr * g / (sqrt(acc) + eps), as torch.optim.Adagrad (initial accumulator 0). "
          "`grads` holds the param part of each row. Returns a Ticket.")
      .def(
          "apply_adam",
          [](py_worker& w, py::handle keys, const at::Tensor& grads, double lr, std::int64_t t, double beta1,
             double beta2, double eps) {
            return w.apply_step(keys, grads,
                                {.kind = optimizer::adam, .lr = lr, .eps = eps, .beta1 = beta1, .beta2 = beta2, .t = t});
          },
          py::arg("keys"), py::arg("grads"), py::arg("lr"), py::arg("t"), py::arg("beta1") = 0.9,
          py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::keep_alive<0, 1>(),
          "Fused Adam step at step t (from 1): rows [param | m | v], with bias correction. Returns a Ticket.")
      .def("intent", &py_worker::intent, py::arg("keys"), py::arg("start"), py::arg("end") = py::none(),
           "Announces that this worker will access `keys` during its clocks [start, end) (end defaults to "
           "start + 1; gapm.CLOCK_MAX for long-lived intent). Non-blocking.")
      .def("advance_clock", &py_worker::advance_clock, "Advances this worker's clock by one.")
      .def("prepare_sample", &py_worker::prepare_sample, py::arg("k"), py::arg("start"), py::arg("end") = py::none(),
           "Declares k sampled accesses during clocks [start, end) (option sampling.scheme); returns a "
           "sample id. Needs node.set_sampler or node.set_uniform_sampler.")
      .def("pull_sample", &py_worker::pull_sample, py::arg("sample"), py::arg("n"),
           "The next n keys of a sample and their rows: (keys, rows). Blocking.")
      .def("finish_sample", &py_worker::finish_sample, py::arg("sample"), "Forgets a sample.")
      .def("wait", &py_worker::wait, py::arg("ticket"), "Same as ticket.wait().")
      .def("is_finished", &py_worker::is_finished, py::arg("ticket"), "Same as ticket.done.")
      .def("wait_all", &py_worker::wait_all, "Blocks until every request of this worker has completed.")
      .def("wait_sync", &py_worker::wait_sync,
           "Returns once every sync manager of this node has completed two more rounds.")
      .def("barrier", &py_worker::barrier, "Waits for every worker of every node.")
      .def("finalize", &py_worker::finalize,
           "Ends this worker: its intents expire, then wait_all, wait_sync and barrier. Afterwards every "
           "call raises gapm.UsageError.")
      .def("__repr__", [](py_worker& w) { return "<gapm.Worker " + std::to_string(w.id()) + ">"; });
}

}  // namespace gapm::python
