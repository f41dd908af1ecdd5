// Deterministic random numbers for the KGE sample: the same bits on every platform and
// standard library (std::shuffle and the std distributions are not specified bit for bit),
// so that the split, the shards and the initial embeddings are reproducible anywhere.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace kge {

/// SplitMix64: a small, fast generator whose output depends only on its 64-bit state.
class split_mix {
 public:
  explicit split_mix(std::uint64_t seed) noexcept : state_{seed} {}

  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, bound) for bound <= 2^32, by multiply-shift of the top 32 bits (a bias
  /// below bound / 2^32, far under what the sample could notice).
  std::uint64_t below(std::uint64_t bound) noexcept { return ((next() >> 32) * bound) >> 32; }

  /// Uniform in [0, 1) with 24 random bits: exact in a float.
  float unit() noexcept { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }

 private:
  std::uint64_t state_;
};

/// One seed from several: e.g. mix(seed, epoch, worker) for a per-epoch, per-worker stream.
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0) noexcept {
  split_mix m{a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (c * 0xc2b2ae3d27d4eb4fULL)};
  m.next();
  return m.next();
}

/// Fisher-Yates with split_mix: the same permutation everywhere for the same seed.
template <class T>
void shuffle(std::vector<T>& items, std::uint64_t seed) {
  split_mix rng{seed};
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

}  // namespace kge
