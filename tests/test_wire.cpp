// The wire format: frames round-trip, and every kind of malformed frame is refused with a
// reason instead of being used.
#include "comm/wire.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace gapm::detail;

wire::header pull_header() {
  return {.kind = static_cast<std::uint8_t>(wire::kind::pull_request), .sender = 1, .origin = 1, .worker = 0,
          .request = 42, .count = 2};
}

TEST(Wire, EncodeDecodeRoundTrip) {
  std::vector<std::uint64_t> keys{7, 9};
  std::vector<std::uint32_t> positions{0, 1};
  auto frame = wire::encode(pull_header(), keys, positions);
  ASSERT_EQ(frame.size(), 48u + 16u + 8u);
  std::string error;
  auto message = wire::decode(frame.data(), frame.size(), 3, error);
  ASSERT_TRUE(message) << error;
  EXPECT_EQ(message->kind(), wire::kind::pull_request);
  EXPECT_EQ(message->head.request, 42u);
  wire::payload_reader in(message->payload);
  EXPECT_EQ(in.read<std::uint64_t>(2), keys);
  EXPECT_EQ(in.read<std::uint32_t>(2), positions);
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_FALSE(in.read<std::uint64_t>(1));  // never past the end
}

// A received frame of rows is not copied again on its way to the handlers: the message keeps
// it, and so does a message a node delivers to itself.
TEST(Wire, AMessageKeepsTheFrameItCameIn) {
  std::vector<std::uint64_t> keys(1000, 5);
  auto frame = wire::encode(pull_header(), keys);
  const std::byte* payload_at = frame.data() + sizeof(wire::header);
  std::string error;
  auto message = wire::decode(std::move(frame), 3, error);
  ASSERT_TRUE(message) << error;
  EXPECT_EQ(message->payload.data(), payload_at);
  EXPECT_EQ(message->payload.size(), keys.size() * sizeof(std::uint64_t));

  auto local = wire::encode(pull_header(), keys);
  const std::byte* local_at = local.data() + sizeof(wire::header);
  EXPECT_EQ(wire::local_message(std::move(local)).payload.data(), local_at);
}

TEST(Wire, MalformedFramesAreRefusedWithAReason) {
  std::vector<std::uint64_t> keys{7, 9};
  auto good = wire::encode(pull_header(), keys);
  std::string error;
  auto refuse = [&](std::vector<std::byte> frame, const std::string& needle) {
    error.clear();
    EXPECT_FALSE(wire::decode(frame.data(), frame.size(), 3, error));
    EXPECT_NE(error.find(needle), std::string::npos) << error;
  };
  refuse(std::vector<std::byte>(good.begin(), good.begin() + 20), "shorter than the 48-byte header");
  auto bad_magic = good;
  bad_magic[0] = std::byte{0};
  refuse(bad_magic, "bad magic");
  auto header = pull_header();
  header.version = 99;
  refuse(wire::encode(header, keys), "wire version 99");
  header = pull_header();
  header.kind = 200;
  refuse(wire::encode(header, keys), "unknown message kind 200");
  header = pull_header();
  header.sender = 3;
  refuse(wire::encode(header, keys), "sender rank 3 is outside [0, 3)");
  refuse(std::vector<std::byte>(good.begin(), good.end() - 1), "announces 16 payload bytes, frame has 15");
}

TEST(Wire, ANoteOfRowsOnTheDataPlaneTravelsAtTheEndAndLeavesWithItsFlag) {
  std::vector<std::uint64_t> keys{7, 9};
  std::vector<std::uint32_t> positions{0, 1};
  auto frame = wire::encode(pull_header(), keys, positions);
  wire::add_plane_rows_note(frame, {.transfer = 0, .bytes = 512});
  wire::set_plane_transfer(frame, 17);
  std::string error;
  auto message = wire::decode(frame.data(), frame.size(), 3, error);
  ASSERT_TRUE(message) << error;
  EXPECT_TRUE(message->head.flags & wire::rows_on_plane);
  const auto note = wire::take_plane_rows_note(*message);
  ASSERT_TRUE(note);
  EXPECT_EQ(note->transfer, 17u);
  EXPECT_EQ(note->bytes, 512u);
  // What is left is the message as encoded, without the flag: a message made from it (forwarded,
  // parked) carries its rows in its own frame.
  EXPECT_FALSE(message->head.flags & wire::rows_on_plane);
  EXPECT_EQ(message->payload.size(), 16u + 8u);
  EXPECT_FALSE(wire::take_plane_rows_note(*message));

  wire::header flagged = pull_header();
  flagged.flags = wire::rows_on_plane;
  auto short_frame = wire::encode(flagged, positions);  // 8 bytes: too short for a note
  auto broken = wire::decode(short_frame.data(), short_frame.size(), 3, error);
  ASSERT_TRUE(broken) << error;
  EXPECT_THROW((void)wire::take_plane_rows_note(*broken), wire::malformed_message);
}

}  // namespace
