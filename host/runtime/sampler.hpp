// sampler: the node-side state of the sampling API (SPEC behaviour 10, AdaPM's sampling.h).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

namespace gapm::detail {

/// One prepared sample of one worker.
struct prepared_sample {
  std::vector<key_type> keys;  // drawn at prepare time (all schemes but local)
  std::size_t size = 0;        // k
  std::size_t used = 0;        // keys handed out by pull_sample so far
};

class sampler {
 public:
  explicit sampler(const Options& options) : options_{options} {}

  void set_distribution(std::function<key_type()> sample_key) { sample_key_ = std::move(sample_key); }
  [[nodiscard]] bool ready() const noexcept { return static_cast<bool>(sample_key_); }
  [[nodiscard]] key_type draw() const { return sample_key_(); }

  /// k keys by the scheme (naive, preloc: straight draws; pool: from the node's pool).
  std::vector<key_type> draw_prepared(std::size_t k) {
    std::vector<key_type> keys(k);
    if (options_.sampling_scheme != sampling_mode::pool) {
      for (auto& key : keys) key = draw();
      return keys;
    }
    std::lock_guard guard{pool_mutex_};
    for (auto& key : keys) {
      if (pool_.empty() || pool_draws_ >= options_.sampling_pool_size * options_.sampling_reuse) {
        pool_.resize(options_.sampling_pool_size);
        for (auto& p : pool_) p = draw();
        pool_draws_ = 0;
      }
      key = pool_[pool_rng_() % pool_.size()];
      ++pool_draws_;
    }
    return keys;
  }

 private:
  const Options& options_;
  std::function<key_type()> sample_key_;
  std::mutex pool_mutex_;
  std::vector<key_type> pool_;
  std::size_t pool_draws_ = 0;
  std::mt19937_64 pool_rng_{0x9e3779b97f4a7c15ull};
};

}  // namespace gapm::detail
