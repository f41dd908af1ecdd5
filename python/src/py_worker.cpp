// py_worker: gapm.Worker's calls: check the tensors, call gapm without the GIL, keep pull outputs alive.
#include "py_worker.hpp"

#include <algorithm>

#include <ATen/ops/empty.h>

#include <gapm/errors.hpp>

#include "tensor_args.hpp"

namespace gapm::python {
namespace py = pybind11;

// Marks the worker busy for one call. A worker is one thread's handle (gapm::Worker is not
// thread-safe); since calls release the GIL, a second Python thread could otherwise enter
// while the first waits. Set and cleared with the GIL held.
class py_worker::usage_guard {
 public:
  usage_guard(py_worker& worker, const char* operation) : worker_{worker} {
    if (worker_.busy_)
      throw logic_error("gapm: " + std::string(operation) + ": worker " + std::to_string(worker_.id_) +
                        " is in a call from another thread; a worker is one thread's handle "
                        "(give each thread its own: node.worker(i) with i < option 'workers')");
    worker_.busy_ = true;
  }
  ~usage_guard() { worker_.busy_ = false; }
  usage_guard(const usage_guard&) = delete;
  usage_guard& operator=(const usage_guard&) = delete;

 private:
  py_worker& worker_;
};

py_worker::py_worker(std::unique_ptr<worker_api> api, std::shared_ptr<const node_facts> facts)
    : id_{api->id()}, facts_{std::move(facts)}, api_{std::move(api)} {}

py_worker::~py_worker() = default;

void py_worker::detach() noexcept {
  api_.reset();  // first: gapm writes into no output once the worker is gone
  in_flight_.clear();
}

worker_api& py_worker::api(const char* operation) {
  if (!api_)
    throw logic_error("gapm: " + std::string(operation) + ": worker " + std::to_string(id_) +
                      " belongs to a node that was closed");
  return *api_;
}

void py_worker::forget_finished() {
  if (in_flight_.empty() || !api_) return;
  try {
    std::erase_if(in_flight_, [&](const auto& entry) { return api_->is_finished(entry.first); });
  } catch (const gapm::error&) {
    // A shut-down node or a failed cluster: the call that follows reports it in its own name.
  }
}

at::Tensor py_worker::keys_of(py::handle keys, const char* operation) const {
  at::Tensor tensor = key_tensor(keys, operation);
  check_device(tensor, facts_->store, operation, "keys");
  return tensor;
}

at::Tensor py_worker::output_for(const at::Tensor& keys, std::optional<at::Tensor> out, const char* operation) {
  const std::size_t n = static_cast<std::size_t>(keys.numel());
  const at::Tensor hkeys = host_keys(keys);
  const auto rows = facts_->layout.rows_of(hkeys.data_ptr<std::int64_t>(), n, operation);
  if (out) return checked_values(*out, facts_->kind, rows.values, facts_->store, operation, "out", true);
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(rows.values)};
  if (rows.uniform_length != 0) shape = {static_cast<std::int64_t>(n), static_cast<std::int64_t>(rows.uniform_length)};
  at::Tensor result = at::empty(shape, keys.options().dtype(scalar_type_of(facts_->kind)));
  check_device(result, facts_->store, operation, "the keys (and so the output)");
  return result;
}

at::Tensor py_worker::checked_input(const at::Tensor& keys, const at::Tensor& values, const char* operation,
                                    const char* argument) {
  const at::Tensor hkeys = host_keys(keys);
  const auto rows = facts_->layout.rows_of(hkeys.data_ptr<std::int64_t>(), static_cast<std::size_t>(keys.numel()), operation);
  return checked_values(values, facts_->kind, rows.values, facts_->store, operation, argument, false);
}

Ticket py_worker::start_pull(const at::Tensor& keys, const at::Tensor& out) {
  const stream_view stream = stream_of(out);
  worker_api& worker = api("pull");
  const auto* key_data = reinterpret_cast<const key_type*>(keys.data_ptr<std::int64_t>());
  const auto n = static_cast<std::size_t>(keys.numel());
  void* out_data = out.data_ptr();
  py::gil_scoped_release release;
  return worker.pull(key_data, n, out_data, stream);
}

at::Tensor py_worker::pull(py::handle keys, std::optional<at::Tensor> out) {
  usage_guard guard{*this, "pull"};
  forget_finished();
  const at::Tensor k = keys_of(keys, "pull");
  at::Tensor result = output_for(k, std::move(out), "pull");
  const Ticket ticket = start_pull(k, result);
  if (!ticket.is_local()) {
    worker_api& worker = api("pull");
    py::gil_scoped_release release;
    worker.wait(ticket);
  }
  return result;
}

py_ticket py_worker::pull_async(py::handle keys, std::optional<at::Tensor> out) {
  usage_guard guard{*this, "pull_async"};
  forget_finished();
  const at::Tensor k = keys_of(keys, "pull_async");
  at::Tensor result = output_for(k, std::move(out), "pull_async");
  const Ticket ticket = start_pull(k, result);
  if (!ticket.is_local()) in_flight_.emplace_back(ticket, result);  // gapm writes it until complete
  return py_ticket{.worker = shared_from_this(), .ticket = ticket, .result = result};
}

py_ticket py_worker::write(py::handle keys, const at::Tensor& values, bool add) {
  const char* operation = add ? "push" : "set";
  usage_guard guard{*this, operation};
  forget_finished();
  const at::Tensor k = keys_of(keys, operation);
  const at::Tensor v = checked_input(k, values, operation, add ? "deltas" : "values");
  worker_api& worker = api(operation);
  const auto* key_data = reinterpret_cast<const key_type*>(k.data_ptr<std::int64_t>());
  const auto n = static_cast<std::size_t>(k.numel());
  const void* value_data = v.data_ptr();
  // A CUDA input is read in stream order on torch's current stream; torch's caching allocator
  // keeps its memory until that stream has passed this point, so `v` may die on return.
  const stream_view stream = stream_of(v);
  Ticket ticket;
  {
    py::gil_scoped_release release;
    ticket = add ? worker.push(key_data, n, value_data, stream) : worker.set(key_data, n, value_data);
  }
  return py_ticket{.worker = shared_from_this(), .ticket = ticket, .result = std::nullopt};
}

py_ticket py_worker::apply_step(py::handle keys, const at::Tensor& grads, const optimizer_step& step) {
  usage_guard guard{*this, "apply_step"};
  forget_finished();
  const at::Tensor k = keys_of(keys, "apply_step");
  const at::Tensor hkeys = host_keys(k);
  const auto n = static_cast<std::size_t>(k.numel());
  const auto rows = facts_->layout.rows_of(hkeys.data_ptr<std::int64_t>(), n, "apply_step");
  const at::Tensor g =
      checked_values(grads, facts_->kind, rows.values / step.row_factor(), facts_->store, "apply_step", "grads", false);
  worker_api& worker = api("apply_step");
  const auto* key_data = reinterpret_cast<const key_type*>(k.data_ptr<std::int64_t>());
  const void* grad_data = g.data_ptr();
  const stream_view stream = stream_of(g);
  Ticket ticket;
  {
    py::gil_scoped_release release;
    ticket = worker.apply_step(key_data, n, grad_data, step, stream);
  }
  return py_ticket{.worker = shared_from_this(), .ticket = ticket, .result = std::nullopt};
}

py_ticket py_worker::push(py::handle keys, const at::Tensor& deltas) { return write(keys, deltas, true); }
py_ticket py_worker::set(py::handle keys, const at::Tensor& values) { return write(keys, values, false); }

void py_worker::intent(py::handle keys, clock_type start, std::optional<clock_type> end) {
  usage_guard guard{*this, "intent"};
  const at::Tensor k = keys_of(keys, "intent");
  const at::Tensor hkeys = host_keys(k);
  (void)facts_->layout.rows_of(hkeys.data_ptr<std::int64_t>(), static_cast<std::size_t>(hkeys.numel()), "intent");
  if (end && *end == 0) throw logic_error("gapm: intent: end clock 0 is not after any start clock");
  worker_api& worker = api("intent");
  const auto* key_data = reinterpret_cast<const key_type*>(hkeys.data_ptr<std::int64_t>());
  py::gil_scoped_release release;
  worker.intent(key_data, static_cast<std::size_t>(hkeys.numel()), start, end.value_or(0));
}

void py_worker::advance_clock() {
  usage_guard guard{*this, "advance_clock"};
  api("advance_clock").advance_clock();
}

clock_type py_worker::clock() { return api("clock").clock(); }

std::uint64_t py_worker::prepare_sample(std::size_t k, clock_type start, std::optional<clock_type> end) {
  usage_guard guard{*this, "prepare_sample"};
  if (end && *end == 0) throw logic_error("gapm: prepare_sample: end clock 0 is not after any start clock");
  worker_api& worker = api("prepare_sample");
  py::gil_scoped_release release;  // the sampler may be a Python function: it takes the GIL itself
  return worker.prepare_sample(k, start, end.value_or(0)).id;
}

std::pair<at::Tensor, at::Tensor> py_worker::pull_sample(std::uint64_t sample, std::size_t n) {
  usage_guard guard{*this, "pull_sample"};
  forget_finished();
  worker_api& worker = api("pull_sample");
  const auto layout_length = facts_->layout.max_length();
  const auto options = at::TensorOptions().device(at::kCPU);
  at::Tensor keys = at::empty({static_cast<std::int64_t>(n)}, options.dtype(c10::ScalarType::Long));
  at::Tensor values =
      at::empty({static_cast<std::int64_t>(n * layout_length)}, options.dtype(scalar_type_of(facts_->kind)));
  auto* key_data = reinterpret_cast<key_type*>(keys.data_ptr<std::int64_t>());
  void* value_data = values.data_ptr();
  {
    py::gil_scoped_release release;
    const Ticket ticket = worker.pull_sample(SampleId{sample}, key_data, n, value_data);
    worker.wait(ticket);
  }
  // Sized for the longest rows; trim to the drawn keys' rows.
  const auto rows = facts_->layout.rows_of(keys.data_ptr<std::int64_t>(), n, "pull_sample");
  values = values.narrow(0, 0, static_cast<std::int64_t>(rows.values));
  if (rows.uniform_length != 0)
    values = values.view({static_cast<std::int64_t>(n), static_cast<std::int64_t>(rows.uniform_length)});
  return {keys, values};
}

void py_worker::finish_sample(std::uint64_t sample) {
  usage_guard guard{*this, "finish_sample"};
  api("finish_sample").finish_sample(SampleId{sample});
}

std::optional<at::Tensor> py_worker::wait(const py_ticket& ticket) {
  if (ticket.worker.get() != this)
    throw logic_error("gapm: wait: the ticket belongs to worker " + std::to_string(ticket.worker->id()) +
                      ", not to worker " + std::to_string(id_));
  usage_guard guard{*this, "wait"};
  worker_api& worker = api("wait");
  {
    py::gil_scoped_release release;
    worker.wait(ticket.ticket);
  }
  std::erase_if(in_flight_, [&](const auto& entry) { return entry.first == ticket.ticket; });
  return ticket.result;
}

bool py_worker::is_finished(const py_ticket& ticket) {
  usage_guard guard{*this, "is_finished"};
  return api("is_finished").is_finished(ticket.ticket);
}

void py_worker::wait_all() {
  usage_guard guard{*this, "wait_all"};
  worker_api& worker = api("wait_all");
  {
    py::gil_scoped_release release;
    worker.wait_all();
  }
  in_flight_.clear();
}

void py_worker::wait_sync() {
  usage_guard guard{*this, "wait_sync"};
  worker_api& worker = api("wait_sync");
  py::gil_scoped_release release;
  worker.wait_sync();
}

void py_worker::barrier() {
  usage_guard guard{*this, "barrier"};
  worker_api& worker = api("barrier");
  py::gil_scoped_release release;
  worker.barrier();
}

void py_worker::finalize() {
  usage_guard guard{*this, "finalize"};
  worker_api& worker = api("finalize");
  {
    py::gil_scoped_release release;
    worker.finalize();
  }
  in_flight_.clear();  // finalize waited for every request
}

}  // namespace gapm::python
