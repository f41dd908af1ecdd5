#include "host/store/pinned_memory.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <exception>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define GAPM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GAPM_ASAN 1
#endif
#endif
#if defined(GAPM_ASAN)
#include <sanitizer/asan_interface.h>
#define GAPM_POISON(ptr, bytes) ASAN_POISON_MEMORY_REGION(ptr, bytes)
#define GAPM_UNPOISON(ptr, bytes) ASAN_UNPOISON_MEMORY_REGION(ptr, bytes)
#else
#define GAPM_POISON(ptr, bytes) ((void)(ptr), (void)(bytes))
#define GAPM_UNPOISON(ptr, bytes) ((void)(ptr), (void)(bytes))
#endif

#include "cuda/device_platform.hpp"

namespace gapm::detail {
namespace {

// Every block starts with this header, so that a block goes back where it came from whenever
// it is freed (pinning starts with the first device store; blocks made before are ordinary).
struct alignas(64) block_header {
  std::size_t bytes;  // the whole block, header included
  bool pinned;
};
constexpr std::size_t header_bytes = sizeof(block_header);

// Pinned blocks come in power-of-two sizes from 4 KiB up, and a freed one is kept for reuse,
// never unpinned while the process runs (as PyTorch's caching host allocator does): unpinning
// (cudaFreeHost) may wait for the whole device, users' streams included, which no gapm thread
// may do, and is a runtime call, which a block freed by a stream's host task may not make. So
// the pinned memory a process holds is its peak use, rounded up to powers of two; when pinning
// fails, the cache is unpinned (by the thread that asked, outside any host task) and pinning
// tried once more.
constexpr std::size_t smallest_block = std::size_t{4} << 10;
constexpr int block_classes = 64 - std::countr_zero(smallest_block);

class pinned_pool {
 public:
  // Pinning starts with the first device store of the process, on its device: a runtime call
  // from a thread without a context would otherwise create one on GPU 0.
  void pin_on(device_runtime& runtime, int device) {
    std::lock_guard guard{mutex_};
    if (runtime_ != nullptr) return;  // portable memory: one device serves every node
    runtime_ = &runtime;
    device_ = device;
  }

  void* allocate(std::size_t bytes) {
    if (bytes > (std::size_t{1} << 62)) throw std::bad_alloc();
    const std::size_t total = bytes + header_bytes;
    const int c = class_of(total);
    device_runtime* runtime = nullptr;
    {
      std::lock_guard guard{mutex_};
      runtime = runtime_;
      if (runtime != nullptr) {
        auto& blocks = free_[c];
        if (!blocks.empty()) {
          auto* header = static_cast<block_header*>(blocks.back());
          blocks.pop_back();
          cached_ -= header->bytes;
          return body_of(header);
        }
        blocks.reserve(made_[c] + 1);  // free() must find room without allocating
        ++made_[c];
      }
    }
    if (runtime == nullptr) return body_of(new (ordinary_memory(total)) block_header{total, false});
    const std::size_t block = smallest_block << c;
    try {
      return body_of(new (pin(*runtime, block)) block_header{block, true});
    } catch (...) {
      std::lock_guard guard{mutex_};
      --made_[c];
      throw;
    }
  }

  // Makes no runtime call: it may run in a stream's host task (a copy's host side let go).
  void free(void* body) noexcept {
    auto* header = reinterpret_cast<block_header*>(static_cast<std::byte*>(body) - header_bytes);
    if (!header->pinned) {
      ::operator delete(header, std::align_val_t{alignof(block_header)});
      return;
    }
    GAPM_POISON(body, header->bytes - header_bytes);
    std::lock_guard guard{mutex_};
    free_[class_of(header->bytes)].push_back(header);  // within capacity: cannot throw
    cached_ += header->bytes;
  }

  std::size_t cached() {
    std::lock_guard guard{mutex_};
    return cached_;
  }

 private:
  static int class_of(std::size_t bytes) noexcept {
    const std::size_t block = std::bit_ceil(std::max(bytes, smallest_block));
    return std::countr_zero(block) - std::countr_zero(smallest_block);
  }
  static void* body_of(block_header* header) noexcept {
    void* body = reinterpret_cast<std::byte*>(header) + header_bytes;
    GAPM_UNPOISON(body, header->bytes - header_bytes);
    return body;
  }
  static void* ordinary_memory(std::size_t bytes) {
    return ::operator new(bytes, std::align_val_t{alignof(block_header)});
  }

  // Pins a new block; when the system has no more, gives back the cached ones and tries again.
  void* pin(device_runtime& runtime, std::size_t bytes) {
    for (int attempt = 0;; ++attempt) {
      try {
        device_scope on{runtime, device_};
        return runtime.allocate_pinned(bytes);
      } catch (const std::exception&) {
        if (attempt > 0 || !unpin_cached()) throw std::bad_alloc();
      }
    }
  }
  void unpin(block_header* header) noexcept {
    try {
      device_scope on{*runtime_, device_};
      runtime_->free_pinned(header);
    } catch (...) {  // nothing to do about it: the memory stays pinned
    }
  }
  // Unpins every cached block (a thread that may wait for the device, never a host task).
  bool unpin_cached() {
    std::vector<void*> blocks;
    {
      std::lock_guard guard{mutex_};
      for (std::size_t c = 0; c < free_.size(); ++c) {
        blocks.insert(blocks.end(), free_[c].begin(), free_[c].end());
        made_[c] -= free_[c].size();
        free_[c].clear();
      }
      cached_ = 0;
    }
    for (void* block : blocks) {
      auto* header = static_cast<block_header*>(block);
      GAPM_UNPOISON(reinterpret_cast<std::byte*>(header) + header_bytes, header->bytes - header_bytes);
      unpin(header);
    }
    return !blocks.empty();
  }

  std::mutex mutex_;
  device_runtime* runtime_ = nullptr;  // null: nothing pinned yet (no device store)
  int device_ = 0;
  std::array<std::vector<void*>, block_classes> free_;  // cached blocks by size class, each list with
  std::array<std::size_t, block_classes> made_{};       // room for all the pinned blocks of its class
  std::size_t cached_ = 0;
};

// Never destroyed: blocks may be freed by static destructors after any function-local static.
pinned_pool& pool() {
  static auto* const instance = new pinned_pool;
  return *instance;
}

}  // namespace

void pin_host_memory_on(device_runtime& runtime, int device) { pool().pin_on(runtime, device); }

void* allocate_pinned_block(std::size_t bytes) { return pool().allocate(bytes); }

void free_pinned_block(void* ptr) noexcept {
  if (ptr != nullptr) pool().free(ptr);
}

std::size_t pinned_bytes_cached() noexcept { return pool().cached(); }

}  // namespace gapm::detail
