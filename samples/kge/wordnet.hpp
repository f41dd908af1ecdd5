// WordNet 3.0 as a knowledge graph: every synset becomes an entity, every semantic pointer
// (one between two synsets, not between two words) a triple, one relation per pointer symbol.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kge {

/// (head, relation, tail) as entity and relation ids.
struct triple {
  std::uint32_t head = 0;
  std::uint32_t relation = 0;
  std::uint32_t tail = 0;
  friend bool operator==(const triple&, const triple&) = default;
};

/// An entity: its synset ("n00001740": part of speech and byte offset) and its first word.
struct entity_info {
  std::string synset;
  std::string word;
};

/// A relation: the pointer symbol it comes from, a readable name, how many triples it has.
struct relation_info {
  std::string symbol;  ///< as in the data files, e.g. "@" or "%p"
  std::string name;    ///< e.g. "hypernym" or "part_meronym"
  std::uint64_t count = 0;
};

/// What read_wordnet() found.
struct knowledge_graph {
  std::vector<entity_info> entities;        ///< per entity id, in file order
  std::vector<relation_info> relations;     ///< per relation id, in order of first appearance
  std::vector<triple> triples;              ///< every semantic pointer, in file order
  std::uint64_t lexical_pointers = 0;       ///< word-to-word pointers, not turned into triples
};

/// Reads data.noun, data.verb, data.adj and data.adv of the WordNet database in `dir` (the
/// format of wndb(5WN)). Entities are numbered in file order (noun, verb, adj, adv); a
/// satellite adjective ("s") lives in data.adj like any adjective. Throws std::runtime_error
/// naming the file and line for a missing file, a malformed line or a pointer to no synset.
[[nodiscard]] knowledge_graph read_wordnet(const std::filesystem::path& dir);

/// A readable name for a semantic pointer symbol ("@" -> "hypernym"); the symbol itself when unknown.
[[nodiscard]] std::string pointer_name(const std::string& symbol);

}  // namespace kge
