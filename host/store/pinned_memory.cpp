#include "host/store/pinned_memory.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
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

// Pinned blocks come in power-of-two sizes from 4 KiB to 1 GiB and are kept for reuse, up to
// cache_limit bytes in all; larger ones are pinned and unpinned each time.
constexpr std::size_t smallest_block = std::size_t{4} << 10;
constexpr int block_classes = 19;
constexpr std::size_t largest_block = smallest_block << (block_classes - 1);
constexpr std::size_t cache_limit = std::size_t{256} << 20;

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
    const std::size_t total = bytes + header_bytes;
    device_runtime* runtime = nullptr;
    {
      std::lock_guard guard{mutex_};
      runtime = runtime_;
      if (runtime != nullptr && total <= largest_block) {
        const int c = class_of(total);
        if (!free_[c].empty()) {
          auto* header = static_cast<block_header*>(free_[c].back());
          free_[c].pop_back();
          cached_ -= header->bytes;
          return body_of(header);
        }
      }
    }
    if (runtime == nullptr) return body_of(new (ordinary_memory(total)) block_header{total, false});
    const std::size_t block = total <= largest_block ? smallest_block << class_of(total) : total;
    return body_of(new (pin(*runtime, block)) block_header{block, true});
  }

  void free(void* body) noexcept {
    auto* header = reinterpret_cast<block_header*>(static_cast<std::byte*>(body) - header_bytes);
    if (!header->pinned) {
      ::operator delete(header, std::align_val_t{alignof(block_header)});
      return;
    }
    {
      std::lock_guard guard{mutex_};
      if (header->bytes <= largest_block && cached_ + header->bytes <= cache_limit) {
        try {
          GAPM_POISON(body, header->bytes - header_bytes);
          free_[class_of(header->bytes)].push_back(header);
          cached_ += header->bytes;
          return;
        } catch (...) {  // no room in the list: unpin it instead
          GAPM_UNPOISON(body, header->bytes - header_bytes);
        }
      }
    }
    unpin(header);
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
    } catch (...) {  // the runtime is gone (the process ends): the system takes the memory back
    }
  }
  bool unpin_cached() {
    std::vector<void*> blocks;
    {
      std::lock_guard guard{mutex_};
      for (auto& list : free_) {
        blocks.insert(blocks.end(), list.begin(), list.end());
        list.clear();
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
  std::array<std::vector<void*>, block_classes> free_;
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
