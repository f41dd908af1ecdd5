// Unit tests of the KGE sample's parts: the WordNet parser, the split and its cache.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataset.hpp"
#include "random.hpp"
#include "wordnet.hpp"

namespace {

namespace fs = std::filesystem;

// A temporary folder that removes itself.
class temp_dir {
 public:
  temp_dir() : path_{fs::temp_directory_path() / ("gapm-test-kge-" + std::to_string(::getpid()) + "-" +
                                                 std::to_string(counter_++))} {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

constexpr const char* licence = "  1 This software and database is being provided to you, the LICENSEE, by\n"
                                "  2 Princeton University under the following license.\n";

// Six synsets in four files: semantic pointers, two lexical ones, verb frames, a satellite.
void write_tiny_wordnet(const fs::path& dir) {
  write(dir / "data.noun", std::string(licence) +
        "00001740 03 n 01 entity 0 002 ~ 00001930 n 0000 ~ 00002137 n 0000 | that which is perceived  \n"
        "00001930 03 n 02 physical_entity 0 thing 1 002 @ 00001740 n 0000 %p 00002137 n 0000 | physical | existence\n"
        "00002137 03 n 01 abstraction 0 002 @ 00001740 n 0000 + 00000100 v 0101 | a general concept\n");
  write(dir / "data.verb", std::string(licence) +
        "00000100 29 v 01 breathe 0 002 @ 00002137 n 0000 + 00002137 n 0101 01 + 02 00 | draw air\n");
  write(dir / "data.adj", std::string(licence) +
        "00000200 00 a 01 able 0 001 & 00000300 s 0000 | having the means\n"
        "00000300 00 s 01 capable(a) 0 001 & 00000200 a 0000 | a satellite\n");
  write(dir / "data.adv", licence);
}

TEST(WordNet, ParsesSynsetsAndSemanticPointers) {
  temp_dir dir;
  write_tiny_wordnet(dir.path());
  const auto graph = kge::read_wordnet(dir.path());

  ASSERT_EQ(graph.entities.size(), 6u);
  EXPECT_EQ(graph.entities[0].synset, "n00001740");
  EXPECT_EQ(graph.entities[1].word, "physical_entity");
  EXPECT_EQ(graph.entities[3].synset, "v00000100");
  EXPECT_EQ(graph.entities[5].synset, "a00000300");  // a satellite lives in data.adj

  ASSERT_EQ(graph.relations.size(), 4u);  // in order of first appearance
  const std::vector<std::string> symbols = {"~", "@", "%p", "&"};
  const std::vector<std::uint64_t> counts = {2, 3, 1, 2};
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_EQ(graph.relations[r].symbol, symbols[r]);
    EXPECT_EQ(graph.relations[r].count, counts[r]);
  }
  EXPECT_EQ(graph.relations[1].name, "hypernym");
  EXPECT_EQ(graph.lexical_pointers, 2u);

  const std::vector<kge::triple> expected = {{0, 0, 1}, {0, 0, 2}, {1, 1, 0}, {1, 2, 2},
                                             {2, 1, 0}, {3, 1, 2}, {4, 3, 5}, {5, 3, 4}};
  EXPECT_EQ(graph.triples, expected);
}

TEST(WordNet, NamesTheFileAndLineOfAMalformedSynset) {
  temp_dir dir;
  write_tiny_wordnet(dir.path());
  write(dir.path() / "data.verb", std::string(licence) + "00000100 29 v 01 breathe 0 003 @ 00002137 n 0000 | short\n");
  try {
    (void)kge::read_wordnet(dir.path());
    FAIL() << "no error for a synset with too few pointers";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("data.verb:3"), std::string::npos) << e.what();
  }
}

TEST(WordNet, RejectsAPointerToNoSynset) {
  temp_dir dir;
  write_tiny_wordnet(dir.path());
  write(dir.path() / "data.adv", std::string(licence) + "00000400 02 r 01 ably 0 001 \\ 00000999 a 0000 | nowhere\n");
  EXPECT_THROW((void)kge::read_wordnet(dir.path()), std::runtime_error);
}

TEST(WordNet, NamesAMissingDatabase) {
  temp_dir dir;
  EXPECT_THROW((void)kge::read_wordnet(dir.path() / "absent"), std::runtime_error);
}

// A random graph of `n` distinct triples over `entities` entities and 5 relations.
kge::knowledge_graph random_graph(std::size_t n, std::uint32_t entities) {
  kge::knowledge_graph graph;
  for (std::uint32_t e = 0; e < entities; ++e) graph.entities.push_back({"n" + std::to_string(e), "w"});
  for (int r = 0; r < 5; ++r) graph.relations.push_back({std::to_string(r), std::to_string(r), 0});
  kge::split_mix rng{7};
  while (graph.triples.size() < n) {
    const kge::triple t{static_cast<std::uint32_t>(rng.below(entities)), static_cast<std::uint32_t>(rng.below(5)),
                        static_cast<std::uint32_t>(rng.below(entities))};
    if (std::find(graph.triples.begin(), graph.triples.end(), t) == graph.triples.end()) graph.triples.push_back(t);
  }
  return graph;
}

bool less(const kge::triple& a, const kge::triple& b) {
  return std::tie(a.head, a.relation, a.tail) < std::tie(b.head, b.relation, b.tail);
}

TEST(Split, IsDeterministicAndKeepsOnlyRankableTriples) {
  const auto graph = random_graph(2000, 400);
  const kge::split_settings settings{.valid = 100, .test = 150, .seed = 3};
  const auto a = kge::split_graph(graph, settings);
  const auto b = kge::split_graph(graph, settings);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.train.size(), 2000u - 250u);
  EXPECT_EQ(a.valid.size() + a.dropped_valid, 100u);
  EXPECT_EQ(a.test.size() + a.dropped_test, 150u);

  std::vector<bool> in_train(400, false);
  for (const auto& t : a.train) in_train[t.head] = in_train[t.tail] = true;
  for (const auto* split : {&a.valid, &a.test})
    for (const auto& t : *split) EXPECT_TRUE(in_train[t.head] && in_train[t.tail]);

  // Nothing lost but the dropped triples: the kept ones are exactly the original's.
  auto all = a.train;
  all.insert(all.end(), a.valid.begin(), a.valid.end());
  all.insert(all.end(), a.test.begin(), a.test.end());
  auto original = graph.triples;
  std::sort(all.begin(), all.end(), less);
  std::sort(original.begin(), original.end(), less);
  EXPECT_TRUE(std::includes(original.begin(), original.end(), all.begin(), all.end(), less));
  EXPECT_EQ(all.size() + a.dropped_valid + a.dropped_test, original.size());

  EXPECT_NE(kge::split_graph(graph, {.valid = 100, .test = 150, .seed = 4}).test, a.test);
}

TEST(Cache, RoundTripsAndIsReadInsteadOfWordNet) {
  temp_dir wordnet, cache;
  write_tiny_wordnet(wordnet.path());
  const kge::split_settings settings{.valid = 1, .test = 2, .seed = 5};
  const auto built = kge::load_dataset(cache.path(), wordnet.path(), settings);
  EXPECT_FALSE(built.from_cache);
  for (const char* file : {"train.txt", "valid.txt", "test.txt", "entities.txt", "relations.txt", "manifest.txt"})
    EXPECT_TRUE(fs::exists(cache.path() / file)) << file;

  fs::remove_all(wordnet.path());  // a later run needs only the cache
  const auto read = kge::load_dataset(cache.path(), wordnet.path(), settings);
  EXPECT_TRUE(read.from_cache);
  EXPECT_EQ(read.train, built.train);
  EXPECT_EQ(read.valid, built.valid);
  EXPECT_EQ(read.test, built.test);
  ASSERT_EQ(read.entities.size(), built.entities.size());
  EXPECT_EQ(read.entities[4].synset, "a00000200");
  EXPECT_EQ(read.relations[2].symbol, "%p");
  EXPECT_EQ(read.relations[1].count, 3u);
  EXPECT_EQ(read.lexical_pointers, 2u);
  EXPECT_EQ(read.num_triples(), 8u);

  // Another split is another cache: this one does not count.
  kge::dataset other;
  EXPECT_FALSE(kge::read_cache(cache.path(), {.valid = 2, .test = 2, .seed = 5}, other));
}

}  // namespace
