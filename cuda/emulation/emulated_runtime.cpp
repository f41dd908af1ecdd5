#include "cuda/emulation/emulated_runtime.hpp"

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include <unistd.h>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"
#include "host/common/thread_cpu.hpp"

namespace gapm::detail {

// One stream: tasks run in order on the stream's own thread; one in four starts after a random
// delay of up to `jitter` (enough to reorder streams, without sleeping before every task).
class emulated_runtime::stream {
 public:
  stream(std::chrono::microseconds jitter, std::uint64_t seed) : jitter_{jitter}, rng_{seed} {
    thread_ = std::thread([this] {
      name_this_thread("gapm-emustream");
      loop();
    });
  }
  ~stream() {
    {
      std::lock_guard guard{mutex_};
      stopping_ = true;
    }
    work_.notify_all();
    thread_.join();  // runs what was enqueued first, as a destroyed CUDA stream does
  }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  void enqueue(std::function<void()> task) {
    {
      std::lock_guard guard{mutex_};
      tasks_.push_back(std::move(task));
      ++enqueued_;
    }
    work_.notify_all();
  }

  void synchronize() {
    std::unique_lock lock{mutex_};
    const std::uint64_t target = enqueued_;
    finished_.wait(lock, [&] { return completed_ >= target; });
  }

 private:
  void loop() {
    std::unique_lock lock{mutex_};
    for (;;) {
      work_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      if (jitter_.count() > 0 && rng_() % 4 == 0)
        std::this_thread::sleep_for(std::chrono::microseconds(rng_() % static_cast<std::uint64_t>(jitter_.count() + 1)));
      task();
      task = nullptr;  // what the task held is gone before its completion is seen
      lock.lock();
      ++completed_;
      finished_.notify_all();
    }
  }

  const std::chrono::microseconds jitter_;
  std::mt19937_64 rng_;
  std::mutex mutex_;
  std::condition_variable work_, finished_;
  std::deque<std::function<void()>> tasks_;
  std::uint64_t enqueued_ = 0, completed_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

namespace {

// An event: the generation of its last recording, and the newest generation completed.
struct emulated_event {
  std::mutex mutex;
  std::condition_variable completed_changed;
  std::uint64_t recorded = 0, completed = 0;
};
using event_handle = std::shared_ptr<emulated_event>;  // tasks keep a destroyed event alive

event_handle& event_of(device_event event) { return *static_cast<event_handle*>(event); }

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::stoull(text);
}

}  // namespace

thread_local std::unique_ptr<emulated_runtime::stream> emulated_runtime::thread_stream_;
thread_local int emulated_runtime::thread_device_ = -1;

emulated_runtime::settings emulated_runtime::settings_from_env() {
  settings s;
  s.devices = static_cast<int>(env_number("EMULATED_GPU_COUNT", 1));
  s.memory_bytes = env_number("EMULATED_GPU_MEMORY", s.memory_bytes);
  s.jitter = std::chrono::microseconds(env_number("EMULATED_GPU_JITTER_US", 0));
  s.seed = env_number("EMULATED_GPU_SEED", std::random_device{}());
  s.strict = env_number("EMULATED_GPU_STRICT", 0) != 0;
  if (s.jitter.count() > 0)
    std::cerr << "gapm: emulated device, " << s.jitter.count() << " us jitter, seed " << s.seed << "\n";
  return s;
}

emulated_runtime::emulated_runtime(settings given)
    : settings_{given}, used_(static_cast<std::size_t>(std::max(given.devices, 1)), 0) {}

emulated_runtime::~emulated_runtime() = default;

int emulated_runtime::current_device() const { return std::max(thread_device_, 0); }

void emulated_runtime::set_device(int device) {
  if (device < 0 || device >= settings_.devices)
    throw cuda_error(concat("gapm: emulated device: no device ", device, " (", settings_.devices, " visible)"));
  thread_device_ = device;
  note_use();
}

std::string emulated_runtime::device_identity(int device) const {
  char host[256] = {};
  (void)::gethostname(host, sizeof host - 1);
  return concat("emulated-GPU-", host, "-", device);
}

emulated_runtime::context emulated_runtime::current_context() const noexcept {
  return reinterpret_cast<context>(static_cast<std::intptr_t>(thread_device_) + 1);  // null: none
}

void emulated_runtime::restore_context(context saved) noexcept {
  thread_device_ = static_cast<int>(reinterpret_cast<std::intptr_t>(saved) - 1);
}

namespace {

// Whether `address` lies in one of `ranges` (start → length).
template <class Ranges, class Length>
bool within(const Ranges& ranges, std::uintptr_t address, Length length) {
  auto it = ranges.upper_bound(address);
  if (it == ranges.begin()) return false;
  --it;
  return address < it->first + length(it->second);
}

}  // namespace

memory_space emulated_runtime::space_of(const void* ptr) const noexcept {
  std::lock_guard guard{memory_mutex_};
  return within(allocations_, reinterpret_cast<std::uintptr_t>(ptr), [](const allocation& a) { return a.bytes; })
             ? memory_space::device
             : memory_space::host;
}

bool emulated_runtime::is_pinned(const void* ptr) const noexcept {
  std::lock_guard guard{memory_mutex_};
  return within(pinned_, reinterpret_cast<std::uintptr_t>(ptr), [](std::size_t bytes) { return bytes; });
}

void emulated_runtime::memory_info(std::size_t& free_bytes, std::size_t& total_bytes) {
  std::lock_guard guard{memory_mutex_};
  total_bytes = settings_.memory_bytes;
  free_bytes = settings_.memory_bytes - used_[static_cast<std::size_t>(current_device())];
}

void emulated_runtime::note_use() {
  if (settings_.strict && thread_device_ < 0 && settings_.devices > 1) {
    // Found in CI rather than as a stray context on a user's GPU 0; the core dump or the
    // debugger shows the call.
    std::cerr << "gapm: emulated device (EMULATED_GPU_STRICT): a thread that chose no device called the "
                 "runtime; on a GPU this work would run on GPU 0\n";
    std::abort();
  }
  std::lock_guard guard{memory_mutex_};
  devices_used_.insert(current_device());  // work without a chosen device lands on device 0
}

std::set<int> emulated_runtime::devices_used() const {
  std::lock_guard guard{memory_mutex_};
  return devices_used_;
}

void* emulated_runtime::allocate_now(std::size_t bytes) {
  constexpr std::size_t alignment = 256;  // what cudaMalloc guarantees
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
  std::lock_guard guard{memory_mutex_};
  devices_used_.insert(current_device());
  const int device = current_device();
  auto& used = used_[static_cast<std::size_t>(device)];
  if (used + rounded > settings_.memory_bytes)
    throw cuda_error(concat("gapm: emulated device ", device, ": out of memory allocating ", bytes, " bytes (", used,
                            " of ", settings_.memory_bytes, " in use)"));
  void* ptr = std::aligned_alloc(alignment, rounded);
  if (ptr == nullptr) throw cuda_error("gapm: emulated device: host allocation failed");
  allocations_.emplace(reinterpret_cast<std::uintptr_t>(ptr), allocation{rounded, device});
  used += rounded;
  return ptr;
}

void emulated_runtime::release(void* ptr) noexcept {
  {
    std::lock_guard guard{memory_mutex_};
    auto it = allocations_.find(reinterpret_cast<std::uintptr_t>(ptr));
    if (it == allocations_.end()) return;
    used_[static_cast<std::size_t>(it->second.device)] -= it->second.bytes;
    allocations_.erase(it);
  }
  std::free(ptr);
}

void emulated_runtime::free_now(void* ptr) { release(ptr); }

std::size_t emulated_runtime::used_bytes(int device) const {
  std::lock_guard guard{memory_mutex_};
  return used_[static_cast<std::size_t>(device)];
}

void* emulated_runtime::allocate(std::size_t bytes, device_stream) { return allocate_now(bytes); }

void emulated_runtime::deallocate(void* ptr, device_stream s) noexcept {
  try {
    stream_of(s).enqueue([this, ptr] { release(ptr); });
  } catch (...) {  // no stream to order it on: free at once
    release(ptr);
  }
}

void* emulated_runtime::allocate_pinned(std::size_t bytes) {
  constexpr std::size_t alignment = 64;
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
  void* ptr = std::aligned_alloc(alignment, rounded);
  if (ptr == nullptr) throw cuda_error("gapm: emulated device: pinned host allocation failed");
  std::lock_guard guard{memory_mutex_};
  pinned_.emplace(reinterpret_cast<std::uintptr_t>(ptr), rounded);
  return ptr;
}

void emulated_runtime::free_pinned(void* ptr) noexcept {
  {
    std::lock_guard guard{memory_mutex_};
    if (pinned_.erase(reinterpret_cast<std::uintptr_t>(ptr)) == 0) return;
  }
  std::free(ptr);
}

void emulated_runtime::check_host_side(const void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  const bool dst_on_device = space_of(dst) == memory_space::device;
  const bool src_on_device = space_of(src) == memory_space::device;
  if (dst_on_device == src_on_device) return;  // device to device, or host to host
  if (is_pinned(dst_on_device ? src : dst)) return;
  pageable_copies_.fetch_add(1);
  if (!settings_.strict) return;
  std::cerr << "gapm: emulated device (EMULATED_GPU_STRICT): a copy of " << bytes << " bytes "
            << (dst_on_device ? "from" : "to") << " pageable host memory; gapm's host side of a device copy is "
            << "pinned (host/store/pinned_memory.hpp)\n";
  std::abort();
}

std::uint64_t emulated_runtime::pageable_copies() const noexcept { return pageable_copies_.load(); }

void emulated_runtime::copy(void* dst, const void* src, std::size_t bytes, device_stream s) {
  check_host_side(dst, src, bytes);
  // As in CUDA, an empty copy is fine with any pointers (memcpy's may not be null).
  stream_of(s).enqueue([dst, src, bytes] {
    if (bytes > 0) std::memcpy(dst, src, bytes);
  });
}

void emulated_runtime::fill(void* dst, unsigned char byte, std::size_t bytes, device_stream s) {
  stream_of(s).enqueue([dst, byte, bytes] {
    if (bytes > 0) std::memset(dst, byte, bytes);
  });
}

void emulated_runtime::host_task(device_stream s, std::function<void()> task) { stream_of(s).enqueue(std::move(task)); }

device_stream emulated_runtime::create_stream() {
  note_use();
  return new stream(settings_.jitter, settings_.seed + streams_made_.fetch_add(1) + 1);
}

void emulated_runtime::destroy_stream(device_stream s) noexcept { delete static_cast<stream*>(s); }

device_event emulated_runtime::create_event() {
  note_use();
  return new event_handle(std::make_shared<emulated_event>());
}

void emulated_runtime::destroy_event(device_event event) noexcept { delete static_cast<event_handle*>(event); }

void emulated_runtime::record(device_event event, device_stream s) {
  event_handle e = event_of(event);
  std::uint64_t generation = 0;
  {
    std::lock_guard guard{e->mutex};
    generation = ++e->recorded;
  }
  stream_of(s).enqueue([e, generation] {
    {
      std::lock_guard guard{e->mutex};
      e->completed = std::max(e->completed, generation);
    }
    e->completed_changed.notify_all();
  });
}

void emulated_runtime::wait(device_stream s, device_event event) {
  event_handle e = event_of(event);
  std::uint64_t generation = 0;
  {
    std::lock_guard guard{e->mutex};
    generation = e->recorded;
  }
  if (generation == 0) return;  // never recorded: nothing to wait for (as in CUDA)
  stream_of(s).enqueue([e, generation] {
    std::unique_lock lock{e->mutex};
    e->completed_changed.wait(lock, [&] { return e->completed >= generation; });
  });
}

bool emulated_runtime::done(device_event event) {
  const event_handle& e = event_of(event);
  std::lock_guard guard{e->mutex};
  return e->completed >= e->recorded;
}

void emulated_runtime::synchronize(device_stream s) { stream_of(s).synchronize(); }

emulated_runtime::stream& emulated_runtime::stream_of(device_stream handle) {
  note_use();
  if (!is_thread_default(handle)) return *static_cast<stream*>(handle);
  if (!thread_stream_)
    thread_stream_ = std::make_unique<stream>(settings_.jitter, settings_.seed + streams_made_.fetch_add(1) + 1);
  return *thread_stream_;
}

}  // namespace gapm::detail
