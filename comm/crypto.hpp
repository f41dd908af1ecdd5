// crypto: the few primitives the job token needs (comm/job_auth.hpp), on libsodium, which
// libzmq already links: SHA-256, HMAC-SHA-256, comparison in constant time, random bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace gapm::detail {

using sha256_digest = std::array<std::uint8_t, 32>;

/// SHA-256 of the concatenation of `parts`.
[[nodiscard]] sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts);

/// HMAC-SHA-256 of the concatenation of `parts` under `key` (any length; RFC 2104).
[[nodiscard]] sha256_digest hmac_sha256(std::span<const std::uint8_t> key,
                                        std::initializer_list<std::span<const std::uint8_t>> parts);

/// Compares two byte strings in time that depends only on their lengths (no early exit), so
/// that timing does not tell an attacker how much of a forged proof was right.
[[nodiscard]] bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

/// Cryptographically random bytes. Throws gapm::error when libsodium cannot start.
void random_bytes(std::span<std::uint8_t> out);

/// The bytes of a text, for hashing.
[[nodiscard]] inline std::span<const std::uint8_t> bytes_of(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace gapm::detail
