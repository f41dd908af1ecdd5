// gapm.Worker: one application thread's handle to its node, in Python terms.
//
// Keys and values are tensors; pull returns a new tensor of shape (n, row_length) when the
// keys' rows have one length (else the rows concatenated, 1-D) or fills `out`. The GIL is
// released during every call that may block. Tensors that gapm still writes into (the
// outputs of pull_async) are kept alive here until their request completes, so dropping a
// Ticket early is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <pybind11/pybind11.h>

#include "row_layout.hpp"
#include "typed_api.hpp"

namespace gapm::python {

/// What a worker needs to know about its node to check tensors.
struct node_facts {
  value_kind kind;
  std::string store;  ///< "cpu" or "cuda"
  row_layout layout;
};

class py_worker;

/// gapm.Ticket: one pull, push or set request. wait() returns the pulled tensor (None for a
/// push or set); done tells whether it has completed.
struct py_ticket {
  std::shared_ptr<py_worker> worker;
  Ticket ticket;
  std::optional<at::Tensor> result;  ///< the output of a pull
};

class py_worker : public std::enable_shared_from_this<py_worker> {
 public:
  py_worker(std::unique_ptr<worker_api> api, std::shared_ptr<const node_facts> facts);
  ~py_worker();
  py_worker(const py_worker&) = delete;
  py_worker& operator=(const py_worker&) = delete;

  [[nodiscard]] int id() const noexcept { return id_; }

  /// Blocking pull; returns `out` (filled) or a new tensor on the keys' device.
  at::Tensor pull(pybind11::handle keys, std::optional<at::Tensor> out);
  /// Starts a pull and returns its ticket at once (local keys are already copied).
  py_ticket pull_async(pybind11::handle keys, std::optional<at::Tensor> out);
  /// value += delta; returns a ticket (the deltas have been read when it returns).
  py_ticket push(pybind11::handle keys, const at::Tensor& deltas);
  /// Overwrites the main copies' values; returns a ticket.
  py_ticket set(pybind11::handle keys, const at::Tensor& values);
  /// A fused optimizer step (Worker::apply_step): `grads` holds the parameter part of the
  /// keys' rows (row length / row_factor values each); returns a ticket.
  py_ticket apply_step(pybind11::handle keys, const at::Tensor& grads, const optimizer_step& step);
  void intent(pybind11::handle keys, clock_type start, std::optional<clock_type> end);
  void advance_clock();
  [[nodiscard]] clock_type clock();

  [[nodiscard]] std::uint64_t prepare_sample(std::size_t k, clock_type start, std::optional<clock_type> end);
  /// The next n keys of a sample and their rows (blocking).
  std::pair<at::Tensor, at::Tensor> pull_sample(std::uint64_t sample, std::size_t n);
  void finish_sample(std::uint64_t sample);

  /// Waits for a ticket of this worker; returns its pulled tensor (None for push/set).
  std::optional<at::Tensor> wait(const py_ticket& ticket);
  [[nodiscard]] bool is_finished(const py_ticket& ticket);
  void wait_all();
  void wait_sync();
  void barrier();
  void finalize();

  /// The node is going away: destroys the C++ worker; later calls raise gapm.UsageError.
  /// Not while a call is running (busy()).
  void detach() noexcept;
  /// Whether a call of this worker is running (in another thread, with the GIL released).
  [[nodiscard]] bool busy() const noexcept { return busy_; }

 private:
  class usage_guard;
  worker_api& api(const char* operation);
  /// The keys of a call as a flat int64 tensor on a device the store reads.
  at::Tensor keys_of(pybind11::handle keys, const char* operation) const;
  /// Shapes a pull's output or checks the given one.
  at::Tensor output_for(const at::Tensor& keys, std::optional<at::Tensor> out, const char* operation);
  at::Tensor checked_input(const at::Tensor& keys, const at::Tensor& values, const char* operation,
                           const char* argument);
  Ticket start_pull(const at::Tensor& keys, const at::Tensor& out);
  py_ticket write(pybind11::handle keys, const at::Tensor& values, bool add);
  void forget_finished();  // drops in-flight outputs whose requests completed

  int id_;
  std::shared_ptr<const node_facts> facts_;
  bool busy_ = false;  // a call is running (GIL released): a second thread must not enter
  std::vector<std::pair<Ticket, at::Tensor>> in_flight_;  // outputs gapm may still write
  std::unique_ptr<worker_api> api_;  // declared last: destroyed before the outputs it may write
};

}  // namespace gapm::python
