// Node<T>: the public face of node_impl<T>.
#include <gapm/node.hpp>

#include "host/common/expects.hpp"
#include "host/runtime/node_impl.hpp"

namespace gapm {

template <class T>
Node<T>::Node(Options options) : impl_{std::make_unique<detail::node_impl<T>>(std::move(options))} {}

template <class T>
Node<T>::~Node() = default;  // node_impl's destructor shuts down without throwing

template <class T>
Node<T>::Node(Node&&) noexcept = default;
template <class T>
Node<T>& Node<T>::operator=(Node&&) noexcept = default;

template <class T>
int Node<T>::rank() const noexcept { return impl_->rank(); }
template <class T>
int Node<T>::world_size() const noexcept { return impl_->world_size(); }
template <class T>
const Options& Node<T>::options() const noexcept { return impl_->options(); }
template <class T>
std::uint64_t Node<T>::num_keys() const noexcept { return impl_->keys().num_keys(); }

template <class T>
std::uint32_t Node<T>::row_length(key_type key) const {
  impl_->keys().check_key(key, "row_length");
  return impl_->keys().row_length_of(key);
}

template <class T>
std::string Node<T>::store_name() const { return impl_->store_name(); }
template <class T>
void Node<T>::barrier() { impl_->node_barrier(); }
template <class T>
void Node<T>::shutdown() { impl_->shutdown(true); }
template <class T>
void Node<T>::set_sampler(std::function<key_type()> sample_key) { impl_->sampling().set_sampler(std::move(sample_key)); }
template <class T>
Stats Node<T>::stats() const { return impl_->stats(); }
template <class T>
void Node<T>::save(const std::string& path) { impl_->snapshot().save(path); }
template <class T>
void Node<T>::load(const std::string& path) { impl_->snapshot().load(path); }

template class Node<float>;
template class Node<double>;
template class Node<std::int64_t>;

}  // namespace gapm
