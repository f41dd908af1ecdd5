// Wire fuzzing: random and mutated frames — headers with plausible kinds and lying sizes
// among them — against the decoder, and against every handler of a running node from a peer
// that proved the job token (the worst case: a stranger's frames never get past the gate).
// Every fuzzed frame is broken on purpose in at least one way that validation must catch, so
// the node must drop each one: no crash, no hang, no value changed, and it keeps serving.
//
// Bounded: each test runs TEST_FUZZ_SECONDS (default 3) seconds; the sanitizer run of CI
// (scripts/run-sanitizers.sh) sets 1.
#include <gapm/gapm.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "fake_peer.hpp"

namespace {

using gapm::key_type;
using gapm::testing::fake_peer;
using namespace gapm::detail;
using value = std::int64_t;
using clock_type = std::chrono::steady_clock;

constexpr key_type keys_in_table = 16;
constexpr std::size_t row_length = 2;

std::chrono::duration<double> fuzz_time() {
  const char* text = std::getenv("TEST_FUZZ_SECONDS");
  return std::chrono::duration<double>(text != nullptr ? std::atof(text) : 3.0);
}

template <class V>
std::vector<V> random_values(std::mt19937_64& rng, std::size_t n, V low, V high) {
  std::uniform_int_distribution<std::uint64_t> pick(0, static_cast<std::uint64_t>(high - low));
  std::vector<V> out(n);
  for (auto& v : out) v = static_cast<V>(low + static_cast<V>(pick(rng)));
  return out;
}

// A frame that is well-formed or nearly so for `kind`, from node 1 (the fake peer), with
// 1-4 keys of the table: the seed the mutations start from, so that they reach deep into
// the handlers rather than stopping at the first size check.
std::vector<std::byte> seed_frame(std::mt19937_64& rng, wire::kind kind) {
  const std::size_t n = 1 + rng() % 4;
  const auto keys = random_values<key_type>(rng, n, 0, keys_in_table - 1);
  const auto rows = random_values<value>(rng, n * row_length, -5, 5);
  const auto positions = random_values<std::uint32_t>(rng, n, 0, 3);
  const auto small = random_values<std::uint8_t>(rng, n, 0, 3);
  const auto versions = random_values<std::int64_t>(rng, n, 0, 3);
  const auto owners = random_values<std::int32_t>(rng, n, 0, 1);
  wire::header head{.kind = static_cast<std::uint8_t>(kind), .sender = 1, .origin = 1,
                    .worker = static_cast<std::int32_t>(rng() % 2), .request = rng() % 4, .count = n};
  switch (kind) {
    case wire::kind::heartbeat:
    case wire::kind::write_ack:
      return wire::encode(head);
    case wire::kind::barrier_enter:
    case wire::kind::barrier_release:
      head.request = 1 + rng() % 3;
      return wire::encode(head, std::vector<std::uint64_t>{rng() % 2});
    case wire::kind::pull_request:
      return wire::encode(head, keys, positions);
    case wire::kind::pull_response:
      return wire::encode(head, positions, rows);
    case wire::kind::push_request:
    case wire::kind::set_request:
      return wire::encode(head, keys, rows);
    case wire::kind::sync_request:
      return wire::encode(head, keys, small, versions, rows);
    case wire::kind::sync_response:
      return wire::encode(head, std::vector<std::uint64_t>{n, 1}, keys, small, versions, versions, rows);
    case wire::kind::directory_update:
      return wire::encode(head, keys, owners, versions);
    case wire::kind::step_request:
      return wire::encode(head, std::vector<std::uint64_t>{1}, keys, rows);
    case wire::kind::bye:
      break;
  }
  return wire::encode(head);
}

void set_header(std::vector<std::byte>& frame, const wire::header& head) { std::memcpy(frame.data(), &head, sizeof head); }
wire::header header_of(const std::vector<std::byte>& frame) {
  wire::header head;
  std::memcpy(&head, frame.data(), sizeof head);
  return head;
}

// Breaks `frame` in one of the ways validation must catch; returns what it did.
const char* break_frame(std::mt19937_64& rng, std::vector<std::byte>& frame) {
  wire::header head = header_of(frame);
  const std::size_t payload = frame.size() - sizeof head;
  switch (rng() % 8) {
    case 0:  // a first key far out of range (the kinds whose payload starts with keys)
      if (payload >= sizeof(key_type) && (head.kind == static_cast<std::uint8_t>(wire::kind::pull_request) ||
                                          head.kind == static_cast<std::uint8_t>(wire::kind::push_request) ||
                                          head.kind == static_cast<std::uint8_t>(wire::kind::set_request) ||
                                          head.kind == static_cast<std::uint8_t>(wire::kind::sync_request) ||
                                          head.kind == static_cast<std::uint8_t>(wire::kind::directory_update))) {
        const key_type far = keys_in_table + (rng() % 2 ? rng() : 0);
        std::memcpy(frame.data() + sizeof head, &far, sizeof far);
        return "key out of range";
      }
      [[fallthrough]];
    case 1:  // a count that does not match the payload (the sizes agree with each other)
      head.count += 1 + rng() % (rng() % 2 ? 3 : std::uint64_t{1} << 40);
      set_header(frame, head);
      return "lying count";
    case 2:  // a payload cut short by a few bytes, payload_bytes telling the truth
      if (payload > 0) {
        const std::size_t cut = 1 + rng() % std::min<std::size_t>(payload, 7);
        frame.resize(frame.size() - cut);
        head.payload_bytes -= cut;
        set_header(frame, head);
        return "short payload";
      }
      [[fallthrough]];
    case 3:  // payload_bytes lying about the frame's size
      head.payload_bytes += 1 + rng() % (rng() % 2 ? 16 : std::uint64_t{1} << 50);
      set_header(frame, head);
      return "lying payload_bytes";
    case 4:  // a kind that does not exist
      head.kind = rng() % 2 ? 0 : static_cast<std::uint8_t>(wire::last_kind + 1 + rng() % (255 - wire::last_kind));
      set_header(frame, head);
      return "unknown kind";
    case 5:  // another magic number or version
      if (rng() % 2) head.magic ^= 1u << (rng() % 32);
      else head.version = static_cast<std::uint16_t>(head.version + 1 + rng() % 100);
      set_header(frame, head);
      return "bad magic or version";
    case 6:  // a header naming another sender than the connection proved
      head.sender = rng() % 2 ? 0 : static_cast<std::int32_t>(2 + rng() % 1000);
      set_header(frame, head);
      return "wrong sender";
    default: {  // noise: random bytes, shorter than a header or longer
      frame.resize(rng() % 2 ? rng() % sizeof(wire::header) : sizeof(wire::header) + rng() % 256);
      for (auto& b : frame) b = static_cast<std::byte>(rng());
      return "random bytes";
    }
  }
}

// The kinds a fuzzed frame starts from: all but bye (a proven member's bye is a real leave).
wire::kind random_kind(std::mt19937_64& rng) {
  for (;;) {
    const auto kind = static_cast<wire::kind>(1 + rng() % wire::last_kind);
    if (kind != wire::kind::bye) return kind;
  }
}

TEST(WireFuzz, TheDecoderRefusesEveryBrokenFrameAndReadsNothingOutsideIt) {
  std::mt19937_64 rng{20261125};
  const auto until = clock_type::now() + fuzz_time();
  std::uint64_t frames = 0;
  while (clock_type::now() < until) {
    for (int i = 0; i < 1000; ++i, ++frames) {
      auto frame = seed_frame(rng, random_kind(rng));
      std::string error;
      ASSERT_TRUE(wire::decode(frame.data(), frame.size(), 2, error)) << error;  // the seeds decode
      const char* what = break_frame(rng, frame);
      // Broken in the payload's meaning (key, count, cut): the decoder checks sizes and
      // header fields only, the handlers the rest. Everything else it must refuse.
      auto decoded = wire::decode(frame.data(), frame.size(), 2, error);
      const std::string_view w{what};
      if (w == "key out of range" || w == "lying count" || w == "short payload" || w == "wrong sender") {
        if (decoded) {
          EXPECT_EQ(decoded->payload.size(), decoded->head.payload_bytes);
        }
        continue;
      }
      if (w == "random bytes" && decoded) {
        // Random bytes that happen to form a valid header (vanishingly rare) must be consistent.
        EXPECT_EQ(decoded->payload.size(), decoded->head.payload_bytes);
        continue;
      }
      EXPECT_FALSE(decoded) << what << " was accepted";
      EXPECT_FALSE(error.empty()) << what;
    }
  }
  EXPECT_GT(frames, 1000u);
}

// The real node (rank 0) and a fake peer (rank 1) that proved the token and sends the fuzz.
struct fuzzed_node {
  gapm::Options options;
  std::unique_ptr<gapm::Node<value>> node;
  std::unique_ptr<fake_peer> peer;

  explicit fuzzed_node(gapm::technique_mode techniques) {
    options.tables = {{keys_in_table, row_length}};
    options.techniques = techniques;
    options.sync_channels = 2;
    options.print_stats = false;
    options.rendezvous_timeout_s = 20;
    const int port = fake_peer::prepare_environment();
    auto real = std::async(std::launch::async, [&] { return std::make_unique<gapm::Node<value>>(options); });
    peer = std::make_unique<fake_peer>(port, options, "int64");
    node = real.get();
  }
};

void fuzz_a_running_node(gapm::technique_mode techniques) {
  fuzzed_node c{techniques};
  gapm::Worker<value> w(*c.node, 0);
  // The node's own keys (the even ones) get known values.
  std::vector<key_type> own;
  for (key_type k = 0; k < keys_in_table; k += 2) own.push_back(k);
  std::vector<value> rows(own.size() * row_length);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<value>(1000 + i);
  w.wait(w.set(own.data(), own.size(), rows.data()));

  std::mt19937_64 rng{7};
  const auto until = clock_type::now() + fuzz_time();
  std::uint64_t sent = 0;
  while (clock_type::now() < until) {
    for (int i = 0; i < 200; ++i, ++sent) {
      auto frame = seed_frame(rng, random_kind(rng));
      (void)break_frame(rng, frame);
      const auto result = c.peer->net().send_raw(0, frame);
      ASSERT_TRUE(result.ok()) << result.error << " (after " << sent << " frames)";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the node keep up
  }
  // Everything has been handled once a frame sent after the fuzz is: one connection keeps order.
  const std::vector<key_type> probe{2};
  const std::vector<std::uint32_t> positions{0};
  c.peer->send({.kind = static_cast<std::uint8_t>(wire::kind::pull_request), .origin = 1, .worker = 0,
                .request = 424242, .count = 1},
               probe, positions);
  std::optional<wire::message> answer;
  for (int i = 0; i < 50 && !(answer && answer->head.request == 424242); ++i)
    answer = c.peer->take(wire::kind::pull_response, std::chrono::milliseconds(200));
  ASSERT_TRUE(answer && answer->head.request == 424242) << "the node stopped serving after " << sent << " frames";
  ASSERT_EQ(answer->payload.size(), sizeof(std::uint32_t) + row_length * sizeof(value));
  value served[row_length];
  std::memcpy(served, answer->payload.data() + sizeof(std::uint32_t), sizeof served);
  EXPECT_EQ(served[0], 1000 + 2);  // key 2 is the second of `own`
  EXPECT_EQ(served[1], 1000 + 3);

  const auto stats = c.node->stats();
  EXPECT_GT(stats.malformed_messages, sent / 2) << "the broken frames were not refused as malformed";
  std::vector<value> now(rows.size());
  w.wait(w.pull(own.data(), own.size(), now.data()));  // throws if the cluster failed
  EXPECT_EQ(now, rows) << "a broken frame changed a value";
  EXPECT_NO_THROW(w.advance_clock());
}

TEST(WireFuzz, ANodeWithoutSyncDropsEveryBrokenFrameAndKeepsServing) { fuzz_a_running_node(gapm::technique_mode::none); }

TEST(WireFuzz, ANodeWithEveryTechniqueDropsEveryBrokenFrameAndKeepsServing) {
  fuzz_a_running_node(gapm::technique_mode::all);
}

}  // namespace
