#include "host/adaptive/sync_channel.hpp"

#include <limits>
#include <optional>
#include <string>

#include <gapm/errors.hpp>

#include "comm/deadline.hpp"
#include "host/common/expects.hpp"
#include "host/common/thread_cpu.hpp"

namespace gapm::detail {
namespace {

using steady = std::chrono::steady_clock;

intent_table make_intents(const Options& options) {
  return intent_table{options.workers,
                      action_timer{options.timing_initial_estimate, options.timing_smoothing, options.timing_quantile,
                                   options.time_intent_actions}};
}

// How often an idle channel looks for work it was not told about.
constexpr auto idle_interval = std::chrono::milliseconds(20);

std::chrono::nanoseconds round_interval(double max_per_sec) {
  return max_per_sec > 0 ? std::chrono::nanoseconds{static_cast<std::int64_t>(1e9 / max_per_sec)}
                         : std::chrono::nanoseconds{0};
}

// How many rounds at `interval` an idle pause spans (unpaced rounds: any number).
double rounds_in_a_pause(std::chrono::nanoseconds interval) {
  return interval.count() > 0 ? static_cast<double>(idle_interval / interval) + 1 : std::numeric_limits<double>::infinity();
}

}  // namespace

template <class T>
sync_channel<T>::sync_channel(sync_context<T>& context, int channel)
    : ctx_{context},
      channel_{channel},
      state_{make_intents(context.options), context.world_size},
      asked_(static_cast<std::size_t>(context.world_size), false),
      next_round_{steady::now()},
      interval_{round_interval(context.options.sync_max_per_sec)},
      pause_rounds_{rounds_in_a_pause(interval_)},
      acked_(static_cast<std::size_t>(context.world_size)),
      round_timeout_{saturated_seconds(context.options.sync_round_timeout_s)} {}

template <class T>
sync_channel<T>::~sync_channel() {
  stop();
}

template <class T>
void sync_channel<T>::start() {
  thread_ = std::thread([this] {
    name_this_thread(("gapm-sync" + std::to_string(channel_)).c_str());
    run();
  });
}

template <class T>
void sync_channel<T>::stop() noexcept {
  {
    std::lock_guard guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  round_done_.notify_all();
  if (thread_.joinable()) thread_.join();
}

template <class T>
void sync_channel<T>::enqueue(wire::message&& message) {
  {
    std::lock_guard guard{mutex_};
    inbox_.push_back(std::move(message));
  }
  wake_.notify_one();
}

template <class T>
void sync_channel<T>::wake() noexcept {
  {
    std::lock_guard guard{mutex_};
    next_round_ = std::min(next_round_, steady::now() + interval_);
    woken_ = true;
  }
  wake_.notify_one();
}

template <class T>
void sync_channel<T>::wait_for_round(std::uint64_t target) {
  wake();  // an idle channel's next round is due now
  std::unique_lock lock{mutex_};
  while (rounds_.load() < target && !stop_) {
    round_done_.wait_for(lock, std::chrono::milliseconds(50));
    lock.unlock();
    ctx_.net.throw_if_failed();  // a dead peer never completes a round
    lock.lock();
  }
  if (rounds_.load() < target) throw logic_error("gapm: wait_sync: the node is shutting down");
}

template <class T>
void sync_channel<T>::resume() noexcept {
  {
    std::lock_guard guard{mutex_};  // the thread checks it under the mutex before it waits
    paused_.store(false, std::memory_order_release);
  }
  wake_.notify_one();
}

template <class T>
void sync_channel<T>::wait_idle() {
  std::unique_lock lock{mutex_};
  while (round_open_.load(std::memory_order_acquire) && !stop_) {
    round_done_.wait_for(lock, std::chrono::milliseconds(50));
    lock.unlock();
    ctx_.net.throw_if_failed();
    lock.lock();
  }
}

template <class T>
void sync_channel<T>::run() {
  std::vector<wire::message> batch;
  // Each message on its own (a malformed one is dropped and counted without taking the others
  // along); one that cannot be applied fails the cluster, and the channel stops.
  auto apply = [&](wire::message& message) {
    const int sender = message.head.sender;
    return ctx_.net.guarded(wire::kind_name(message.head.kind), sender, [&] { handle(std::move(message)); }) ||
           !ctx_.net.failed();
  };
  while (true) {
    {
      std::unique_lock lock{mutex_};
      // An open round looks at its deadline every millisecond; a paused channel has no round
      // due (its next_round_ may be long past) and waits for resume(); else the next round is.
      const bool paused = paused_.load(std::memory_order_acquire);
      const auto until = round_open_ ? steady::now() + std::chrono::milliseconds(1)
                         : paused    ? steady::now() + idle_interval
                                     : next_round_;
      wake_.wait_until(lock, until, [&] {
        const bool round_moved_up = !round_open_ && !paused && next_round_ < until;  // wake()
        return stop_ || !inbox_.empty() || round_moved_up || paused != paused_.load(std::memory_order_acquire);
      });
      if (stop_) return;
      batch.assign(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.end()));
      inbox_.clear();
    }
    for (auto& message : batch)
      if (!apply(message)) return;
    batch.clear();
    for (auto& message : parked_.take_due())  // entries for keys that were on their way here
      if (!apply(message)) return;
    check_round_deadline();
    if (ctx_.net.failed()) return;
    bool due = false;
    {
      std::lock_guard guard{mutex_};
      due = !round_open_ && !paused_.load(std::memory_order_acquire) && steady::now() >= next_round_;
      if (due) woken_ = false;  // this round serves every wake so far
    }
    if (!due) continue;
    if (!ctx_.net.guarded("a sync round", -1, [&] { start_round(); })) return;
    // An idle channel (nothing asked, no replica, no intent) looks again later; new intents and
    // wait_sync() wake it at once, also while this round ran (a wake then must not be undone).
    std::lock_guard guard{mutex_};
    const bool idle = idle_ && !woken_;
    next_round_ = steady::now() + (idle ? std::max<std::chrono::nanoseconds>(interval_, idle_interval) : interval_);
  }
}

template <class T>
void sync_channel<T>::start_round() {
  std::optional<device_scope> on_device;  // deltas on the device are made and freed there
  if (row_plane* plane = ctx_.net.plane()) on_device.emplace(plane->runtime(), plane->device());
  auto requests = replicas_.build_round(flush_.exchange(false, std::memory_order_acq_rel));
  intent_entries_.store(state_.intents.size(), std::memory_order_relaxed);
  intent_bytes_.store(state_.intents.memory_bytes(), std::memory_order_relaxed);
  // Every peer hears from a round in which this node asks it something, and from the first
  // round after one that did: the empty message tells it that this node intends none of its
  // keys any more (its view of who intends what). After that, silence says the same thing,
  // so an idle channel sends nothing and its round completes at once.
  ++round_id_;
  round_open_ = true;
  round_started_ = steady::now();
  entries_sent_ = entries_handled_ = acks_ = acks_expected_ = 0;
  acked_.assign(acked_.size(), true);  // peers this round asks nothing owe no answer
  for (int peer = 0; peer < ctx_.world_size; ++peer) {
    if (peer == ctx_.rank) continue;
    const auto p = static_cast<std::size_t>(peer);
    auto& request = requests[p];
    const bool asked_last_round = asked_[p];
    asked_[p] = request.size() > 0;
    if (request.size() == 0 && !asked_last_round) continue;
    entries_sent_ += request.size();
    ++acks_expected_;
    acked_[p] = false;
    auto frame = request.encode({.origin = ctx_.rank, .worker = channel_, .request = round_id_});
    if (request.deltas_on_host()) {
      send(peer, std::move(frame));
    } else {  // the deltas follow on the data plane (taken on this thread's stream: already there)
      const std::size_t bytes = request.delta_values() * sizeof(T);
      if (ctx_.net.send_frame_with_rows(peer, std::move(frame), std::move(request.device_deltas), bytes, nullptr).ok())
        ctx_.counters.plane_delta_bytes.fetch_add(bytes, std::memory_order_relaxed);
    }
  }
  // Idle: nothing asked, no replica, no intent registered or due within the rounds an idle
  // pause spans (it must be registered in time, not up to idle_interval late).
  idle_ = acks_expected_ == 0 && state_.replicas.empty() && !state_.intents.active(pause_rounds_);
  // submit() queues, then reads idle_: one submitted while this round ran found the channel
  // busy and woke nothing, so look again now that idle_ says idle.
  if (idle_ && state_.intents.has_submitted()) idle_ = false;
  complete_round_if_done();
}

template <class T>
void sync_channel<T>::handle(wire::message&& message) {
  switch (message.kind()) {
    case wire::kind::sync_request: return owner_.serve(message);
    case wire::kind::sync_response: return apply_response(message);
    default: throw wire::malformed_message("sync channel: a " + std::string(wire::kind_name(message.head.kind)));
  }
}

template <class T>
void sync_channel<T>::apply_response(const wire::message& message) {
  const auto answer = sync_response<T>::decode(message, ctx_.keys, ctx_.options.sync_channels, channel_);
  if (message.head.round() != round_id_ || !round_open_)
    throw wire::malformed_message("sync response: to a round that is not open");
  const auto from = static_cast<std::size_t>(message.head.sender);
  if (answer.acknowledges && acked_[from])
    throw wire::malformed_message("sync response: a second acknowledgement of the round");
  replicas_.apply(answer, message.head.sender);
  if (!answer.keys.empty()) parked_.wake();  // entries waiting here for keys that arrived go on
  entries_handled_ += answer.handled;
  if (answer.acknowledges) {
    acked_[from] = true;
    ++acks_;
  }
  complete_round_if_done();
}

template <class T>
void sync_channel<T>::check_round_deadline() {
  if (!round_open_ || steady::now() - round_started_ <= round_timeout_) return;
  std::string silent;
  for (int peer = 0; peer < ctx_.world_size; ++peer)
    if (peer != ctx_.rank && !acked_[static_cast<std::size_t>(peer)])
      silent += (silent.empty() ? "node(s) " : ", ") + std::to_string(peer);
  if (silent.empty())
    silent = concat(entries_sent_ - entries_handled_, " forwarded entries, which no owner handled,");
  ctx_.net.fail(concat("sync round ", round_id_, " of channel ", channel_, " is still open after ",
                       std::chrono::duration<double>(round_timeout_).count(), " s: ", silent,
                       " did not answer (option sync.round_timeout_s)"));
}

template <class T>
void sync_channel<T>::complete_round_if_done() {
  if (!round_open_ || acks_ < acks_expected_ || entries_handled_ < entries_sent_) return;
  {
    std::lock_guard guard{mutex_};  // waiters check both under it
    round_open_ = false;
    rounds_.fetch_add(1);
  }
  round_done_.notify_all();
}

template <class T>
void sync_channel<T>::send(int node, std::vector<std::byte>&& frame) {
  (void)ctx_.send(node, std::move(frame));  // a failed send fails the cluster
}

template class sync_channel<float>;
template class sync_channel<double>;
template class sync_channel<std::int64_t>;

}  // namespace gapm::detail
