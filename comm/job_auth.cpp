#include "comm/job_auth.hpp"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include <gapm/errors.hpp>

#include "comm/crypto.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

constexpr std::uint32_t hello_magic = 0x48504147;  // "GAPH" little-endian
constexpr std::uint16_t hello_version = 1;
constexpr std::string_view hello_tag = "gapm connection hello v1";

// The layout of a hello; the MAC covers the session and every byte before `mac`.
struct hello_frame {
  std::uint32_t magic = hello_magic;
  std::uint16_t version = hello_version;
  std::uint8_t purpose = 0;
  std::uint8_t reserved = 0;
  std::int32_t sender = -1;
  std::int32_t receiver = -1;
  std::array<std::uint8_t, 16> nonce{};
  std::array<std::uint8_t, 32> mac{};
};
static_assert(sizeof(hello_frame) == hello_bytes && std::is_trivially_copyable_v<hello_frame>);

sha256_digest hello_mac(const job_credentials& self, const hello_frame& hello) {
  const auto* raw = reinterpret_cast<const std::uint8_t*>(&hello);
  return hmac_sha256(self.secret.bytes(),
                     {bytes_of(hello_tag), self.session, std::span(raw, offsetof(hello_frame, mac))});
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  return text;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text, std::size_t size) {
  if (text.size() != size * 2) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    const int high = digit(text[2 * i]), low = digit(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return bytes;
}

std::optional<job_secret> job_secret::from_env() {
  const char* text = std::getenv(job_token_variable);
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::string_view token{text};
  GAPM_EXPECTS(token.size() >= min_job_token_length, job_token_variable, " is ", token.size(),
               " characters long; use at least ", min_job_token_length,
               " random characters (e.g. GAPM_JOB_TOKEN=$(head -c 24 /dev/urandom | base64))");
  return from_token(token);
}

job_secret job_secret::from_token(std::string_view token) {
  job_secret secret;
  secret.key_ = sha256({bytes_of(std::string_view("gapm job token v1", 18)), bytes_of(token)});  // tag with its zero
  return secret;
}

job_secret job_secret::generate() {
  job_secret secret;
  random_bytes(secret.key_);
  return secret;
}

std::optional<job_secret> job_secret::from_hex(std::string_view text) {
  auto bytes = detail::from_hex(text, 32);
  if (!bytes) return std::nullopt;
  job_secret secret;
  std::memcpy(secret.key_.data(), bytes->data(), 32);
  return secret;
}

std::vector<std::byte> make_hello(const job_credentials& self, connection_purpose purpose, int receiver) {
  hello_frame hello;
  hello.purpose = static_cast<std::uint8_t>(purpose);
  hello.sender = self.rank;
  hello.receiver = receiver;
  random_bytes(hello.nonce);
  hello.mac = hello_mac(self, hello);
  std::vector<std::byte> frame(sizeof hello);
  std::memcpy(frame.data(), &hello, sizeof hello);
  return frame;
}

std::optional<int> verify_hello(const job_credentials& self, connection_purpose purpose,
                                std::span<const std::byte> frame, std::string& why) {
  if (frame.size() != sizeof(hello_frame)) {
    why = "its first frame is no hello (no proof that it belongs to this job)";
    return std::nullopt;
  }
  hello_frame hello;
  std::memcpy(&hello, frame.data(), sizeof hello);
  if (hello.magic != hello_magic || hello.version != hello_version) {
    why = "its first frame is no hello (no proof that it belongs to this job)";
  } else if (hello.purpose != static_cast<std::uint8_t>(purpose)) {
    why = "a hello meant for another socket";
  } else if (const auto mac = hello_mac(self, hello); !constant_time_equal(mac, hello.mac)) {
    why = "a hello whose proof is wrong (another job, another run, or another GAPM_JOB_TOKEN)";
  } else if (hello.receiver != self.rank) {
    why = concat("a hello meant for node ", hello.receiver);
  } else if (hello.sender < 0 || hello.sender >= self.world_size || hello.sender == self.rank) {
    why = concat("a hello from rank ", hello.sender, ", which is no peer of this node");
  } else {
    return hello.sender;
  }
  return std::nullopt;
}

void rejection_log::reject(const std::function<std::string()>& source, std::string_view what, std::string_view why) {
  count_.fetch_add(1, std::memory_order_relaxed);
  std::string address = source ? source() : std::string();
  if (address.empty()) address = "an unknown address";
  std::lock_guard guard{mutex_};
  if (logged_.contains(address) || saturated_) return;
  if (logged_.size() >= max_logged) {
    saturated_ = true;
    std::cerr << "gapm: node " << rank_ << ": refusing frames from more than " << max_logged
              << " sources; no more of them are logged (Stats::rejected_frames counts them all)\n";
    return;
  }
  logged_.insert(address);
  std::cerr << "gapm: node " << rank_ << ": refused " << what << " from " << address << ": " << why
            << " (logged once per source; Stats::rejected_frames counts them)\n";
}

void connection_gate::authenticate(const job_credentials& credentials) {
  credentials_ = credentials;
  claimed_.assign(static_cast<std::size_t>(credentials.world_size), false);
}

connection_gate::verdict connection_gate::admit(std::string_view connection, std::span<const std::byte> frame,
                                                const std::function<std::string()>& source) {
  const char* socket = purpose_ == connection_purpose::data ? "a frame" : "a heartbeat frame";
  if (auto known = proven_.find(connection); known != proven_.end()) return {verdict::deliver, known->second};
  if (!credentials_) {
    log_.reject(source, socket, "it arrived before this node joined its cluster");
    return {};
  }
  std::string why;
  const auto sender = verify_hello(*credentials_, purpose_, frame, why);
  if (!sender) {
    log_.reject(source, socket, why);
    return {};
  }
  if (claimed_[static_cast<std::size_t>(*sender)]) {
    log_.reject(source, socket, concat("a hello for node ", *sender, ", which another connection has proven already"));
    return {};
  }
  claimed_[static_cast<std::size_t>(*sender)] = true;
  proven_.emplace(std::string(connection), *sender);
  return {verdict::consumed, *sender};
}

}  // namespace gapm::detail
