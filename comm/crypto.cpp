#include "comm/crypto.hpp"

#include <sodium.h>

#include <gapm/errors.hpp>

namespace gapm::detail {
namespace {

// sodium_init is thread-safe and idempotent; it fails only when the kernel has no entropy.
void ensure_sodium() {
  static const int started = sodium_init();
  if (started < 0) throw error("gapm: libsodium could not start (no entropy source?)");
}

}  // namespace

sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts) {
  ensure_sodium();
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  for (const auto part : parts) crypto_hash_sha256_update(&state, part.data(), part.size());
  sha256_digest digest;
  crypto_hash_sha256_final(&state, digest.data());
  return digest;
}

sha256_digest hmac_sha256(std::span<const std::uint8_t> key,
                          std::initializer_list<std::span<const std::uint8_t>> parts) {
  ensure_sodium();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  for (const auto part : parts) crypto_auth_hmacsha256_update(&state, part.data(), part.size());
  sha256_digest mac;
  crypto_auth_hmacsha256_final(&state, mac.data());
  return mac;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void random_bytes(std::span<std::uint8_t> out) {
  ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

}  // namespace gapm::detail
