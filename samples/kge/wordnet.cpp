// The WordNet data-file parser (see wordnet.hpp and wndb(5WN)).
#include "wordnet.hpp"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace kge {
namespace {

// The four data files and the part-of-speech letter their synsets carry in pointers.
struct data_file {
  const char* name;
  char pos;
};
constexpr data_file data_files[] = {{"data.noun", 'n'}, {"data.verb", 'v'}, {"data.adj", 'a'}, {"data.adv", 'r'}};

// A synset is named by its byte offset and its file: offsets repeat across files.
std::uint64_t synset_id(char pos, std::uint64_t offset) { return (static_cast<std::uint64_t>(pos) << 40) | offset; }

// Satellite adjectives ("s") are in data.adj.
char file_pos(char pos) { return pos == 's' ? 'a' : pos; }

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// One synset line, cut before the gloss ("|").
struct synset_line {
  std::uint64_t offset = 0;
  char pos = 0;
  std::string first_word;
  struct pointer {
    std::string symbol;
    std::uint64_t target_offset;
    char target_pos;
    bool semantic;
  };
  std::vector<pointer> pointers;
};

class line_error {
 public:
  line_error(const std::filesystem::path& file, std::size_t line) : file_{file}, line_{line} {}
  [[noreturn]] void operator()(const std::string& what) const {
    throw std::runtime_error(file_.string() + ":" + std::to_string(line_) + ": " + what);
  }

 private:
  std::filesystem::path file_;
  std::size_t line_;
};

std::uint64_t number(std::string_view field, int base, const line_error& fail, const char* what) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, base);
  if (ec != std::errc{} || end != field.data() + field.size())
    fail(std::string("malformed ") + what + " '" + std::string(field) + "'");
  return value;
}

synset_line parse_synset(std::string_view text, const line_error& fail) {
  const auto bar = text.find('|');
  if (bar == std::string_view::npos) fail("no gloss separator '|'");
  const auto f = split_fields(text.substr(0, bar));
  // synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] [frames...]
  if (f.size() < 4) fail("too few fields");
  synset_line s;
  s.offset = number(f[0], 10, fail, "synset offset");
  if (f[2].size() != 1) fail("malformed synset type '" + std::string(f[2]) + "'");
  s.pos = file_pos(f[2][0]);
  const std::size_t words = number(f[3], 16, fail, "word count");
  std::size_t i = 4 + 2 * words;
  if (words == 0 || f.size() < i + 1) fail("too few fields for " + std::to_string(words) + " words");
  s.first_word = std::string(f[4]);
  const std::size_t pointers = number(f[i], 10, fail, "pointer count");
  ++i;
  if (f.size() < i + 4 * pointers) fail("too few fields for " + std::to_string(pointers) + " pointers");
  for (std::size_t p = 0; p < pointers; ++p, i += 4) {
    if (f[i + 2].size() != 1) fail("malformed pointer part of speech '" + std::string(f[i + 2]) + "'");
    if (f[i + 3].size() != 4) fail("malformed pointer source/target '" + std::string(f[i + 3]) + "'");
    number(f[i + 3], 16, fail, "pointer source/target");
    s.pointers.push_back({.symbol = std::string(f[i]),
                          .target_offset = number(f[i + 1], 10, fail, "pointer offset"),
                          .target_pos = file_pos(f[i + 2][0]),
                          .semantic = f[i + 3] == "0000"});
  }
  return s;
}

}  // namespace

std::string pointer_name(const std::string& symbol) {
  static const std::map<std::string, std::string> names = {
      {"@", "hypernym"},           {"~", "hyponym"},
      {"@i", "instance_hypernym"}, {"~i", "instance_hyponym"},
      {"#m", "member_holonym"},    {"%m", "member_meronym"},
      {"#s", "substance_holonym"}, {"%s", "substance_meronym"},
      {"#p", "part_holonym"},      {"%p", "part_meronym"},
      {"=", "attribute"},          {"+", "derivationally_related"},
      {";c", "domain_topic"},      {"-c", "member_of_domain_topic"},
      {";r", "domain_region"},     {"-r", "member_of_domain_region"},
      {";u", "domain_usage"},      {"-u", "member_of_domain_usage"},
      {"*", "entailment"},         {">", "cause"},
      {"^", "also_see"},           {"$", "verb_group"},
      {"&", "similar_to"},         {"!", "antonym"},
      {"<", "participle"},         {"\\", "pertainym"}};
  const auto it = names.find(symbol);
  return it == names.end() ? symbol : it->second;
}

knowledge_graph read_wordnet(const std::filesystem::path& dir) {
  knowledge_graph graph;
  // First pass: every synset gets its entity id; pointers are resolved once all are known.
  std::vector<synset_line> synsets;
  std::unordered_map<std::uint64_t, std::uint32_t> entity_of;
  for (const auto& file : data_files) {
    const auto path = dir / file.name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path.string() + " (is Debian's wordnet-base installed?)");
    std::string text;
    for (std::size_t line = 1; std::getline(in, text); ++line) {
      if (text.empty() || text[0] == ' ') continue;  // the licence header lines start with two spaces
      const line_error fail{path, line};
      synset_line s = parse_synset(text, fail);
      if (s.pos != file.pos) fail("a synset of type '" + std::string(1, s.pos) + "' in " + file.name);
      const auto id = static_cast<std::uint32_t>(synsets.size());
      if (!entity_of.emplace(synset_id(s.pos, s.offset), id).second)
        fail("synset " + std::to_string(s.offset) + " appears twice");
      char synset[24];
      std::snprintf(synset, sizeof synset, "%c%08llu", s.pos, static_cast<unsigned long long>(s.offset));
      graph.entities.push_back({.synset = synset, .word = s.first_word});
      synsets.push_back(std::move(s));
    }
  }
  std::unordered_map<std::string, std::uint32_t> relation_of;
  for (std::size_t head = 0; head < synsets.size(); ++head) {
    for (const auto& p : synsets[head].pointers) {
      if (!p.semantic) {
        ++graph.lexical_pointers;
        continue;
      }
      const auto target = entity_of.find(synset_id(p.target_pos, p.target_offset));
      if (target == entity_of.end())
        throw std::runtime_error("synset " + graph.entities[head].synset + ": pointer '" + p.symbol + "' to " +
                                 std::string(1, p.target_pos) + std::to_string(p.target_offset) +
                                 ", which is no synset");
      auto [rel, added] = relation_of.emplace(p.symbol, static_cast<std::uint32_t>(graph.relations.size()));
      if (added) graph.relations.push_back({.symbol = p.symbol, .name = pointer_name(p.symbol), .count = 0});
      ++graph.relations[rel->second].count;
      graph.triples.push_back({static_cast<std::uint32_t>(head), rel->second, target->second});
    }
  }
  return graph;
}

}  // namespace kge
