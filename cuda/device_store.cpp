// device_store<T>: rows in a device slot pool, addressed through a device key→slot index.
//
// The host keeps the authoritative slot_index (routing needs it without a device round trip);
// every insert batch is mirrored into the device index on the store's admin stream, without
// waiting for the device, and gapm's own streams never wait for a user's stream (a user's
// stream may hold work that waits for other nodes, an NCCL collective say). The streams that
// ran row kernels, and the admin stream's last change, are kept by stream_uses:
//  - Slots retire through events. An erased key's slot is kept (and its index entry left as
//    it is) until every stream that ran a row kernel has passed the last one it had enqueued
//    then — the event recorded after that kernel is handed to the retired slots — so a kernel
//    enqueued earlier, a pull_async on the user's stream, still finds its row. The store takes
//    such slots back when their events have completed (asked, never waited for), and a key
//    whose old row may still be read cannot have a new one yet (can_insert).
//  - Streams see changes in stream order: a stream that runs a row kernel while the admin
//    stream's last change is not complete first waits for it.
// Kernels are enqueued under a shared lock and changes made under the exclusive one.
#include "cuda/device_store.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>
#include <utility>
#include <vector>

#include <gapm/errors.hpp>

#include "cuda/device_buffer.hpp"
#include "cuda/stream_uses.hpp"
#include "host/common/expects.hpp"
#include "host/common/memory_plan.hpp"
#include "host/store/pinned_bounce.hpp"

namespace gapm::detail {
namespace {

// Slot numbers are int32 in the device index, -1 meaning "no slot".
constexpr std::uint64_t max_device_slots = std::numeric_limits<std::int32_t>::max();

enum class direction { in, out };  // rows copied to the device before the kernel, or back after it

template <class T>
class device_store final : public store_backend<T> {
 public:
  device_store(const device_platform& platform, int device, key_type first_key, std::uint64_t num_keys,
               std::uint32_t row_length, std::uint64_t capacity, home_keys home, bool with_sync_state)
      : store_backend<T>{first_key, num_keys, row_length, capacity, home},
        rt_{platform.runtime},
        kernels_{platform.rows<T>()},
        device_{device},
        uses_{rt_} {
    device_scope on{rt_, device_};
    try {
      admin_ = rt_.create_stream();
      device_index_ = device_buffer<std::int32_t>(rt_, num_keys, admin_);
      values_ = device_buffer<T>(rt_, capacity * row_length, admin_);
      if (with_sync_state) sync_ = device_buffer<T>(rt_, capacity * row_length, admin_);
      rt_.fill(device_index_.data(), 0xff, device_index_.bytes(), admin_);  // -1: no key has a slot yet
      uses_.changed(admin_);  // makes its event now: a change must not fail for want of one
      rt_.synchronize(admin_);
    } catch (...) {
      release();
      throw;
    }
  }

  ~device_store() override {
    device_scope on{rt_, device_};
    release();
  }

  [[nodiscard]] std::string_view name() const noexcept override { return "cuda"; }

  bool insert(const key_type* keys, std::size_t n) override {
    std::unique_lock structure{structure_mutex_};
    take_back_retired();
    if (std::any_of(keys, keys + n, [&](key_type k) { return retired_keys_.contains(k); })) return false;
    std::vector<key_type> added_keys;
    std::vector<slot_type> added_slots;
    if (!this->index_.insert(keys, n, added_keys, added_slots)) return false;
    if (!added_keys.empty())
      change_structure(added_keys, std::vector<std::int32_t>(added_slots.begin(), added_slots.end()), true);
    return true;
  }

  void erase(const key_type* keys, std::size_t n) override {
    std::unique_lock structure{structure_mutex_};
    retired batch;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t slot = this->index_.retire(keys[i]);
      if (slot == no_slot) continue;
      batch.keys.push_back(keys[i]);
      batch.slots.push_back(static_cast<slot_type>(slot));
      retired_keys_.insert(keys[i]);
    }
    if (batch.keys.empty()) return;
    batch.events = uses_.take_unfinished();
    retired_.push_back(std::move(batch));
    take_back_retired();
  }

  [[nodiscard]] std::uint64_t free_slots() override {
    std::unique_lock structure{structure_mutex_};
    take_back_retired();
    return this->index_.free_slots();
  }

  [[nodiscard]] bool can_insert(key_type key) const override {
    std::shared_lock structure{structure_mutex_};
    return !retired_keys_.contains(key);
  }

  void gather(const key_type* keys, std::size_t n, T* out, stream_view stream) override {
    run(keys, n, out, n * this->row_length_, direction::out, stream,
        [&](const device_rows<T>& r, const key_type* k, T* rows, device_stream s) { kernels_.gather(r, k, n, rows, s); });
  }
  void scatter_add(const key_type* keys, std::size_t n, const T* deltas, stream_view stream) override {
    run(keys, n, const_cast<T*>(deltas), n * this->row_length_, direction::in, stream,
        [&](const device_rows<T>& r, const key_type* k, T* rows, device_stream s) {
          kernels_.scatter_add(r, k, n, rows, s);
        });
  }
  void assign(const key_type* keys, std::size_t n, const T* values, stream_view stream) override {
    run(keys, n, const_cast<T*>(values), n * this->row_length_, direction::in, stream,
        [&](const device_rows<T>& r, const key_type* k, T* rows, device_stream s) { kernels_.assign(r, k, n, rows, s); });
  }
  void extract_delta(const key_type* keys, std::size_t n, T* deltas, stream_view stream) override {
    expect_sync_state();
    run(keys, n, deltas, n * this->row_length_, direction::out, stream,
        [&](const device_rows<T>& r, const key_type* k, T* rows, device_stream s) {
          kernels_.extract_delta(r, k, n, rows, s);
        });
  }
  void measure_delta(const key_type* keys, std::size_t n, delta_measure* out, bool with_norm,
                     stream_view stream) override {
    expect_sync_state();
    run(keys, n, out, n, direction::out, stream,
        [&](const device_rows<T>& r, const key_type* k, delta_measure* measures, device_stream s) {
          kernels_.measure_delta(r, k, n, measures, with_norm, s);
        });
  }
  void refresh_merge(const key_type* keys, std::size_t n, const T* main, stream_view stream) override {
    expect_sync_state();
    run(keys, n, const_cast<T*>(main), n * this->row_length_, direction::in, stream,
        [&](const device_rows<T>& r, const key_type* k, T* rows, device_stream s) {
          kernels_.refresh_merge(r, k, n, rows, s);
        });
  }
  void apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step,
                  stream_view stream) override {
    run(keys, n, const_cast<T*>(grads), n * (this->row_length_ / step.factor), direction::in, stream,
        [&](const device_rows<T>& r, const key_type* k, T* g, device_stream s) { kernels_.step(r, k, n, g, step, s); });
  }

  void synchronize(stream_view stream) override {
    device_scope on{rt_, device_};
    rt_.synchronize(stream.handle());
  }

  void order_after_queued_work(stream_view stream) override {
    device_scope on{rt_, device_};
    const device_stream s = stream.handle();
    std::shared_lock structure{structure_mutex_};  // retired batches hold queued work too
    uses_.order_after_others(s);
    for (const auto& batch : retired_)
      for (device_event e : batch.events)
        if (!rt_.done(e)) rt_.wait(s, e);
  }

 private:
  // Erased keys whose slots queued kernels may still read: back to the free slots once every
  // event has completed.
  struct retired {
    std::vector<key_type> keys;
    std::vector<slot_type> slots;
    std::vector<device_event> events;
  };

  [[nodiscard]] device_rows<T> rows_view() noexcept {
    return {device_index_.data(), this->index_.first_key(), values_.data(), sync_.data(), this->row_length_};
  }

  void expect_sync_state() const {
    GAPM_EXPECTS(sync_.data() != nullptr, "replica sync on a device store made without sync_state "
                                          "(a node that may hold replicas allocates it with its pool)");
  }

  // Runs one row kernel on `view`'s stream. Host buffers are staged through device memory,
  // from pinned memory (theirs, or a bounce): keys always, rows in (before) or out (after the
  // kernel); with anything staged the call synchronises the stream before it returns, else it
  // leaves the work enqueued. `rows` holds `values` elements (row values, or one measure per row).
  template <class Row, class Launch>
  void run(const key_type* keys, std::size_t n, Row* rows, std::size_t values, direction dir, stream_view view,
           Launch launch) {
    if (n == 0) return;
    device_scope on{rt_, device_};
    const device_stream s = view.handle();
    device_buffer<key_type> staged_keys;
    device_buffer<Row> staged_rows;
    pinned_bounce host_keys, host_rows;
    const key_type* dkeys = keys;
    Row* drows = rows;
    const bool rows_on_host = rt_.space_of(rows) == memory_space::host;
    try {
      if (rt_.space_of(keys) == memory_space::host) {
        staged_keys = device_buffer<key_type>(rt_, n, s);
        host_keys = pinned_bounce::to_device(rt_, keys, n * sizeof(key_type));
        rt_.copy(staged_keys.data(), host_keys.data(), n * sizeof(key_type), s);
        dkeys = staged_keys.data();
      }
      if (rows_on_host) {
        staged_rows = device_buffer<Row>(rt_, values, s);
        if (dir == direction::in) {
          host_rows = pinned_bounce::to_device(rt_, rows, values * sizeof(Row));
          rt_.copy(staged_rows.data(), host_rows.data(), values * sizeof(Row), s);
        } else {
          host_rows = pinned_bounce::from_device(rt_, rows, values * sizeof(Row));
        }
        drows = staged_rows.data();
      }
      {
        std::shared_lock structure{structure_mutex_};
        uses_.before_kernel(s);
        launch(rows_view(), dkeys, drows, s);
        uses_.after_kernel(s);
      }
      if (rows_on_host && dir == direction::out) rt_.copy(host_rows.data(), drows, values * sizeof(Row), s);
      if (staged_keys.data() != nullptr || rows_on_host) rt_.synchronize(s);
    } catch (...) {
      drain_after_failure(rt_, s);  // no queued copy may outlive its host buffer
      throw;
    }
    if (rows_on_host && dir == direction::out) host_rows.land();
  }

  // Under the exclusive lock: mirrors (key, slot) pairs into the device index (slot -1 removes
  // the key) and zeroes newly given rows, on the admin stream, which waits for no user stream.
  void change_structure(const std::vector<key_type>& keys, const std::vector<std::int32_t>& slots, bool zero_rows) {
    device_scope on{rt_, device_};
    const std::size_t n = keys.size();
    // Pinned copies, kept until the admin stream has read them (a host task after the copies).
    auto host = std::make_shared<std::pair<pinned_vector<key_type>, pinned_vector<std::int32_t>>>(
        pinned_vector<key_type>(keys.begin(), keys.end()), pinned_vector<std::int32_t>(slots.begin(), slots.end()));
    device_buffer<key_type> dkeys(rt_, n, admin_);
    device_buffer<std::int32_t> dslots(rt_, n, admin_);
    try {
      rt_.copy(dkeys.data(), host->first.data(), n * sizeof(key_type), admin_);
      rt_.copy(dslots.data(), host->second.data(), n * sizeof(std::int32_t), admin_);
      rt_.host_task(admin_, [host] {});
    } catch (...) {
      drain_after_failure(rt_, admin_);
      throw;
    }
    if (zero_rows) {
      kernels_.zero(values_.data(), this->row_length_, dslots.data(), n, admin_);
      if (sync_.data() != nullptr) kernels_.zero(sync_.data(), this->row_length_, dslots.data(), n, admin_);
    }
    kernels_.update_index(device_index_.data(), this->index_.first_key(), dkeys.data(), dslots.data(), n, admin_);
    uses_.changed(admin_);
  }

  // Under the exclusive lock: the slots of retired batches whose queued kernels have all run
  // become free again, their keys' index entries -1 (one change for all of them).
  void take_back_retired() {
    std::vector<key_type> keys;
    std::erase_if(retired_, [&](retired& batch) {
      if (!std::all_of(batch.events.begin(), batch.events.end(), [&](device_event e) { return rt_.done(e); }))
        return false;
      for (device_event e : batch.events) rt_.destroy_event(e);
      for (std::size_t i = 0; i < batch.keys.size(); ++i) {
        this->index_.release(batch.slots[i]);
        retired_keys_.erase(batch.keys[i]);
      }
      keys.insert(keys.end(), batch.keys.begin(), batch.keys.end());
      return true;
    });
    if (!keys.empty()) change_structure(keys, std::vector<std::int32_t>(keys.size(), -1), false);
  }

  // Frees everything once the work that may touch it is done (destructor, failed constructor):
  // here, and only here, the admin stream waits for the users' streams.
  void release() noexcept {
    try {
      if (admin_ != nullptr) {
        uses_.order_after_others(admin_);  // the admin stream runs no row kernels: all of them
        for (auto& batch : retired_)
          for (device_event e : batch.events) rt_.wait(admin_, e);
        device_index_ = {};
        values_ = {};
        sync_ = {};
        rt_.synchronize(admin_);
      }
    } catch (...) {  // a broken runtime: free what can be freed
    }
    uses_.destroy();
    for (auto& batch : retired_)
      for (device_event e : batch.events) rt_.destroy_event(e);
    retired_.clear();
    if (admin_ != nullptr) rt_.destroy_stream(std::exchange(admin_, nullptr));
  }

  device_runtime& rt_;
  row_launcher<T>& kernels_;
  const int device_;
  device_stream admin_ = nullptr;  // structure changes
  mutable std::shared_mutex structure_mutex_;  // shared: enqueueing kernels; exclusive: structure changes
  stream_uses uses_;
  std::vector<retired> retired_;                // erased, not yet free (exclusive lock)
  std::unordered_set<key_type> retired_keys_;   // their keys
  device_buffer<std::int32_t> device_index_;  // mirror of the host slot_index
  device_buffer<T> values_;
  device_buffer<T> sync_;
};

}  // namespace

std::uint64_t default_device_capacity(std::uint64_t num_keys, std::size_t row_bytes, bool with_sync_state,
                                      std::size_t free_bytes, double fraction) {
  const double budget = static_cast<double>(free_bytes) * fraction;
  const double index_bytes = static_cast<double>(num_keys) * sizeof(std::int32_t);
  const double slot_bytes = static_cast<double>(row_bytes) * (with_sync_state ? 2 : 1);
  if (budget <= index_bytes || slot_bytes <= 0) return 0;
  const double slots = std::floor((budget - index_bytes) / slot_bytes);
  return std::min({num_keys, max_device_slots, slots >= 1e18 ? max_device_slots : static_cast<std::uint64_t>(slots)});
}

template <class T>
std::unique_ptr<store_backend<T>> make_device_store(const device_platform& platform, int device, key_type first_key,
                                                    std::uint64_t num_keys, std::uint32_t row_length,
                                                    std::uint64_t capacity, double capacity_fraction,
                                                    bool with_sync_state, home_keys home) {
  const std::size_t row_bytes = std::size_t{row_length} * sizeof(T);
  device_scope on{platform.runtime, device};
  pin_host_memory_on(platform.runtime, device);  // rows to and from this store wait in pinned memory
  if (capacity == 0) {
    std::size_t free_bytes = 0, total_bytes = 0;
    platform.runtime.memory_info(free_bytes, total_bytes);
    capacity = default_device_capacity(num_keys, row_bytes, with_sync_state, free_bytes, capacity_fraction);
  }
  GAPM_EXPECTS(capacity <= max_device_slots, "option 'capacity' is ", capacity, " slots; a device table holds at most ",
               max_device_slots);
  try {
    return std::make_unique<device_store<T>>(platform, device, first_key, num_keys, row_length, capacity, home,
                                             with_sync_state);
  } catch (const cuda_error& e) {
    const double bytes = static_cast<double>(capacity) * static_cast<double>(row_bytes) * (with_sync_state ? 2 : 1) +
                         static_cast<double>(num_keys) * sizeof(std::int32_t);
    throw error(concat("gapm: the table of keys [", first_key, ", ", first_key + num_keys, ") needs ",
                       human_bytes(bytes), " of memory on GPU ", device, " (", capacity, " row slots of ", row_bytes,
                       " bytes", with_sync_state ? ", twice for the replicas' sync_state" : "",
                       ", and its key index), which it cannot allocate: ", e.what()));
  }
}

template std::unique_ptr<store_backend<float>> make_device_store<float>(const device_platform&, int, key_type,
                                                                        std::uint64_t, std::uint32_t, std::uint64_t,
                                                                        double, bool, home_keys);
template std::unique_ptr<store_backend<double>> make_device_store<double>(const device_platform&, int, key_type,
                                                                          std::uint64_t, std::uint32_t, std::uint64_t,
                                                                          double, bool, home_keys);
template std::unique_ptr<store_backend<std::int64_t>> make_device_store<std::int64_t>(const device_platform&, int,
                                                                                      key_type, std::uint64_t,
                                                                                      std::uint32_t, std::uint64_t,
                                                                                      double, bool, home_keys);

}  // namespace gapm::detail
