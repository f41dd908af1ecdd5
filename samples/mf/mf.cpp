// mf: matrix factorisation on gapm, AdaPM's MF application re-built on gapm's public API.
//
// It factorises a sparse matrix X (R x C) into W (R x rank) and H (C x rank) by SGD with
// AdaGrad and L2 regularisation, minimising the squared error on the revealed cells. The
// parameters live in gapm: row i is key i, column j is key first_col_key + j, each key's row
// is [factor | AdaGrad accumulator]. Training code only *signals intent*: every worker will
// use its own rows for good ([0, CLOCK_MAX)) and, in DSGD, the current column block for the
// current clock; gapm relocates or replicates the keys so that the accesses are local.
//
//   --algorithm=dsgd   DSGD: W sub-epochs per epoch; worker w trains on column block
//                      (s + w) mod W of its rows (block order re-permuted per epoch), then a
//                      clock advance and a barrier. Conflict-free: columns move, never shared.
//   --algorithm=plain  plain SGD: all local points in random order, one clock per point,
//                      intent for the column of the point `--lookahead` points ahead.
//
// Run (data in DIR/train.mmc and DIR/test.mmc, MatrixMarket coordinate, 1-based):
//   gapm-run -n 2 -- mf --data DIR --algorithm=dsgd --epochs 3 --gapm.techniques=all
//   gapm-run -n 2 -- mf --data DIR --generate 100000 10000 2000000 --zipf 0.8   (rank 0 writes the data first)
//   mf-generate 100000 10000 2000000 --zipf 0.8 --out DIR                       (the same, stand-alone)
// --gapm.workers=N runs N worker threads per process; --gapm.techniques=all|relocation_only|
// replication_only|none picks the management (none = a classic parameter server). See --help.
//
// Output (rank 0): the loss of the initial model, then per epoch the train loss (squared
// error + L2, over the training points), the test loss (squared error), the training time
// and data points per second (training phase only), the bytes sent by all nodes and the
// share of local pulls during the training phase; at the end one line
//   RESULT mode=dsgd techniques=all ... points_per_s=... train_loss=... test_loss=... bytes_sent=... local_pct=...
//          ... cores=... sync_cores=... receive_cores=... transport_cores=...
// (CPU per node over the training phases, in cores: the process, and gapm's own threads in it).
// With --expect-loss-drop=F the program exits 1 unless the final train loss is below the
// initial one divided by F (the smoke tests' check that it learns).
#include <gapm/gapm.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "matrix_market.hpp"
#include "mf_layout.hpp"
#include "mf_options.hpp"
#include "mf_trainer.hpp"
#include "zipf_generator.hpp"

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

// The cluster-wide RESULT line: points/s, bytes and locality over the training phases only;
// the *_total fields count everything after the setup, loss evaluations included.
void print_result(const mf::app_options& options, const gapm::Options& gapm_options, int world,
                  const std::vector<mf::epoch_record>& records) {
  double points = 0;
  double seconds = 0;
  mf::traffic training;
  mf::cpu_time cpu;
  for (const auto& r : records) {
    if (r.epoch == 0) continue;
    points += r.points;
    seconds += r.train_seconds;
    training.bytes_sent += r.training.bytes_sent;
    training.pulls_local += r.training.pulls_local;
    training.pulls_remote += r.training.pulls_remote;
    cpu.process += r.training_cpu.process;
    cpu.sync += r.training_cpu.sync;
    cpu.receive += r.training_cpu.receive;
    cpu.transport += r.training_cpu.transport;
  }
  const double per_core = seconds > 0 ? static_cast<double>(world) * seconds : 1.0;  // cores per node
  const mf::epoch_record& last = records.back();
  std::printf("RESULT mode=%s techniques=%s intent=%s nodes=%d workers=%d epochs=%d points_per_s=%.0f "
              "train_loss=%.5f test_loss=%.5f bytes_sent=%.0f local_pct=%.2f bytes_sent_total=%.0f "
              "local_pct_total=%.2f relocations=%.0f replicas=%.0f cores=%.3f sync_cores=%.3f receive_cores=%.3f "
              "transport_cores=%.3f\n",
              mf::algorithm_name(options.training), gapm_options.get("techniques").c_str(),
              options.intent ? "true" : "false", world, world * gapm_options.workers, options.epochs,
              seconds > 0 ? points / seconds : 0.0, last.train_loss, last.test_loss, training.bytes_sent,
              training.local_percent(), last.since_setup.bytes_sent, last.since_setup.local_percent(),
              last.relocations, last.replicas_created, cpu.process / per_core, cpu.sync / per_core,
              cpu.receive / per_core, cpu.transport / per_core);
  std::fflush(stdout);
}

mf::sparse_matrix read_timed(const std::string& path, bool talk) {
  const auto start = steady::now();
  mf::sparse_matrix m = mf::read_matrix_market(path);
  if (talk)
    std::printf("read %s: %llu x %llu, %zu points in %.2f s\n", path.c_str(), static_cast<unsigned long long>(m.rows),
                static_cast<unsigned long long>(m.cols), m.entries.size(), seconds_since(start));
  return m;
}

// Rank 0 writes the synthetic matrix; everybody waits until the files are complete.
void generate_on_rank_zero(gapm::Node<double>& node, const mf::app_options& options, const std::string& train_path,
                           const std::string& test_path) {
  if (node.rank() == 0) {
    const auto start = steady::now();
    std::filesystem::create_directories(options.data_dir);
    const mf::generated_data data = mf::generate_zipf_matrix(options.generator);
    mf::write_matrix_market(train_path, data.train);
    mf::write_matrix_market(test_path, data.test);
    std::printf("generated %s and %s (Zipf %.2f) in %.2f s\n", train_path.c_str(), test_path.c_str(),
                options.generator.zipf, seconds_since(start));
  }
  node.barrier();
}

// One thread per worker. A worker that fails leaves the others waiting in barriers that will
// not complete: it reports and ends the process; the peers notice the missing node and fail too.
void run_workers(mf::run_context& context, int threads) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&context, t] {
      try {
        mf::run_worker(context, t);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "mf: worker %d failed: %s\n", t, e.what());
        std::fflush(stderr);
        std::_Exit(3);
      }
    });
  for (auto& w : workers) w.join();
}

// --expect-loss-drop=F: the final train loss must be below the initial one / F.
template <class Records>
bool check_learning(const mf::app_options& options, const Records& records, bool talk) {
  if (options.expect_loss_drop <= 0 || records.size() < 2) return true;
  const double initial = records.front().train_loss;
  const double final_loss = records.back().train_loss;
  const bool learned = final_loss < initial / options.expect_loss_drop;
  if (talk)
    std::printf("%s: train loss %.5f -> %.5f, expected below %.5f (initial / %g)\n", learned ? "LEARNED" : "NOT LEARNED",
                initial, final_loss, initial / options.expect_loss_drop, options.expect_loss_drop);
  return learned;
}

}  // namespace

int main(int argc, char** argv) {
  mf::app_options options;
  try {
    bool help = false;
    options = mf::parse_app_options(argc, argv, help);
    if (help) {
      std::cout << mf::usage();
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "mf: " << e.what() << "\n";
    return 2;
  }
  const std::string train_path = options.data_dir + "/train.mmc";
  const std::string test_path = options.data_dir + "/test.mmc";

  try {
    // The shape fixes the key space, so it is known before the node starts: from the
    // generator's arguments, or from the training file's size line.
    std::uint64_t rows = options.generator.rows;
    std::uint64_t cols = options.generator.cols;
    if (!options.generate) {
      const mf::matrix_shape shape = mf::read_matrix_market_shape(train_path);
      rows = shape.rows;
      cols = shape.cols;
    }
    gapm::Options base;
    base.workers = 1;
    gapm::Options gapm_options = gapm::Options::parse(argc, argv, gapm::Options::from_env(base));
    const int threads = gapm_options.workers;
    // The key count does not depend on the number of workers; the column offset does, and
    // is computed once the node knows the world size.
    gapm_options.tables = {{mf::key_layout::key_count(rows, cols), 2 * options.rank}};
    gapm::Node<double> node(gapm_options);
    const int world = node.world_size();
    const mf::key_layout layout = mf::key_layout::make(rows, cols, static_cast<std::uint64_t>(world * threads));
    const bool talk = node.rank() == 0;
    if (talk)
      std::printf("mf: %s, %d nodes x %d workers, rank %u, %llu keys x %u doubles, techniques=%s, intent=%s\n",
                  mf::algorithm_name(options.training), world, threads, options.rank,
                  static_cast<unsigned long long>(layout.num_keys), 2 * options.rank,
                  gapm_options.get("techniques").c_str(), options.intent ? "true" : "false");

    if (options.generate) generate_on_rank_zero(node, options, train_path, test_path);
    const mf::sparse_matrix train = read_timed(train_path, talk);
    const mf::sparse_matrix test = read_timed(test_path, talk);
    if (train.rows != rows || train.cols != cols || test.rows != rows || test.cols != cols) {
      std::cerr << "mf: train.mmc and test.mmc differ in shape\n";
      return 2;
    }
    const std::vector<std::uint32_t> col_nnz = mf::column_counts(train);

    mf::run_context context{options, layout, train, test, col_nnz, node};
    run_workers(context, threads);

    const bool learned = check_learning(options, context.records, talk);
    if (talk && !context.records.empty()) print_result(options, gapm_options, world, context.records);
    node.shutdown();
    return learned ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "mf: " << e.what() << "\n";
    return 2;
  }
}
