#include "host/store/row_store.hpp"

#include "host/store/store_factory.hpp"

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"

namespace gapm::detail {

template <class T>
row_store<T>::row_store(const key_space& keys, store_kind kind, home_keys home, const Options& options, int device,
                        bool replicas_possible)
    : keys_{keys} {
  for (std::size_t t = 0; t < keys.num_tables(); ++t)
    tables_.push_back(make_store<T>(kind, keys.table_begin(t), keys.table(t), home, options, device, replicas_possible));
}

template <class T>
void row_store<T>::insert_where_room(std::vector<key_type>& keys) {
  std::vector<std::uint64_t> room(tables_.size());
  for (std::size_t t = 0; t < tables_.size(); ++t) room[t] = tables_[t]->free_slots();
  std::vector<std::vector<key_type>> by_table(tables_.size());
  std::erase_if(keys, [&](key_type k) {
    const std::size_t t = keys_.table_of(k);
    const bool home = tables_[t]->index().is_home(k);  // its slot is its own
    if ((!home && room[t] == 0) || !tables_[t]->can_insert(k)) return true;
    if (!home) --room[t];
    by_table[t].push_back(k);
    return false;
  });
  for (std::size_t t = 0; t < tables_.size(); ++t)
    if (!by_table[t].empty() && !tables_[t]->insert(by_table[t].data(), by_table[t].size()))
      throw error(concat("gapm: table ", t, ": ", by_table[t].size(), " keys found no slot where the pool had room"));
}

template <class T>
void row_store<T>::erase(const key_type* keys, std::size_t n) {
  each_table_run(keys, n, [&](std::size_t t, std::size_t first, std::size_t count, std::size_t) {
    tables_[t]->erase(keys + first, count);
  });
}

template <class T>
template <class Op>
void row_store<T>::each_run(const key_type* keys, std::size_t n, Op op, stream_view stream) {
  each_table_run(keys, n, [&](std::size_t t, std::size_t first, std::size_t count, std::size_t offset) {
    op(*tables_[t], keys + first, count, offset);
  });
  synchronize(stream);
}

template <class T>
void row_store<T>::gather(const key_type* keys, std::size_t n, T* out, stream_view stream) {
  each_run(
      keys, n,
      [&](store_backend<T>& s, const key_type* run, std::size_t count, std::size_t offset) {
        s.gather(run, count, out + offset, stream);
      },
      stream);
}

template <class T>
void row_store<T>::add(const key_type* keys, std::size_t n, const T* deltas) {
  each_run(keys, n, [&](store_backend<T>& s, const key_type* run, std::size_t count, std::size_t offset) {
    s.scatter_add(run, count, deltas + offset, {});
  });
}

template <class T>
void row_store<T>::assign(const key_type* keys, std::size_t n, const T* values) {
  each_run(keys, n, [&](store_backend<T>& s, const key_type* run, std::size_t count, std::size_t offset) {
    s.assign(run, count, values + offset, {});
  });
}

template <class T>
void row_store<T>::extract_deltas(const key_type* keys, std::size_t n, T* deltas) {
  each_run(keys, n, [&](store_backend<T>& s, const key_type* run, std::size_t count, std::size_t offset) {
    s.extract_delta(run, count, deltas + offset, {});
  });
}

template <class T>
void row_store<T>::measure_deltas(const key_type* keys, std::size_t n, delta_measure* out, bool with_norm) {
  each_table_run(keys, n, [&](std::size_t t, std::size_t first, std::size_t count, std::size_t) {
    tables_[t]->measure_delta(keys + first, count, out + first, with_norm, {});
  });
  synchronize({});
}

template <class T>
void row_store<T>::refresh(const key_type* keys, std::size_t n, const T* main) {
  each_run(keys, n, [&](store_backend<T>& s, const key_type* run, std::size_t count, std::size_t offset) {
    s.refresh_merge(run, count, main + offset, {});
  });
}

template <class T>
void row_store<T>::apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step) {
  each_run(keys, n, [&](store_backend<T>& s, const key_type* run, std::size_t count, std::size_t offset) {
    s.apply_step(run, count, grads + offset / step.factor, step, {});
  });
}

template <class T>
std::uint64_t row_store<T>::slots_used() const noexcept {
  std::uint64_t used = 0;
  for (const auto& t : tables_) used += t->index().size();
  return used;
}

template <class T>
std::uint64_t row_store<T>::slots_capacity() const noexcept {
  std::uint64_t capacity = 0;
  for (const auto& t : tables_) capacity += t->index().capacity();
  return capacity;
}

template class row_store<float>;
template class row_store<double>;
template class row_store<std::int64_t>;

}  // namespace gapm::detail
