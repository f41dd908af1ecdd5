// Unit tests of the KGE sample's parts: the WordNet parser, the split and its cache, the
// ComplEx gradients (against finite differences), the AdaGrad deltas and the filtered ranking.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "complex_model.hpp"
#include "dataset.hpp"
#include "evaluation.hpp"
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

// The summed loss of a batch, for finite differences.
double batch_loss_of(const kge::batch_view& batch, const kge::loss_settings& loss) {
  std::vector<float> ignored(batch.slots * batch.shape.embedding(), 0.0f);
  const auto l = kge::complex_gradients(batch, loss, ignored.data());
  return l.data + l.regularizer;
}

TEST(ComplEx, ScoreIsTheRealPartOfTheTrilinearProduct) {
  // dim 1: h = 1 + 2i, r = 3 - i, t = -2 + 0.5i: Re(h * r * conj(t)) = Re((5 + 5i)(-2 - 0.5i)) = -7.5
  const float h[] = {1, 2}, r[] = {3, -1}, t[] = {-2, 0.5f};
  EXPECT_FLOAT_EQ(kge::complex_score(h, r, t, 1), -7.5f);
}

TEST(ComplEx, GradientsMatchFiniteDifferences) {
  const kge::row_shape shape{.dim = 3};
  constexpr std::size_t slots = 7;
  std::vector<float> rows(slots * shape.row());
  kge::split_mix rng{11};
  for (auto& v : rows) v = rng.unit() - 0.5f;
  // Slot 0 is a head and also a negative; slot 2 is a negative and the tail of another triple.
  const std::vector<std::uint32_t> heads = {0, 1, 3}, relations = {5, 6, 5}, tails = {2, 3, 0},
                                   negatives = {0, 2, 4};
  kge::batch_view batch{.shape = shape, .rows = rows.data(), .slots = slots, .heads = heads.data(),
                        .relations = relations.data(), .tails = tails.data(), .n = heads.size(),
                        .negatives = negatives.data(), .k = negatives.size()};
  const kge::loss_settings loss{.l2 = 0.01f};
  std::vector<float> grads(slots * shape.embedding(), 0.0f);
  (void)kge::complex_gradients(batch, loss, grads.data());

  const float step = 1e-2f;
  for (std::size_t s = 0; s < slots; ++s)
    for (std::size_t j = 0; j < shape.embedding(); ++j) {
      float& x = rows[s * shape.row() + j];
      const float saved = x;
      x = saved + step;
      const double up = batch_loss_of(batch, loss);
      x = saved - step;
      const double down = batch_loss_of(batch, loss);
      x = saved;
      EXPECT_NEAR(grads[s * shape.embedding() + j], (up - down) / (2 * step), 2e-3) << "slot " << s << " coord " << j;
    }
}

TEST(Evaluation, RanksFilteredWithHalfTies) {
  // dim 1, real embeddings x = 1, 2, 3, 4 and relation 1: score(h, r, t) = x_h * x_t.
  const std::vector<float> entities = {1, 0, 2, 0, 3, 0, 4, 0};
  const std::vector<float> relations = {1, 0};
  const std::vector<kge::triple> train = {{0, 0, 3}}, test = {{0, 0, 1}};
  const std::vector<kge::triple>* splits[] = {&train, &test};
  const kge::filter_index filter(1, splits);
  const kge::embedding_view model{.entities = entities.data(), .num_entities = 4, .relations = relations.data(), .dim = 1};
  const auto sums = kge::evaluate(model, test, filter);
  // Tail (0, r, ?): scores 1 2 3 4, truth 2; entity 3 is filtered: rank 2. Head (?, r, 1): 2 4 6 8, rank 4.
  EXPECT_DOUBLE_EQ(sums.queries, 2);
  EXPECT_DOUBLE_EQ(sums.reciprocal_rank, 1.0 / 2 + 1.0 / 4);
  EXPECT_DOUBLE_EQ(sums.hits1, 0);
  EXPECT_DOUBLE_EQ(sums.hits3, 1);
  EXPECT_DOUBLE_EQ(sums.hits10, 2);

  // A constant model earns nothing: every entity ties with the truth.
  const std::vector<float> zeros(8, 0.0f);
  const kge::embedding_view constant{.entities = zeros.data(), .num_entities = 4, .relations = relations.data(), .dim = 1};
  const auto tied = kge::evaluate(constant, test, filter);
  EXPECT_DOUBLE_EQ(tied.reciprocal_rank, 1.0 / 2.0 + 1.0 / 2.5);  // tail: 1 + 2/2 (one filtered); head: 1 + 3/2
}

}  // namespace
