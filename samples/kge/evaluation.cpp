// Filtered ranking (see evaluation.hpp).
//
// Scoring all ~118k entities for every query is the cost. Queries go in blocks of 32: one
// sweep over the entity table computes the 32 scores of each entity, so the table streams from
// memory once per block instead of once per query.
#include "evaluation.hpp"

#include <algorithm>

namespace kge {
namespace {

constexpr std::size_t block = 32;

// One query: a vector whose dot product with an entity embedding is that entity's score.
struct query {
  std::vector<float> vector;
  std::uint32_t answer = 0;
  std::span<const std::uint32_t> known;  // every true answer, the asked one included
};

void add_rank(double rank, rank_sums& sums) {
  sums.reciprocal_rank += 1.0 / rank;
  sums.hits1 += rank <= 1 ? 1 : 0;
  sums.hits3 += rank <= 3 ? 1 : 0;
  sums.hits10 += rank <= 10 ? 1 : 0;
  sums.queries += 1;
}

// Ranks a block of up to 32 queries; scores is scratch of num_entities x 32.
void rank_block(const embedding_view& model, std::span<const query> queries, std::vector<float>& scores,
                rank_sums& sums) {
  const std::size_t emb = 2 * model.dim;
  const std::size_t entities = model.num_entities;
  std::vector<float> transposed(emb * block, 0.0f);  // dimension-major: 32 queries per dimension
  for (std::size_t q = 0; q < queries.size(); ++q)
    for (std::size_t j = 0; j < emb; ++j) transposed[j * block + q] = queries[q].vector[j];

  for (std::size_t e = 0; e < entities; ++e) {
    const float* x = model.entities + e * emb;
    float acc[block] = {};
    for (std::size_t j = 0; j < emb; ++j) {
      const float* column = transposed.data() + j * block;
      for (std::size_t q = 0; q < block; ++q) acc[q] += x[j] * column[q];
    }
    std::copy(acc, acc + block, scores.data() + e * block);
  }

  float truth[block] = {};
  for (std::size_t q = 0; q < queries.size(); ++q) truth[q] = scores[queries[q].answer * block + q];
  std::uint32_t greater[block] = {};
  std::uint32_t equal[block] = {};
  for (std::size_t e = 0; e < entities; ++e) {
    const float* s = scores.data() + e * block;
    for (std::size_t q = 0; q < block; ++q) {
      greater[q] += s[q] > truth[q] ? 1u : 0u;
      equal[q] += s[q] == truth[q] ? 1u : 0u;
    }
  }
  for (std::size_t q = 0; q < queries.size(); ++q) {
    // Filter: the other true answers do not compete; the asked answer ties with itself.
    for (std::uint32_t other : queries[q].known) {
      const float s = scores[other * block + q];
      if (s > truth[q]) --greater[q];
      else if (s == truth[q]) --equal[q];
    }
    if (std::find(queries[q].known.begin(), queries[q].known.end(), queries[q].answer) == queries[q].known.end())
      --equal[q];
    add_rank(1.0 + greater[q] + 0.5 * equal[q], sums);
  }
}

}  // namespace

filter_index::filter_index(std::size_t num_relations, std::span<const std::vector<triple>* const> splits)
    : num_relations_{num_relations} {
  for (const auto* split : splits)
    for (const auto& t : *split) {
      tails_[key(t.head, t.relation)].push_back(t.tail);
      heads_[key(t.tail, t.relation)].push_back(t.head);
    }
}

std::span<const std::uint32_t> filter_index::tails(std::uint32_t head, std::uint32_t relation) const {
  const auto it = tails_.find(key(head, relation));
  return it == tails_.end() ? std::span<const std::uint32_t>{} : std::span<const std::uint32_t>{it->second};
}

std::span<const std::uint32_t> filter_index::heads(std::uint32_t relation, std::uint32_t tail) const {
  const auto it = heads_.find(key(tail, relation));
  return it == heads_.end() ? std::span<const std::uint32_t>{} : std::span<const std::uint32_t>{it->second};
}

rank_sums evaluate(const embedding_view& model, std::span<const triple> triples, const filter_index& filter) {
  const std::size_t dim = model.dim;
  const std::size_t emb = 2 * dim;
  rank_sums sums;
  std::vector<float> scores(model.num_entities * block);
  std::vector<query> queries;
  auto flush = [&] {
    rank_block(model, queries, scores, sums);
    queries.clear();
  };
  for (const auto& t : triples) {
    const float* h = model.entities + t.head * emb;
    const float* r = model.relations + t.relation * emb;
    const float* x = model.entities + t.tail * emb;
    query tail{std::vector<float>(emb), t.tail, filter.tails(t.head, t.relation)};
    query head{std::vector<float>(emb), t.head, filter.heads(t.relation, t.tail)};
    for (std::size_t j = 0; j < dim; ++j) {  // see complex_model.cpp for the two queries
      const float a = h[j], b = h[dim + j], c = r[j], d = r[dim + j], e = x[j], f = x[dim + j];
      tail.vector[j] = a * c - b * d;
      tail.vector[dim + j] = a * d + b * c;
      head.vector[j] = c * e + d * f;
      head.vector[dim + j] = c * f - d * e;
    }
    queries.push_back(std::move(tail));
    queries.push_back(std::move(head));
    if (queries.size() == block) flush();
  }
  if (!queries.empty()) flush();
  return sums;
}

}  // namespace kge
