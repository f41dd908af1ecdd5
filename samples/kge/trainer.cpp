// One worker's training loop (see trainer.hpp).
#include "trainer.hpp"

#include <algorithm>

#include "random.hpp"

namespace kge {
namespace {

constexpr float adagrad_eps = 1e-10f;

std::uint32_t slot_of(const std::vector<gapm::key_type>& sorted, gapm::key_type key) {
  return static_cast<std::uint32_t>(std::lower_bound(sorted.begin(), sorted.end(), key) - sorted.begin());
}

}  // namespace

trainer::trainer(gapm::Worker<float>& worker, std::span<const triple> train, const key_layout& keys,
                 const settings& s, int index, int count)
    : worker_{worker}, train_{train}, keys_{keys}, settings_{s}, index_{index} {
  for (std::size_t i = static_cast<std::size_t>(index); i < train.size(); i += static_cast<std::size_t>(count))
    shard_.push_back(static_cast<std::uint32_t>(i));
  const auto batch = static_cast<long>(s.batch);
  batches_per_epoch_ = (static_cast<long>(shard_.size()) + batch - 1) / batch;
  total_batches_ = batches_per_epoch_ * s.epochs;

  // Relations are few and every batch uses most of them: intent for the whole run.
  std::vector<gapm::key_type> relations(keys.relations);
  for (std::uint32_t r = 0; r < keys.relations; ++r) relations[r] = keys.relation(r);
  worker_.intent(relations, 0, gapm::CLOCK_MAX);
}

const std::vector<std::uint32_t>& trainer::order(long epoch) {
  auto it = orders_.find(epoch);
  if (it == orders_.end()) {
    auto permutation = shard_;
    shuffle(permutation, mix(settings_.seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(index_)));
    it = orders_.emplace(epoch, std::move(permutation)).first;
    while (orders_.begin()->first < epoch - 1) orders_.erase(orders_.begin());  // keep the current one
  }
  return it->second;
}

void trainer::plan(long batch) {
  planned_batch b;
  b.index = batch;
  const auto& permutation = order(batch / batches_per_epoch_);
  const auto first = static_cast<std::size_t>(batch % batches_per_epoch_) * settings_.batch;
  const auto last = std::min(first + settings_.batch, permutation.size());
  b.triples.assign(permutation.begin() + static_cast<std::ptrdiff_t>(first),
                   permutation.begin() + static_cast<std::ptrdiff_t>(last));
  for (auto i : b.triples) {
    b.entity_keys.push_back(keys_.entity(train_[i].head));
    b.entity_keys.push_back(keys_.entity(train_[i].tail));
  }
  std::sort(b.entity_keys.begin(), b.entity_keys.end());
  b.entity_keys.erase(std::unique(b.entity_keys.begin(), b.entity_keys.end()), b.entity_keys.end());
  // "I will access these during clock `batch`": gapm moves or replicates them here in time.
  worker_.intent(b.entity_keys, batch, batch + 1);
  b.negatives = worker_.prepare_sample(settings_.negatives, batch, batch + 1);
  planned_.push_back(std::move(b));
}

epoch_sums trainer::run_epoch() {
  epoch_sums sums;
  const long end = std::min(next_batch_ + batches_per_epoch_, total_batches_);
  for (; next_batch_ < end; ++next_batch_) {
    while (next_planned_ < total_batches_ && next_planned_ <= next_batch_ + settings_.lookahead)
      plan(next_planned_++);
    const planned_batch b = std::move(planned_.front());
    planned_.pop_front();
    sums.loss += train(b);
    sums.positives += static_cast<double>(b.triples.size());
    worker_.advance_clock();  // one clock per batch
  }
  return sums;
}

double trainer::train(const planned_batch& b) {
  const row_shape shape = keys_.shape;
  const std::size_t row = shape.row();

  // Slots: the batch's entities, then its relations, then the negatives not among them.
  std::vector<gapm::key_type> relation_keys;
  for (auto i : b.triples) relation_keys.push_back(keys_.relation(train_[i].relation));
  std::sort(relation_keys.begin(), relation_keys.end());
  relation_keys.erase(std::unique(relation_keys.begin(), relation_keys.end()), relation_keys.end());
  slot_keys_ = b.entity_keys;
  slot_keys_.insert(slot_keys_.end(), relation_keys.begin(), relation_keys.end());
  const std::size_t pulled = slot_keys_.size();
  rows_.resize((pulled + settings_.negatives) * row);
  const gapm::Ticket rows_ready = worker_.pull(slot_keys_.data(), pulled, rows_.data());
  negative_keys_.resize(settings_.negatives);
  negative_rows_.resize(settings_.negatives * row);
  const gapm::Ticket negatives_ready =
      worker_.pull_sample(b.negatives, negative_keys_.data(), negative_keys_.size(), negative_rows_.data());
  worker_.wait(rows_ready);
  worker_.wait(negatives_ready);
  worker_.finish_sample(b.negatives);

  // A negative that is also in the batch shares its slot, so that its gradients add up first.
  negative_slots_.clear();
  for (std::size_t j = 0; j < negative_keys_.size(); ++j) {
    const gapm::key_type key = negative_keys_[j];
    const auto found = std::lower_bound(b.entity_keys.begin(), b.entity_keys.end(), key);
    if (found != b.entity_keys.end() && *found == key) {
      negative_slots_.push_back(static_cast<std::uint32_t>(found - b.entity_keys.begin()));
      continue;
    }
    const auto known = std::find(slot_keys_.begin() + static_cast<std::ptrdiff_t>(pulled), slot_keys_.end(), key);
    if (known != slot_keys_.end()) {  // drawn twice
      negative_slots_.push_back(static_cast<std::uint32_t>(known - slot_keys_.begin()));
      continue;
    }
    std::copy_n(negative_rows_.begin() + static_cast<std::ptrdiff_t>(j * row), row,
                rows_.begin() + static_cast<std::ptrdiff_t>(slot_keys_.size() * row));
    negative_slots_.push_back(static_cast<std::uint32_t>(slot_keys_.size()));
    slot_keys_.push_back(key);
  }
  const std::size_t slots = slot_keys_.size();

  heads_.clear();
  relations_.clear();
  tails_.clear();
  for (auto i : b.triples) {
    heads_.push_back(slot_of(b.entity_keys, keys_.entity(train_[i].head)));
    tails_.push_back(slot_of(b.entity_keys, keys_.entity(train_[i].tail)));
    relations_.push_back(static_cast<std::uint32_t>(b.entity_keys.size()) +
                         slot_of(relation_keys, keys_.relation(train_[i].relation)));
  }

  grads_.assign(slots * shape.embedding(), 0.0f);
  const batch_view view{.shape = shape,
                        .rows = rows_.data(),
                        .slots = slots,
                        .heads = heads_.data(),
                        .relations = relations_.data(),
                        .tails = tails_.data(),
                        .n = heads_.size(),
                        .negatives = negative_slots_.data(),
                        .k = negative_slots_.size()};
  const batch_loss loss = complex_gradients(view, {.l2 = settings_.l2}, grads_.data());
  // gapm's fused AdaGrad step: rows are [embedding | sum of squared gradients], updated in
  // place as additive deltas wherever each row lives (replicas stay exact).
  worker_.apply_adagrad(slot_keys_.data(), slots, grads_.data(), settings_.lr, adagrad_eps);
  return loss.data;
}

}  // namespace kge
