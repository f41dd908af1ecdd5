// The training loop of one MF worker thread on gapm: setup, DSGD or plain SGD epochs, loss
// evaluation and the bold driver, as in AdaPM's MF application.
#pragma once

#include <gapm/gapm.hpp>

#include <cstdint>
#include <vector>

#include "matrix_market.hpp"
#include "mf_layout.hpp"
#include "mf_options.hpp"

namespace mf {

/// Counters summed over all nodes (gapm::Stats deltas).
struct traffic {
  double bytes_sent = 0;
  double pulls_local = 0;
  double pulls_remote = 0;
  [[nodiscard]] double local_percent() const {
    const double all = pulls_local + pulls_remote;
    return all == 0 ? 100.0 : 100.0 * pulls_local / all;
  }
};

/// CPU seconds summed over all nodes (gapm::Stats deltas): each process, and in it gapm's
/// own threads; the rest of a process's time went to its workers (gapm's pull and push paths
/// included).
struct cpu_time {
  double process = 0;
  double sync = 0;
  double receive = 0;
  double transport = 0;  ///< the transport's I/O threads and the heartbeats
};

/// What one epoch did (epoch 0: the model before training). Losses and traffic are summed
/// over all workers; times are global worker 0's.
struct epoch_record {
  int epoch = 0;
  double train_loss = 0;
  double test_loss = 0;
  double learning_rate = 0;      ///< the rate the epoch trained with
  double train_seconds = 0;      ///< the training phase, barrier to barrier
  double eval_seconds = 0;
  double points = 0;             ///< data points trained on, all workers
  traffic training;              ///< during the training phase
  cpu_time training_cpu;         ///< during the training phase
  traffic since_setup;           ///< from the end of the setup to this evaluation, evaluations included
  double relocations = 0;        ///< since the setup, all nodes
  double replicas_created = 0;
};

/// The state one process shares among its worker threads.
struct run_context {
  const app_options& options;
  const key_layout& layout;
  const sparse_matrix& train;
  const sparse_matrix& test;
  const std::vector<std::uint32_t>& col_nnz;  ///< (cols): points per column, whole training file
  gapm::Node<double>& node;
  std::vector<double> full_h{};                 ///< (cols x 2 rank): pulled by thread 0 for evaluations
  std::vector<epoch_record> records{};          ///< written by thread 0 of each node
};

/// Runs worker thread `thread` of this node to the end of training (then finalize()).
/// Prints progress when it is global worker 0. Throws what gapm throws.
void run_worker(run_context& context, int thread);

}  // namespace mf
