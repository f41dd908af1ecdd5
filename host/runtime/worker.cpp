// Worker<T>: the public face of a worker_state inside node_impl<T>.
#include <gapm/worker.hpp>

#include <utility>

#include "host/common/expects.hpp"
#include "host/runtime/node_impl.hpp"

namespace gapm {
template <class T>
Worker<T>::Worker(Node<T>& node, int id) : node_{&node}, state_{&node.impl_->register_worker(id)} {}

template <class T>
Worker<T>::~Worker() {
  if (state_ != nullptr) node_->impl_->deregister_worker(*state_);
}

template <class T>
Worker<T>::Worker(Worker&& other) noexcept
    : node_{std::exchange(other.node_, nullptr)}, state_{std::exchange(other.state_, nullptr)} {}

template <class T>
Worker<T>& Worker<T>::operator=(Worker&& other) noexcept {
  if (this != &other) {
    if (state_ != nullptr) node_->impl_->deregister_worker(*state_);
    node_ = std::exchange(other.node_, nullptr);
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

template <class T>
int Worker<T>::id() const noexcept { return state_ == nullptr ? -1 : state_->id(); }

template <class T>
Ticket Worker<T>::pull(const key_type* keys, std::size_t n, T* out) {
  return node_->impl_->ops().pull(*state_, keys, n, out);
}

template <class T>
Ticket Worker<T>::pull(std::span<const key_type> keys, std::span<T> out) {
  return node_->impl_->ops().pull(*state_, keys.data(), keys.size(), out.data(), {.stream = {}, .blocking = true, .buffer_values = out.size()});
}

template <class T>
Ticket Worker<T>::push(const key_type* keys, std::size_t n, const T* deltas) {
  return node_->impl_->ops().write(*state_, detail::write_kind::add, keys, n, deltas);
}

template <class T>
Ticket Worker<T>::push(std::span<const key_type> keys, std::span<const T> deltas) {
  return node_->impl_->ops().write(*state_, detail::write_kind::add, keys.data(), keys.size(), deltas.data(),
                             {.stream = {}, .blocking = true, .buffer_values = deltas.size()});
}

template <class T>
Ticket Worker<T>::set(const key_type* keys, std::size_t n, const T* values) {
  return node_->impl_->ops().write(*state_, detail::write_kind::assign, keys, n, values);
}

template <class T>
Ticket Worker<T>::set(std::span<const key_type> keys, std::span<const T> values) {
  return node_->impl_->ops().write(*state_, detail::write_kind::assign, keys.data(), keys.size(), values.data(),
                             {.stream = {}, .blocking = true, .buffer_values = values.size()});
}

template <class T>
Ticket Worker<T>::pull_async(const key_type* keys, std::size_t n, T* out, stream_view stream) {
  return node_->impl_->ops().pull(*state_, keys, n, out, {.stream = stream, .blocking = false, .buffer_values = std::nullopt});
}

template <class T>
Ticket Worker<T>::push_async(const key_type* keys, std::size_t n, const T* deltas, stream_view stream) {
  return node_->impl_->ops().write(*state_, detail::write_kind::add, keys, n, deltas, {.stream = stream, .blocking = false, .buffer_values = std::nullopt});
}

template <class T>
Ticket Worker<T>::apply_step(const key_type* keys, std::size_t n, const T* grads, const optimizer_step& step) {
  return node_->impl_->ops().apply_step(*state_, keys, n, grads, step);
}

template <class T>
Ticket Worker<T>::apply_step(std::span<const key_type> keys, std::span<const T> grads, const optimizer_step& step) {
  return node_->impl_->ops().apply_step(*state_, keys.data(), keys.size(), grads.data(), step,
                                        {.stream = {}, .blocking = true, .buffer_values = grads.size()});
}

template <class T>
Ticket Worker<T>::apply_step_async(const key_type* keys, std::size_t n, const T* grads, const optimizer_step& step,
                                   stream_view stream) {
  return node_->impl_->ops().apply_step(*state_, keys, n, grads, step,
                                        {.stream = stream, .blocking = false, .buffer_values = std::nullopt});
}

template <class T>
Ticket Worker<T>::apply_sgd(const key_type* keys, std::size_t n, const T* grads, double lr) {
  return apply_step(keys, n, grads, {.kind = optimizer::sgd, .lr = lr});
}

template <class T>
Ticket Worker<T>::apply_adagrad(const key_type* keys, std::size_t n, const T* grads, double lr, double eps) {
  return apply_step(keys, n, grads, {.kind = optimizer::adagrad, .lr = lr, .eps = eps});
}

template <class T>
Ticket Worker<T>::apply_adam(const key_type* keys, std::size_t n, const T* grads, double lr, std::int64_t t,
                             double beta1, double beta2, double eps) {
  return apply_step(keys, n, grads,
                    {.kind = optimizer::adam, .lr = lr, .eps = eps, .beta1 = beta1, .beta2 = beta2, .t = t});
}

template <class T>
void Worker<T>::intent(const key_type* keys, std::size_t n, clock_type start, clock_type end) {
  node_->impl_->ops().intent(*state_, keys, n, start, end);
}

template <class T>
void Worker<T>::intent(std::span<const key_type> keys, clock_type start, clock_type end) {
  intent(keys.data(), keys.size(), start, end);
}

template <class T>
SampleId Worker<T>::prepare_sample(std::size_t k, clock_type start, clock_type end) {
  return node_->impl_->sampling().prepare_sample(*state_, k, start, end);
}

template <class T>
Ticket Worker<T>::pull_sample(SampleId id, key_type* keys_out, std::size_t n, T* values_out) {
  return node_->impl_->sampling().pull_sample(*state_, id, keys_out, n, values_out);
}

template <class T>
void Worker<T>::finish_sample(SampleId id) { node_->impl_->sampling().finish_sample(*state_, id); }

template <class T>
void Worker<T>::advance_clock() { node_->impl_->advance_clock(*state_); }

template <class T>
clock_type Worker<T>::clock() const noexcept {
  return state_->finalized() ? WORKER_FINISHED : state_->clock();
}

template <class T>
void Worker<T>::wait(Ticket ticket) {
  node_->impl_->check_usable(*state_, "wait");
  if (ticket.is_local()) return;
  state_->requests().wait(ticket);
  node_->impl_->ops().deliver_arrived_pulls(*state_, ticket.id);
}

template <class T>
bool Worker<T>::is_finished(Ticket ticket) {
  node_->impl_->check_usable(*state_, "is_finished");
  if (ticket.is_local()) return true;
  if (!state_->requests().is_finished(ticket)) return false;
  node_->impl_->ops().deliver_arrived_pulls(*state_, ticket.id);
  return true;
}

template <class T>
void Worker<T>::wait_all() {
  node_->impl_->check_usable(*state_, "wait_all");
  state_->requests().wait_all();
  node_->impl_->ops().deliver_arrived_pulls(*state_, std::nullopt);
}

template <class T>
void Worker<T>::wait_sync() { node_->impl_->wait_sync(*state_); }
template <class T>
void Worker<T>::barrier() { node_->impl_->worker_barrier(*state_); }
template <class T>
void Worker<T>::finalize() { node_->impl_->finalize(*state_); }

template class Worker<float>;
template class Worker<double>;
template class Worker<std::int64_t>;

}  // namespace gapm
