// One MF worker thread on gapm (AdaPM's RunWorker, step by step).
#include "mf_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "mf_model.hpp"

namespace mf {
namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

// The values summed across workers at each evaluation, in this order in the sum keys.
enum sum_slot : std::size_t {
  train_error,
  train_regularisation,
  test_error,
  bytes_training,
  local_training,
  remote_training,
  cpu_process_training,
  cpu_sync_training,
  cpu_receive_training,
  cpu_transport_training,
  bytes_since_setup,
  local_since_setup,
  remote_since_setup,
  relocations_since_setup,
  replicas_since_setup,
  sum_count
};

double difference(std::uint64_t now, std::uint64_t before) { return static_cast<double>(now - before); }
double difference(double now, double before) { return now - before; }

class mf_worker {
 public:
  mf_worker(run_context& context, int thread)
      : context_{context},
        options_{context.options},
        layout_{context.layout},
        worker_{context.node, thread},
        thread_{thread},
        id_{static_cast<std::uint64_t>(context.node.rank()) * static_cast<std::uint64_t>(context.node.options().workers) +
            static_cast<std::uint64_t>(thread)},
        rank_{options_.rank},
        row_length_{2 * options_.rank},
        train_{split_for_worker(context.train, layout_, id_)},
        test_{split_for_worker(context.test, layout_, id_)},
        schedule_{layout_.workers},
        update_{options_.update},
        shuffle_engine_{options_.seed ^ (0x9e3779b97f4a7c15ULL * (id_ + 1))},
        rows_(4 * std::size_t{rank_}),
        deltas_(4 * std::size_t{rank_}) {
    for (std::uint64_t z = 0; z < layout_.rows_per_block; ++z) w_keys_.push_back(layout_.row_key(train_.first_row + z));
    const std::uint64_t sum_keys = (sum_count + row_length_ - 1) / row_length_;
    for (std::uint64_t k = 0; k < sum_keys; ++k) sum_keys_.push_back(layout_.sum_key(k));
  }

  void run() {
    setup();
    double previous_loss = evaluate(0, 0.0).train_loss;
    for (int epoch = 1; epoch <= options_.epochs; ++epoch) {
      worker_.barrier();  // all workers start the epoch together: a clean time measurement
      if (thread_ == 0) epoch_start_ = context_.node.stats();
      const auto start = steady::now();
      if (options_.training == algorithm::dsgd) train_dsgd_epoch(static_cast<std::uint32_t>(epoch));
      else train_plain_epoch();
      const double train_seconds = seconds_since(start);  // every epoch ends with a barrier
      if (thread_ == 0) epoch_end_ = context_.node.stats();
      const epoch_record record = evaluate(epoch, train_seconds);
      if (options_.bold_driver) update_.learning_rate = bold_driver(update_.learning_rate, record.train_loss, previous_loss);
      previous_loss = record.train_loss;
    }
    worker_.finalize();
  }

 private:
  // AdaPM's BeginSetup / EndSetup around the initial pushes; then the rows' long-term intent.
  void setup() {
    worker_.wait_sync();
    worker_.barrier();
    if (id_ == 0) push_initial_rows(layout_.cols, options_.seed + 133273u, [&](std::uint64_t j) { return layout_.col_key(j); });
    if (id_ == layout_.workers - 1) push_initial_rows(layout_.rows, options_.seed, [&](std::uint64_t i) { return layout_.row_key(i); });
    worker_.wait_all();
    worker_.wait_sync();
    worker_.wait_sync();
    worker_.barrier();
    if (thread_ == 0) after_setup_ = context_.node.stats();
    if (options_.intent) {
      worker_.intent(w_keys_.data(), w_keys_.size(), 0, gapm::CLOCK_MAX);
      worker_.wait_sync();
    }
  }

  // Initial factors are pushed (added) onto the zero rows, in batches of 10,000 rows.
  template <class KeyOf>
  void push_initial_rows(std::uint64_t count, std::uint32_t seed, KeyOf key_of) {
    const std::vector<double> rows = initial_rows(count, rank_, seed);
    constexpr std::uint64_t batch = 10000;
    std::vector<gapm::key_type> keys;
    for (std::uint64_t first = 0; first < count; first += batch) {
      const std::uint64_t n = std::min(batch, count - first);
      keys.resize(n);
      for (std::uint64_t k = 0; k < n; ++k) keys[k] = key_of(first + k);
      worker_.push(keys.data(), n, rows.data() + first * row_length_);
    }
  }

  // DSGD: W sub-epochs; in each, this worker trains on one column block, which no other
  // worker touches, then all meet at a barrier.
  void train_dsgd_epoch(std::uint32_t epoch) {
    schedule_.repermute(epoch);  // the same on every worker: seeded by the epoch
    block_schedule next_epoch = schedule_;
    if (options_.intent_next_block) next_epoch.repermute(epoch + 1);
    for (std::uint64_t s = 0; s < layout_.workers; ++s) {
      const std::uint64_t block = schedule_.block(s, id_);
      if (options_.intent) {
        signal_block(block, worker_.clock());
        if (options_.intent_next_block) {
          const bool last = s + 1 == layout_.workers;
          signal_block(last ? next_epoch.block(0, id_) : schedule_.block(s + 1, id_), worker_.clock() + 1);
        }
      }
      auto points = train_.block(block);
      std::shuffle(points.begin(), points.end(), shuffle_engine_);
      for (const matrix_entry& e : points) train_point(e);
      worker_.advance_clock();
      worker_.barrier();
    }
  }

  // Intent for the columns of `block` during one clock.
  void signal_block(std::uint64_t block, gapm::clock_type clock) {
    block_keys_.resize(layout_.cols_per_block);
    for (std::uint64_t z = 0; z < layout_.cols_per_block; ++z)
      block_keys_[z] = layout_.col_key(block * layout_.cols_per_block + z);
    worker_.intent(block_keys_.data(), block_keys_.size(), clock);
  }

  // Plain SGD: all local points in a fresh random order, one clock per point, and intent for
  // the column of the point `lookahead` points ahead.
  void train_plain_epoch() {
    auto& points = train_.points;
    std::shuffle(points.begin(), points.end(), shuffle_engine_);
    std::size_t announced = 0;  // points whose column intent is signalled
    for (std::size_t z = 0; z < points.size(); ++z) {
      if (options_.intent) {
        for (; announced < z + options_.lookahead && announced < points.size(); ++announced) {
          const gapm::key_type key = layout_.col_key(points[announced].col);
          worker_.intent(&key, 1, worker_.clock() + static_cast<gapm::clock_type>(announced - z));
        }
      }
      train_point(points[z]);
      worker_.advance_clock();
    }
    worker_.barrier();
  }

  // Pull {row, column} and wait, compute the AdaGrad step, push the deltas (not waited).
  void train_point(const matrix_entry& e) {
    keys_[0] = layout_.row_key(e.row);
    keys_[1] = layout_.col_key(e.col);
    worker_.wait(worker_.pull(keys_, 2, rows_.data()));
    adagrad_deltas(rows_.data(), deltas_.data(), rank_, e.value, train_.nnz_of_row(e.row), context_.col_nnz[e.col], update_);
    worker_.push(keys_, 2, deltas_.data());
  }

  // AdaPM's loss evaluation: every worker pulls its rows, each process all of H; the sums
  // travel through the sum keys (the loss key first).
  epoch_record evaluate(int epoch, double train_seconds) {
    const auto start = steady::now();
    std::vector<double> sums(sum_keys_.size() * row_length_, 0.0);
    if (id_ == 0) worker_.wait(worker_.set(sum_keys_.data(), sum_keys_.size(), sums.data()));
    worker_.barrier();

    std::vector<double> w_rows(w_keys_.size() * row_length_);
    worker_.wait(worker_.pull(w_keys_.data(), w_keys_.size(), w_rows.data()));
    if (thread_ == 0) {
      std::vector<gapm::key_type> h_keys(layout_.cols);
      for (std::uint64_t j = 0; j < layout_.cols; ++j) h_keys[j] = layout_.col_key(j);
      context_.full_h.resize(layout_.cols * row_length_);
      worker_.wait(worker_.pull(h_keys.data(), h_keys.size(), context_.full_h.data()));
    }
    worker_.barrier();

    const double* h = context_.full_h.data();
    sums[train_error] = squared_error(train_.points, w_rows.data(), train_.first_row, h, rank_);
    sums[test_error] = squared_error(test_.points, w_rows.data(), test_.first_row, h, rank_);
    // Regularisation: this worker's rows (those inside the matrix) and column block `id`.
    const std::uint64_t own_rows = train_.first_row >= layout_.rows ? 0 : std::min(layout_.rows_per_block, layout_.rows - train_.first_row);
    const std::uint64_t first_col = std::min(id_ * layout_.cols_per_block, layout_.cols);
    const std::uint64_t own_cols = std::min(layout_.cols_per_block, layout_.cols - first_col);
    sums[train_regularisation] = options_.update.lambda * (factor_norm2(w_rows.data(), own_rows, rank_) +
                                                           factor_norm2(h + first_col * row_length_, own_cols, rank_));
    if (thread_ == 0) {  // this node's counters, once per node
      const gapm::Stats now = context_.node.stats();
      if (epoch > 0) {
        sums[bytes_training] = difference(epoch_end_.bytes_sent, epoch_start_.bytes_sent);
        sums[local_training] = difference(epoch_end_.pulls_local, epoch_start_.pulls_local);
        sums[remote_training] = difference(epoch_end_.pulls_remote, epoch_start_.pulls_remote);
        sums[cpu_process_training] = difference(epoch_end_.cpu_process_s, epoch_start_.cpu_process_s);
        sums[cpu_sync_training] = difference(epoch_end_.cpu_sync_s, epoch_start_.cpu_sync_s);
        sums[cpu_receive_training] = difference(epoch_end_.cpu_receive_s, epoch_start_.cpu_receive_s);
        sums[cpu_transport_training] = difference(epoch_end_.cpu_transport_s + epoch_end_.cpu_liveness_s,
                                                  epoch_start_.cpu_transport_s + epoch_start_.cpu_liveness_s);
      }
      sums[bytes_since_setup] = difference(now.bytes_sent, after_setup_.bytes_sent);
      sums[local_since_setup] = difference(now.pulls_local, after_setup_.pulls_local);
      sums[remote_since_setup] = difference(now.pulls_remote, after_setup_.pulls_remote);
      sums[relocations_since_setup] = difference(now.relocations, after_setup_.relocations);
      sums[replicas_since_setup] = difference(now.replicas_created, after_setup_.replicas_created);
    }
    worker_.wait(worker_.push(sum_keys_.data(), sum_keys_.size(), sums.data()));
    worker_.barrier();
    worker_.wait(worker_.pull(sum_keys_.data(), sum_keys_.size(), sums.data()));

    epoch_record record;
    record.epoch = epoch;
    record.train_loss = (sums[train_error] + sums[train_regularisation]) / static_cast<double>(context_.train.entries.size());
    record.test_loss = context_.test.entries.empty() ? 0.0 : sums[test_error] / static_cast<double>(context_.test.entries.size());
    record.learning_rate = update_.learning_rate;
    record.train_seconds = train_seconds;
    record.eval_seconds = seconds_since(start);
    record.points = epoch > 0 ? static_cast<double>(context_.train.entries.size()) : 0.0;
    record.training = {sums[bytes_training], sums[local_training], sums[remote_training]};
    record.training_cpu = {sums[cpu_process_training], sums[cpu_sync_training], sums[cpu_receive_training],
                           sums[cpu_transport_training]};
    record.since_setup = {sums[bytes_since_setup], sums[local_since_setup], sums[remote_since_setup]};
    record.relocations = sums[relocations_since_setup];
    record.replicas_created = sums[replicas_since_setup];
    if (thread_ == 0) context_.records.push_back(record);
    if (id_ == 0) print(record, context_.node.world_size());
    return record;
  }

  static void print(const epoch_record& r, int nodes) {
    if (r.epoch == 0) {
      std::printf("epoch 0 (initial model): train loss %.5f, test loss %.5f (eval %.2f s)\n", r.train_loss, r.test_loss,
                  r.eval_seconds);
    } else {
      // CPU in cores per node over the training phase: the process, then gapm's own threads.
      const double per_core = static_cast<double>(nodes) * r.train_seconds;
      std::printf("epoch %d: train loss %.5f, test loss %.5f | %.3f s, %.3f M points/s | sent %.2f MB, "
                  "local pulls %.2f %% | cores per node %.2f (sync %.2f, receive %.2f, transport %.2f) | lr %.6g "
                  "| eval %.2f s\n",
                  r.epoch, r.train_loss, r.test_loss, r.train_seconds, r.points / r.train_seconds / 1e6,
                  r.training.bytes_sent / 1e6, r.training.local_percent(), r.training_cpu.process / per_core,
                  r.training_cpu.sync / per_core, r.training_cpu.receive / per_core,
                  r.training_cpu.transport / per_core, r.learning_rate, r.eval_seconds);
    }
    std::fflush(stdout);
  }

  run_context& context_;
  const app_options& options_;
  const key_layout& layout_;
  gapm::Worker<double> worker_;
  int thread_;
  std::uint64_t id_;  // global worker id: rank * threads + thread
  std::uint32_t rank_;
  std::uint32_t row_length_;
  worker_data train_;
  worker_data test_;
  block_schedule schedule_;
  update_config update_;  // its learning rate follows the bold driver
  std::mt19937_64 shuffle_engine_;
  std::vector<gapm::key_type> w_keys_;    // this worker's row block
  std::vector<gapm::key_type> sum_keys_;  // the loss key and the ones below it
  std::vector<gapm::key_type> block_keys_;
  gapm::key_type keys_[2] = {0, 0};
  std::vector<double> rows_;    // (4 rank): [w | acc_w | h | acc_h] of the current point
  std::vector<double> deltas_;  // (4 rank)
  gapm::Stats after_setup_{};   // thread 0: this node's counters at the end of the setup
  gapm::Stats epoch_start_{};
  gapm::Stats epoch_end_{};
};

}  // namespace

void run_worker(run_context& context, int thread) {
  mf_worker worker(context, thread);
  worker.run();
}

}  // namespace mf
