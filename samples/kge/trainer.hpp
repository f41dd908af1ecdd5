// One worker's training loop: mini-batches of its shard of the training triples, intent
// signalled `lookahead` batches ahead, negatives through gapm's sampling API, and the AdaGrad
// step pushed as additive deltas.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <vector>

#include <gapm/gapm.hpp>

#include "complex_model.hpp"
#include "key_layout.hpp"
#include "settings.hpp"
#include "wordnet.hpp"

namespace kge {

/// What one worker's epoch came to.
struct epoch_sums {
  double loss = 0;       ///< data loss summed over positives
  double positives = 0;  ///< positive triples trained on
};

/// Trains worker `index` of `count` (cluster-wide) on the triples i with i % count == index.
/// One clock is one batch; the clock of batch b is b, counted across epochs.
class trainer {
 public:
  trainer(gapm::Worker<float>& worker, std::span<const triple> train, const key_layout& keys, const settings& s,
          int index, int count);

  /// Runs this worker's batches of the next epoch.
  epoch_sums run_epoch();

 private:
  struct planned_batch {
    long index = 0;
    std::vector<std::uint32_t> triples;       // indices into train_
    std::vector<gapm::key_type> entity_keys;  // sorted, distinct
    gapm::SampleId negatives;
  };

  const std::vector<std::uint32_t>& order(long epoch);
  void plan(long batch);               // signals the batch's intent and prepares its negatives
  double train(const planned_batch& b);

  gapm::Worker<float>& worker_;
  std::span<const triple> train_;
  key_layout keys_;
  settings settings_;
  int index_;
  std::vector<std::uint32_t> shard_;
  long batches_per_epoch_ = 0;
  long total_batches_ = 0;
  long next_batch_ = 0;
  long next_planned_ = 0;
  std::deque<planned_batch> planned_;
  std::map<long, std::vector<std::uint32_t>> orders_;  // epoch -> shard permutation

  // Buffers reused by every batch.
  std::vector<gapm::key_type> slot_keys_;
  std::vector<float> rows_;
  std::vector<gapm::key_type> negative_keys_;
  std::vector<float> negative_rows_;
  std::vector<std::uint32_t> heads_, relations_, tails_, negative_slots_;
  std::vector<float> grads_;
};

}  // namespace kge
