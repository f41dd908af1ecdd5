// kge: knowledge-graph embeddings (ComplEx with AdaGrad) on WordNet 3.0, trained on gapm.
//
// The data: Debian's wordnet-base database. Every synset is an entity (117,659), every
// semantic pointer (between synsets, not between words) a triple whose relation is the
// pointer symbol (hypernym, part meronym, similar to, ...: 285,348 triples of 22 relations).
// A fixed-seed split holds out 5,000 validation and 5,000 test triples, as in WN18, and is
// cached as plain text (--cache, default ~/.cache/gapm/wordnet-kg).
//
// The training: every node (process) runs --gapm.workers threads; each trains ComplEx on its
// own shard of the training triples in mini-batches (one batch = one clock). While it computes
// batch b it tells gapm which entities batch b + lookahead will touch (intent), and prepares
// that batch's negative entities through gapm's sampling API, so that gapm relocates or
// replicates those rows to this node just in time. Relations are hot: intent for the whole run.
// Rows are [embedding | AdaGrad accumulator]; a batch pulls its rows, computes the gradients
// of the logistic loss, and pushes the AdaGrad step as an additive delta.
//
// Run (2 local nodes x 2 workers, about 5 minutes on 2 cores):
//   gapm-run -n 2 -- kge [--epochs=12 --dim=64 ...] [--gapm.techniques=none ...]
// See `kge --help` for the options. Rank 0 prints the data set, one line per epoch (mean loss
// over the cluster, time, triples/s, share of pulls served locally), then the filtered MRR and
// Hits@1/3/10 on the validation and test split; every node prints its gapm counters at exit.
// With --expect-loss-drop / --expect-mrr it exits 1 unless training got that far (the test).
#include <gapm/gapm.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dataset.hpp"
#include "evaluation.hpp"
#include "key_layout.hpp"
#include "random.hpp"
#include "settings.hpp"
#include "trainer.hpp"

namespace {

using wall_clock = std::chrono::steady_clock;
constexpr std::size_t row_chunk = 4096;  // keys per pull or push when initialising or gathering

double seconds_since(wall_clock::time_point start) {
  return std::chrono::duration<double>(wall_clock::now() - start).count();
}

// What rank 0's first worker learns, for main's --expect-* checks.
struct run_report {
  std::vector<double> epoch_losses;
  double test_mrr = 0;
};

// The state one node shares among its workers.
struct node_context {
  gapm::Node<float>& node;
  const kge::settings& settings;
  const kge::key_layout& keys;
  std::span<const kge::triple> train;
  std::span<const kge::triple> test;
  std::span<const kge::triple> valid;
  const kge::filter_index& filter;
  std::vector<float> entity_embeddings;    // filled for the evaluation
  std::vector<float> relation_embeddings;
  run_report report;
};

// Every key gets its initial row once in the cluster: from its home node, by one of its workers.
void initialise(gapm::Worker<float>& worker, const node_context& ctx) {
  const auto& keys = ctx.keys;
  const auto nodes = static_cast<std::uint64_t>(ctx.node.world_size());
  const auto workers = static_cast<std::uint64_t>(ctx.node.options().workers);
  std::vector<gapm::key_type> batch;
  std::vector<float> rows;
  auto flush = [&] {
    worker.wait(worker.push(batch.data(), batch.size(), rows.data()));  // onto zero rows: value = init
    batch.clear();
    rows.clear();
  };
  for (gapm::key_type k = static_cast<std::uint64_t>(ctx.node.rank()); k < keys.model_keys(); k += nodes) {
    if ((k / nodes) % workers != static_cast<std::uint64_t>(worker.id())) continue;
    kge::split_mix rng{kge::mix(ctx.settings.seed, k, 0x1417)};
    batch.push_back(k);
    for (std::size_t j = 0; j < keys.shape.embedding(); ++j) rows.push_back(ctx.settings.init * (2 * rng.unit() - 1));
    rows.resize(rows.size() + keys.shape.embedding(), 0.0f);  // accumulator starts at 0
    if (batch.size() == row_chunk) flush();
  }
  if (!batch.empty()) flush();
}

// Adds `values` into counter row `key` (pushes are additive: all workers' sums add up).
void add_to_counter(gapm::Worker<float>& worker, gapm::key_type key, std::initializer_list<double> values) {
  std::vector<float> row(kge::key_layout::counter_length, 0.0f);
  std::transform(values.begin(), values.end(), row.begin(), [](double v) { return static_cast<float>(v); });
  worker.push(&key, 1, row.data());
}

std::vector<float> read_counter(gapm::Worker<float>& worker, gapm::key_type key) {
  std::vector<float> row(kge::key_layout::counter_length);
  worker.wait(worker.pull(&key, 1, row.data()));
  return row;
}

// This node's workers copy the trained embeddings (without accumulators) into the node's buffers.
void gather_embeddings(gapm::Worker<float>& worker, node_context& ctx) {
  const auto& keys = ctx.keys;
  const std::size_t emb = keys.shape.embedding();
  const auto workers = static_cast<std::uint64_t>(ctx.node.options().workers);
  const auto id = static_cast<std::uint64_t>(worker.id());
  std::vector<gapm::key_type> batch;
  std::vector<float> rows(row_chunk * keys.shape.row());
  auto copy = [&](std::uint64_t first, std::uint64_t count, float* out) {
    for (std::uint64_t begin = 0; begin < count; begin += row_chunk) {
      const std::uint64_t n = std::min<std::uint64_t>(row_chunk, count - begin);
      batch.resize(n);
      for (std::uint64_t i = 0; i < n; ++i) batch[i] = first + begin + i;
      worker.wait(worker.pull(batch.data(), n, rows.data()));
      for (std::uint64_t i = 0; i < n; ++i)
        std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>(i * keys.shape.row()), emb,
                    out + (begin + i) * emb);
    }
  };
  const std::uint64_t per_worker = (keys.entities + workers - 1) / workers;
  const std::uint64_t first = std::min(keys.entities, id * per_worker);
  const std::uint64_t last = std::min(keys.entities, first + per_worker);
  copy(keys.entity(static_cast<std::uint32_t>(first)), last - first, ctx.entity_embeddings.data() + first * emb);
  if (id == 0) copy(keys.relation(0), keys.relations, ctx.relation_embeddings.data());
}

// Evaluates worker `index` of `count`'s share of `triples`; the sums meet in counter `split`.
void evaluate_split(gapm::Worker<float>& worker, node_context& ctx, std::span<const kge::triple> triples,
                    std::uint64_t split, const char* name, int index, int count) {
  std::vector<kge::triple> share;
  for (std::size_t i = static_cast<std::size_t>(index); i < triples.size(); i += static_cast<std::size_t>(count))
    share.push_back(triples[i]);
  const kge::embedding_view model{.entities = ctx.entity_embeddings.data(),
                                  .num_entities = ctx.keys.entities,
                                  .relations = ctx.relation_embeddings.data(),
                                  .dim = ctx.keys.shape.dim};
  const auto sums = kge::evaluate(model, share, ctx.filter);
  add_to_counter(worker, ctx.keys.eval_counter(split),
                 {sums.reciprocal_rank, sums.hits1, sums.hits3, sums.hits10, sums.queries});
  worker.wait_all();
  worker.barrier();
  if (ctx.node.rank() == 0 && worker.id() == 0) {
    const auto c = read_counter(worker, ctx.keys.eval_counter(split));
    const double queries = c[4];
    std::printf("%s MRR %.3f Hits@1 %.3f Hits@3 %.3f Hits@10 %.3f  (filtered, %zu triples, head and tail)\n", name,
                c[0] / queries, c[1] / queries, c[2] / queries, c[3] / queries, triples.size());
    std::fflush(stdout);
    if (split == kge::key_layout::test_counter) ctx.report.test_mrr = c[0] / queries;
  }
}

void train_and_evaluate(node_context& ctx, int id) {
  gapm::Worker<float> worker(ctx.node, id);
  const int workers = ctx.node.options().workers;
  const int index = ctx.node.rank() * workers + id;  // this worker's place in the cluster
  const int count = ctx.node.world_size() * workers;
  const bool printer = ctx.node.rank() == 0 && id == 0;

  initialise(worker, ctx);
  worker.barrier();
  kge::trainer trainer(worker, ctx.train, ctx.keys, ctx.settings, index, count);
  gapm::Stats last = ctx.node.stats();
  auto epoch_start = wall_clock::now();
  for (int epoch = 0; epoch < ctx.settings.epochs; ++epoch) {
    const auto sums = trainer.run_epoch();
    double local = 0, remote = 0;
    if (id == 0) {  // the node's pulls since the last epoch
      const gapm::Stats now = ctx.node.stats();
      local = static_cast<double>(now.pulls_local - last.pulls_local);
      remote = static_cast<double>(now.pulls_remote - last.pulls_remote);
      last = now;
    }
    add_to_counter(worker, ctx.keys.epoch_counter(epoch), {sums.loss, sums.positives, local, remote});
    worker.wait_all();
    worker.wait_sync();
    worker.barrier();
    if (printer) {
      const double seconds = seconds_since(epoch_start);
      epoch_start = wall_clock::now();
      const auto c = read_counter(worker, ctx.keys.epoch_counter(epoch));
      const double loss = c[0] / c[1];
      ctx.report.epoch_losses.push_back(loss);
      std::printf("epoch %d/%d  loss %.4f  time %.1f s  %.0f triples/s  local pulls %.1f%%\n", epoch + 1,
                  ctx.settings.epochs, loss, seconds, c[1] / seconds, 100.0 * c[2] / std::max(1.0f, c[2] + c[3]));
      std::fflush(stdout);
    }
  }

  // Quiescence: every delta has reached every copy, then each node gathers the embeddings.
  worker.wait_sync();
  worker.barrier();
  const auto eval_start = wall_clock::now();
  gather_embeddings(worker, ctx);
  worker.barrier();
  evaluate_split(worker, ctx, ctx.valid, kge::key_layout::valid_counter, "valid", index, count);
  evaluate_split(worker, ctx, ctx.test, kge::key_layout::test_counter, "test", index, count);
  if (printer) std::printf("evaluation took %.1f s\n", seconds_since(eval_start));
  worker.finalize();
}

// A failed worker cannot leave its peers waiting at a barrier: report and end the process
// (gapm-run then stops the other nodes).
void run_worker(node_context& ctx, int id) {
  try {
    train_and_evaluate(ctx, id);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kge: worker %d: %s\n", id, e.what());
    std::fflush(nullptr);
    std::_Exit(2);
  }
}

// Test triples whose head and tail the (possibly reduced) training set contains, at most `max`.
std::vector<kge::triple> rankable(const std::vector<kge::triple>& triples, std::span<const kge::triple> train,
                                  std::size_t num_entities, std::size_t max) {
  std::vector<bool> seen(num_entities, false);
  for (const auto& t : train) seen[t.head] = seen[t.tail] = true;
  std::vector<kge::triple> kept;
  for (const auto& t : triples) {
    if (max != 0 && kept.size() == max) break;
    if (seen[t.head] && seen[t.tail]) kept.push_back(t);
  }
  return kept;
}

void print_data(const kge::dataset& data, const std::filesystem::path& cache, std::size_t train, std::size_t valid,
                std::size_t test, double seconds) {
  std::printf("WordNet 3.0: %zu synsets (entities), %llu semantic pointers (triples) of %zu types (relations); "
              "%llu lexical pointers skipped\n",
              data.entities.size(), static_cast<unsigned long long>(data.num_triples()), data.relations.size(),
              static_cast<unsigned long long>(data.lexical_pointers));
  for (const auto& r : data.relations)
    std::printf("  %-3s %-24s %6llu\n", r.symbol.c_str(), r.name.c_str(), static_cast<unsigned long long>(r.count));
  std::printf("split: %zu train, %zu valid, %zu test (%zu valid and %zu test triples dropped: entity not in train); "
              "%s %s in %.1f s\n",
              data.train.size(), data.valid.size(), data.test.size(), data.dropped_valid, data.dropped_test,
              data.from_cache ? "read from" : "written to", cache.c_str(), seconds);
  if (train != data.train.size() || valid != data.valid.size() || test != data.test.size())
    std::printf("using %zu train triples; evaluating %zu valid and %zu test triples (--max-train, --eval-max)\n",
                train, valid, test);
}

}  // namespace

int main(int argc, char** argv) try {
  const kge::settings s = kge::parse_settings(argc, argv);
  const auto cache = s.cache.empty() ? kge::default_cache_dir() : s.cache;
  const auto data_start = wall_clock::now();
  const kge::dataset data = kge::load_dataset(cache, s.wordnet);
  const double data_seconds = seconds_since(data_start);

  const std::span<const kge::triple> train(data.train.data(),
                                           s.max_train == 0 ? data.train.size() : std::min(s.max_train, data.train.size()));
  const auto valid = rankable(data.valid, train, data.entities.size(), s.eval_max);
  const auto test = rankable(data.test, train, data.entities.size(), s.eval_max);
  const std::vector<kge::triple>* splits[] = {&data.train, &data.valid, &data.test};
  const kge::filter_index filter(data.relations.size(), splits);

  const kge::key_layout keys{.entities = data.entities.size(),
                             .relations = data.relations.size(),
                             .epochs = static_cast<std::uint64_t>(s.epochs),
                             .shape = {.dim = s.dim}};
  gapm::Options base;
  base.tables = keys.tables();
  base.workers = 2;
  const gapm::Options options = gapm::Options::parse(argc, argv, gapm::Options::from_env(base));
  gapm::Node<float> node(options);
  if (node.rank() == 0) {
    print_data(data, cache, train.size(), valid.size(), test.size(), data_seconds);
    std::printf("ComplEx dim %zu, AdaGrad lr %g, l2 %g, batch %zu, %zu negatives, intent %ld batches ahead; "
                "%d nodes x %d workers, techniques=%s, sampling=%s, store '%s'\n",
                s.dim, static_cast<double>(s.lr), static_cast<double>(s.l2), s.batch, s.negatives, s.lookahead,
                node.world_size(), options.workers, options.get("techniques").c_str(),
                options.get("sampling.scheme").c_str(), node.store_name().c_str());
    std::fflush(stdout);
  }

  // Negatives: uniform over the entities (the local scheme then keeps the local ones).
  const std::uint64_t entities = keys.entities;
  const std::uint64_t seed = kge::mix(s.seed, static_cast<std::uint64_t>(node.rank()), 0x5a);
  node.set_sampler([entities, seed] {
    static std::atomic<std::uint64_t> streams{0};
    thread_local kge::split_mix rng{kge::mix(seed, streams++)};
    return rng.below(entities);
  });

  node_context ctx{.node = node,
                   .settings = s,
                   .keys = keys,
                   .train = train,
                   .test = test,
                   .valid = valid,
                   .filter = filter,
                   .entity_embeddings = std::vector<float>(keys.entities * keys.shape.embedding()),
                   .relation_embeddings = std::vector<float>(keys.relations * keys.shape.embedding()),
                   .report = {}};
  std::vector<std::thread> threads;
  for (int w = 0; w < options.workers; ++w) threads.emplace_back(run_worker, std::ref(ctx), w);
  for (auto& t : threads) t.join();
  node.shutdown();

  if (node.rank() != 0) return 0;
  int status = 0;
  const auto& losses = ctx.report.epoch_losses;
  if (s.expect_loss_drop > 0 && !(losses.back() < losses.front() / s.expect_loss_drop)) {
    std::printf("FAILED: last epoch's loss %.4f is not below the first's %.4f / %g\n", losses.back(), losses.front(),
                s.expect_loss_drop);
    status = 1;
  }
  if (s.expect_mrr > 0 && !(ctx.report.test_mrr > s.expect_mrr)) {
    std::printf("FAILED: test MRR %.4f is not above %g\n", ctx.report.test_mrr, s.expect_mrr);
    status = 1;
  }
  return status;
} catch (const std::exception& e) {
  std::cerr << "kge: " << e.what() << "\n";
  return 2;
}
