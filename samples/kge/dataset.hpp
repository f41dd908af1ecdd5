// The WordNet knowledge graph split into train/valid/test, and the cache folder that keeps
// the split as plain text so that later runs (and other programs) read it instead of WordNet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "wordnet.hpp"

namespace kge {

/// How the triples are split (WN18 used 5,000 validation and 5,000 test triples).
struct split_settings {
  std::size_t valid = 5000;
  std::size_t test = 5000;
  std::uint64_t seed = 2013;  ///< fixed: every run and every node sees the same split
};

/// A split knowledge graph.
struct dataset {
  std::vector<entity_info> entities;
  std::vector<relation_info> relations;  ///< counts are of the whole graph, before the split
  std::vector<triple> train, valid, test;
  std::uint64_t lexical_pointers = 0;    ///< skipped word-to-word pointers (reported only)
  std::size_t dropped_valid = 0;         ///< valid triples dropped: an entity not in train
  std::size_t dropped_test = 0;
  bool from_cache = false;               ///< read from the cache folder (not from WordNet)

  [[nodiscard]] std::uint64_t num_triples() const noexcept {
    return train.size() + valid.size() + test.size() + dropped_valid + dropped_test;
  }
};

/// Shuffles the triples with the split seed; the first `test` become the test split, the next
/// `valid` the validation split, the rest train. Validation and test triples whose head or tail
/// never occurs in train are dropped (no model could rank them).
[[nodiscard]] dataset split_graph(knowledge_graph graph, const split_settings& settings);

/// ${XDG_CACHE_HOME:-$HOME/.cache}/gapm/wordnet-kg
[[nodiscard]] std::filesystem::path default_cache_dir();

/// Writes train.txt, valid.txt, test.txt (head \t relation \t tail ids), entities.txt
/// (id \t synset \t word), relations.txt (id \t symbol \t name \t count) and, last,
/// manifest.txt into `dir`. Each file is written under a temporary name and renamed, so
/// processes that build the same cache at once never expose a partial file. Throws
/// std::runtime_error on I/O failure.
void write_cache(const dataset& data, const split_settings& settings, const std::filesystem::path& dir);

/// Reads a cache written by write_cache with the same split settings; returns false when there
/// is none (no manifest, or one of another format or split). Throws std::runtime_error for a
/// cache that is there but damaged.
[[nodiscard]] bool read_cache(const std::filesystem::path& dir, const split_settings& settings, dataset& data);

/// The cache in `cache_dir` if present, else the split of read_wordnet(wordnet_dir), written
/// to the cache on the way. Deterministic: every process may call it at once.
[[nodiscard]] dataset load_dataset(const std::filesystem::path& cache_dir, const std::filesystem::path& wordnet_dir,
                                   const split_settings& settings = {});

}  // namespace kge
