// job_auth: only this job may talk to a node. Every node holds the job's secret (from
// GAPM_JOB_TOKEN, or made by rank 0 and handed out at the rendezvous); every connection a
// node opens to a peer starts with a `hello` that proves it: a MAC (HMAC-SHA-256) under the
// secret of (this run's session id, the socket's purpose, sender rank, receiver rank, a fresh
// nonce). The receiving side keeps which connection proved which rank and drops every frame
// of any other connection before it is decoded, counting it and logging once per source
// address. One rank is proven by one connection per socket: nobody else can claim it later,
// even with a copy of a real hello. The token itself never travels (except in the hand-out
// mode, in the rendezvous reply), is never logged, and proofs are compared in constant time.
//
// What it is not: encryption. Frames travel in clear; anybody who can read and inject traffic
// on the network path between two nodes (on-path) can see rows and forge frames of a proven
// connection. See README, "Security model".
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gapm::detail {

/// The environment variable that carries the job's token.
inline constexpr const char* job_token_variable = "GAPM_JOB_TOKEN";
/// The shortest token accepted (characters): shorter ones are guessable.
inline constexpr std::size_t min_job_token_length = 16;

[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);
/// The bytes of a hex string of exactly `size` bytes, or nullopt.
[[nodiscard]] std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text, std::size_t size);

/// The job's shared secret (32 bytes). It has no operator<< on purpose: never print it.
class job_secret {
 public:
  /// From GAPM_JOB_TOKEN; nullopt when it is unset or empty. Throws logic_error for a token
  /// shorter than min_job_token_length (the message does not repeat the token).
  [[nodiscard]] static std::optional<job_secret> from_env();
  /// The secret of a token text: SHA-256 of a domain tag and the text.
  [[nodiscard]] static job_secret from_token(std::string_view token);
  /// A fresh random secret (rank 0, when the environment gives none).
  [[nodiscard]] static job_secret generate();
  /// Hex, for the rendezvous hand-out only; and back.
  [[nodiscard]] std::string to_hex() const { return detail::to_hex(key_); }
  [[nodiscard]] static std::optional<job_secret> from_hex(std::string_view text);

  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return key_; }

 private:
  std::array<std::uint8_t, 32> key_{};
};

/// This run of the job: made by rank 0 at the rendezvous, so that proofs of an earlier run
/// with the same token are worth nothing in this one. Not secret.
using session_id = std::array<std::uint8_t, 16>;

/// What a node proves its connections with.
struct job_credentials {
  job_secret secret;
  session_id session{};
  int rank = 0;
  int world_size = 1;
};

/// Which socket a connection goes to (a proof for one is no proof for the other).
enum class connection_purpose : std::uint8_t { data = 1, beat = 2 };

/// The first frame of every connection: 64 bytes (magic "GAPH", version, purpose, sender,
/// receiver, nonce, MAC). Never mistaken for a wire frame (another magic number).
inline constexpr std::size_t hello_bytes = 64;
[[nodiscard]] std::vector<std::byte> make_hello(const job_credentials& self, connection_purpose purpose, int receiver);
/// The rank that `frame` proves to `self` for `purpose`, or nullopt with `why`.
[[nodiscard]] std::optional<int> verify_hello(const job_credentials& self, connection_purpose purpose,
                                              std::span<const std::byte> frame, std::string& why);

/// Frames refused because their connection did not prove it belongs to this job: counted,
/// and logged once per source address (at most max_logged sources; then one last line).
/// Thread-safe: the data socket, the beat socket and the rendezvous share one.
class rejection_log {
 public:
  static constexpr std::size_t max_logged = 64;
  explicit rejection_log(int rank) : rank_{rank} {}
  /// Counts one refused frame from `source` (an address; computed only when it is logged).
  void reject(const std::function<std::string()>& source, std::string_view what, std::string_view why);
  [[nodiscard]] std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  int rank_;
  std::atomic<std::uint64_t> count_{0};
  std::mutex mutex_;
  std::set<std::string> logged_;
  bool saturated_ = false;
};

/// The receive side of one socket: which connection proved which rank. Used by one thread.
class connection_gate {
 public:
  connection_gate(connection_purpose purpose, rejection_log& log) : purpose_{purpose}, log_{log} {}
  /// Sets the credentials; until then every frame is refused.
  void authenticate(const job_credentials& credentials);

  struct verdict {
    enum { deliver, consumed, refused } what = refused;
    int sender = -1;  ///< deliver: the rank this connection proved
  };
  /// Decides about one frame of connection `connection` (the socket's routing id): a frame of
  /// a proven connection is delivered with its rank; a valid hello of a new connection for a
  /// rank nobody proved yet is consumed (and the connection proven); all else is refused
  /// (counted and logged). `source` gives the peer's address for the log.
  verdict admit(std::string_view connection, std::span<const std::byte> frame,
                const std::function<std::string()>& source);

 private:
  connection_purpose purpose_;
  rejection_log& log_;
  std::optional<job_credentials> credentials_;
  std::map<std::string, int, std::less<>> proven_;  // connection -> rank
  std::vector<bool> claimed_;                       // by rank
};

}  // namespace gapm::detail
