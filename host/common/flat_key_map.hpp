// flat_key_map<V, K>: key -> small value for the keys a node holds or remembers but is not home
// for. Open addressing with linear probing and backward-shift deletion: one cache line per
// lookup, no tombstones, no allocation per entry, at a load of at most one half.
// Not thread-safe: one writer at a time, and readers that exclude it. Pointers to values die
// with the next put or erase.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <gapm/types.hpp>

namespace gapm::detail {

/// K: the stored key type (a narrower one halves the entries when keys fit it).
template <class V, class K = key_type>
class flat_key_map {
 public:
  [[nodiscard]] const V* find(K key) const noexcept {
    if (entries_.empty()) return nullptr;
    for (std::size_t i = home(key);; i = (i + 1) & mask()) {
      const entry& e = entries_[i];
      if (e.key == key) return &e.value;
      if (e.key == empty) return nullptr;
    }
  }
  [[nodiscard]] V* find(K key) noexcept { return const_cast<V*>(std::as_const(*this).find(key)); }

  /// Adds `key` with `value` unless it is there; returns its value and whether it was added.
  std::pair<V*, bool> try_emplace(K key, const V& value) {
    if (2 * (size_ + 1) > entries_.size()) grow();
    std::size_t i = home(key);
    for (; entries_[i].key != empty; i = (i + 1) & mask())
      if (entries_[i].key == key) return {&entries_[i].value, false};
    entries_[i] = {key, value};
    ++size_;
    return {&entries_[i].value, true};
  }
  /// Adds or replaces.
  void put(K key, const V& value) { *try_emplace(key, value).first = value; }

  /// Removes `key`; returns its value, if it was there.
  std::optional<V> erase(K key) noexcept {
    if (entries_.empty()) return std::nullopt;
    std::size_t i = home(key);
    for (; entries_[i].key != key; i = (i + 1) & mask())
      if (entries_[i].key == empty) return std::nullopt;
    const V value = entries_[i].value;
    // Shift later entries of the probe run back into the hole, so that no lookup stops early.
    for (std::size_t j = (i + 1) & mask(); entries_[j].key != empty; j = (j + 1) & mask()) {
      const std::size_t wanted = home(entries_[j].key);
      const bool stays = i <= j ? (i < wanted && wanted <= j) : (i < wanted || wanted <= j);
      if (stays) continue;
      entries_[i] = entries_[j];
      i = j;
    }
    entries_[i] = entry{};
    --size_;
    return value;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Starts loading where find(key) will look first.
  void prefetch(K key) const noexcept {
    if (!entries_.empty()) __builtin_prefetch(&entries_[home(key)]);
  }

  /// Calls f(key, value) for every entry.
  template <class F>
  void for_each(F f) const {
    for (const entry& e : entries_)
      if (e.key != empty) f(e.key, e.value);
  }

 private:
  static constexpr K empty = static_cast<K>(~K{0});  // no key may be this
  struct entry {
    K key = empty;
    V value{};
  };

  [[nodiscard]] std::size_t mask() const noexcept { return entries_.size() - 1; }
  [[nodiscard]] std::size_t home(K key) const noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull) >> 32) & mask();
  }
  void grow() {
    std::vector<entry> old = std::move(entries_);
    entries_.assign(std::max<std::size_t>(16, old.size() * 2), entry{});
    size_ = 0;
    for (const entry& e : old)
      if (e.key != empty) try_emplace(e.key, e.value);
  }

  std::vector<entry> entries_;
  std::size_t size_ = 0;
};

}  // namespace gapm::detail
