// gapm::Worker<T>: the API one application thread uses to read, update and announce keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <gapm/node.hpp>
#include <gapm/optimizer.hpp>
#include <gapm/types.hpp>

namespace gapm {

namespace detail {
class worker_state;
}  // namespace detail

/// One application thread's handle to its node. Not thread-safe: one worker per thread.
///
/// Buffers. `keys` hold n keys; value buffers hold the rows of those keys concatenated, so
/// their length is the sum of the keys' row lengths. Pointer overloads trust the caller with
/// that length; span overloads check it (logic_error otherwise). In the CUDA build every
/// buffer may be in host or device memory: the memory space is read from the pointer
/// (cudaPointerGetAttributes), so pageable, pinned, managed and device buffers all work.
///
/// Errors. Every call validates all its input before touching any value: a call that throws
/// logic_error (key out of range, null buffer, wrong length, misused clock, use after
/// finalize or shutdown) has changed nothing.
///
/// Tickets. pull/push/set return a Ticket. Requests served from local memory are complete on
/// return (Ticket::is_local()); others complete when every key is answered: wait() for them.
template <class T>
class Worker {
 public:
  /// Registers worker `id` (in [0, options.workers), unique within the node).
  Worker(Node<T>& node, int id);
  ~Worker();  ///< deregisters without waiting; never throws
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  Worker(Worker&&) noexcept;
  Worker& operator=(Worker&&) noexcept;

  [[nodiscard]] int id() const noexcept;

  /// Copies the current values of keys[0..n) into out (rows concatenated).
  Ticket pull(const key_type* keys, std::size_t n, T* out);
  Ticket pull(std::span<const key_type> keys, std::span<T> out);

  /// Adds deltas to the keys' values: value += delta (repeated keys add up).
  Ticket push(const key_type* keys, std::size_t n, const T* deltas);
  Ticket push(std::span<const key_type> keys, std::span<const T> deltas);

  /// Overwrites the keys' values (for a repeated key the last row wins). Defined on main
  /// copies; a set that reaches a key replicated on other nodes is applied to the main copy
  /// and replicas pick it up as a refresh (see docs/ARCHITECTURE.md).
  Ticket set(const key_type* keys, std::size_t n, const T* values);
  Ticket set(std::span<const key_type> keys, std::span<const T> values);

  /// Stream-ordered twins (CUDA build): the copies and kernels for local keys are enqueued on
  /// `stream` and the call returns without synchronising it; the caller synchronises the
  /// stream before reading `out` or reusing `keys` or `deltas`. Keys in device memory are
  /// read in the stream's order (to be checked), so the call waits for the work enqueued
  /// before it; keys or rows in host memory are staged and the call synchronises. A queued
  /// write is part of the key wherever it goes next: a replica refresh, a relocation or a
  /// save reads the row behind every write queued to it. The CPU build accepts only the
  /// default stream_view and then behaves like pull/push (unsupported_error otherwise).
  Ticket pull_async(const key_type* keys, std::size_t n, T* out, stream_view stream);
  Ticket push_async(const key_type* keys, std::size_t n, const T* deltas, stream_view stream);

  /// Fused optimizer steps (gapm::optimizer_step, include/gapm/optimizer.hpp): each key's row
  /// is updated in place by the step's deltas — parameters and optimizer state, which live in
  /// the same row — computed from the row's current value, atomically per row, wherever the
  /// main copy or a replica lives (a remote key's step runs at its main copy). `grads` holds
  /// the gradients of the parameter part of every row (row length / row_factor() values per
  /// key); repeated keys have their gradients summed first. Throws logic_error for a row
  /// length that does not fit the optimizer, invalid hyperparameters, or adagrad/adam on int64.
  Ticket apply_step(const key_type* keys, std::size_t n, const T* grads, const optimizer_step& step);
  Ticket apply_step(std::span<const key_type> keys, std::span<const T> grads, const optimizer_step& step);
  Ticket apply_step_async(const key_type* keys, std::size_t n, const T* grads, const optimizer_step& step,
                          stream_view stream);
  /// Shorthands: plain SGD; AdaGrad; Adam at step t (from 1).
  Ticket apply_sgd(const key_type* keys, std::size_t n, const T* grads, double lr);
  Ticket apply_adagrad(const key_type* keys, std::size_t n, const T* grads, double lr, double eps = 1e-10);
  Ticket apply_adam(const key_type* keys, std::size_t n, const T* grads, double lr, std::int64_t t,
                    double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);

  /// Announces that this worker will access keys[0..n) during its clocks [start, end);
  /// end = 0 means start + 1; use [0, CLOCK_MAX) for long-lived intent. Non-blocking.
  /// Throws logic_error for end <= start (when end != 0) or start < 0.
  void intent(const key_type* keys, std::size_t n, clock_type start, clock_type end = 0);
  void intent(std::span<const key_type> keys, clock_type start, clock_type end = 0);

  void advance_clock();
  [[nodiscard]] clock_type clock() const noexcept;

  /// Sampling (SPEC behaviour 10): declares k sampled accesses during clocks [start, end)
  /// (end = 0: start + 1), drawn from Node::set_sampler's distribution by the scheme of option
  /// sampling.scheme: `naive` draws k keys now; `preloc` also signals intent for them;
  /// `pool` draws them from a per-node pool of sampling.pool_size keys, each used
  /// sampling.reuse times before the pool is drawn anew, and signals intent; `local` draws at
  /// pull time, skipping keys that are not local (trading sample quality for locality).
  /// Throws logic_error when no sampler is set or k = 0.
  SampleId prepare_sample(std::size_t k, clock_type start, clock_type end = 0);
  /// Takes the next n keys of sample `id`: writes them to keys_out (n) and their rows to
  /// values_out. Throws logic_error for an unknown id or more keys than remain.
  Ticket pull_sample(SampleId id, key_type* keys_out, std::size_t n, T* values_out);
  /// Forgets sample `id`.
  void finish_sample(SampleId id);

  /// Blocks until the request behind `ticket` has completed.
  void wait(Ticket ticket);
  [[nodiscard]] bool is_finished(Ticket ticket);
  /// Blocks until every request of this worker has completed.
  void wait_all();
  /// Returns once every sync manager of this node has completed two more rounds.
  void wait_sync();
  /// Waits for every worker of every node (options.workers per node) to reach the barrier.
  void barrier();
  /// Ends this worker: its intents expire, then wait_all(), wait_sync() and barrier().
  /// Afterwards every call but id() throws logic_error.
  void finalize();

 private:
  Node<T>* node_ = nullptr;
  detail::worker_state* state_ = nullptr;
};

extern template class Worker<float>;
extern template class Worker<double>;
extern template class Worker<std::int64_t>;

}  // namespace gapm
