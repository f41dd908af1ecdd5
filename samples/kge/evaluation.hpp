// Filtered link prediction: for a test triple (h, r, t), rank the true tail t among all
// entities by the score of (h, r, ?), skipping the other tails known to be true from any split
// (the "filtered" setting of Bordes et al., 2013), and likewise the true head. Reports the mean
// reciprocal rank and Hits@1/3/10 over both directions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "wordnet.hpp"

namespace kge {

/// The known answers of every (h, r, ?) and (?, r, t) query.
class filter_index {
 public:
  filter_index(std::size_t num_relations, std::span<const std::vector<triple>* const> splits);

  [[nodiscard]] std::span<const std::uint32_t> tails(std::uint32_t head, std::uint32_t relation) const;
  [[nodiscard]] std::span<const std::uint32_t> heads(std::uint32_t relation, std::uint32_t tail) const;

 private:
  std::uint64_t key(std::uint32_t entity, std::uint32_t relation) const noexcept {
    return static_cast<std::uint64_t>(entity) * num_relations_ + relation;
  }
  std::uint64_t num_relations_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> tails_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> heads_;
};

/// Sums over queries (each triple asks two: its tail and its head), so that shards evaluated
/// by different workers add up.
struct rank_sums {
  double reciprocal_rank = 0;
  double hits1 = 0;
  double hits3 = 0;
  double hits10 = 0;
  double queries = 0;

  [[nodiscard]] double mean(double sum) const noexcept { return queries > 0 ? sum / queries : 0; }
};

/// Embeddings to evaluate: entities (num_entities x 2*dim) and relations (x 2*dim), real part
/// then imaginary part, as in complex_model.hpp (without the AdaGrad accumulators).
struct embedding_view {
  const float* entities = nullptr;
  std::size_t num_entities = 0;
  const float* relations = nullptr;
  std::size_t dim = 0;
};

/// Ranks the tail and the head of every triple. A tie counts half (an entity with exactly the
/// true score ranks half a place before it), so that a constant model gets no credit.
[[nodiscard]] rank_sums evaluate(const embedding_view& model, std::span<const triple> triples,
                                 const filter_index& filter);

}  // namespace kge
