// The benchmark-only network model (comm/shaped_transport.hpp): no frame is released before
// its modelled latency, a peer's link passes no more than its bandwidth, links to different
// peers are independent, frames to a peer keep their order under concurrent senders, none is
// lost, and closing with frames in flight hands them over at once instead of hanging. This
// machine is shared and noisy: the tests assert lower bounds (never earlier than modelled)
// and only generous upper bounds.
#include "comm/shaped_transport.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include <gapm/errors.hpp>
#include <gapm/options.hpp>

#include <gtest/gtest.h>

#include "comm/zmq_transport.hpp"

namespace {

using namespace gapm::detail;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// An inner transport that records what the model releases to it, and when.
class recording_transport final : public transport {
 public:
  struct delivery {
    int peer;
    std::vector<std::byte> bytes;
    steady::time_point at;
  };

  [[nodiscard]] std::string_view name() const noexcept override { return "recording"; }
  [[nodiscard]] std::string endpoint() const override { return "recording://"; }
  void authenticate(const job_credentials&) override {}
  [[nodiscard]] comm_result connect(int, const std::string&) override { return comm_result::success(); }
  [[nodiscard]] comm_result send(int peer, std::vector<std::byte> frame) override {
    const auto now = steady::now();
    std::lock_guard guard{mutex_};
    deliveries_.push_back({peer, std::move(frame), now});
    changed_.notify_all();
    if (peer == failing_peer) return comm_result::failure("peer " + std::to_string(peer) + " is unreachable");
    return comm_result::success();
  }
  [[nodiscard]] std::optional<received_frame> receive(std::chrono::milliseconds) override { return std::nullopt; }
  void interrupt_receive() noexcept override {}
  void close() noexcept override { closed = true; }

  /// Waits until `count` frames were released (or `timeout` passed); returns them.
  std::vector<delivery> wait_for(std::size_t count, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock{mutex_};
    changed_.wait_for(lock, timeout, [&] { return deliveries_.size() >= count; });
    return deliveries_;
  }
  std::vector<delivery> deliveries() {
    std::lock_guard guard{mutex_};
    return deliveries_;
  }

  int failing_peer = -1;
  std::atomic<bool> closed{false};

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<delivery> deliveries_;
};

// A frame of `size` bytes (at least 16) that carries (source, sequence number).
std::vector<std::byte> frame_of(std::uint64_t source, std::uint64_t sequence, std::size_t size = 16) {
  std::vector<std::byte> bytes(std::max<std::size_t>(size, 16));
  std::memcpy(bytes.data(), &source, 8);
  std::memcpy(bytes.data() + 8, &sequence, 8);
  return bytes;
}
std::pair<std::uint64_t, std::uint64_t> id_of(const std::vector<std::byte>& bytes) {
  std::uint64_t source = 0, sequence = 0;
  std::memcpy(&source, bytes.data(), 8);
  std::memcpy(&sequence, bytes.data() + 8, 8);
  return {source, sequence};
}

network_model model(std::chrono::nanoseconds latency, double gbps = 0) {
  return {latency, gbps * 1e9 / 8};
}

struct shaped {
  recording_transport* inner;
  std::unique_ptr<shaped_transport> transport;
};
shaped make_shaped(network_model m, int world_size = 3) {
  auto inner = std::make_unique<recording_transport>();
  auto* raw = inner.get();
  return {raw, std::make_unique<shaped_transport>(std::move(inner), world_size, m)};
}

TEST(NetworkModel, FollowsTheOptions) {
  gapm::Options options;
  EXPECT_FALSE(network_model::from_options(options).enabled());
  options.set("net.latency_us", "25");
  options.set("net.bandwidth_gbps", "10");
  options.tables = {{10, 1}};
  options.validate();
  const auto m = network_model::from_options(options);
  EXPECT_TRUE(m.enabled());
  EXPECT_EQ(m.latency, 25us);
  EXPECT_DOUBLE_EQ(m.bytes_per_second, 1.25e9);
  EXPECT_EQ(m.transmission_time(1250), 1us);  // 10,000 bits at 10 Gbit/s
  EXPECT_EQ(model(0ns).transmission_time(1 << 20), 0ns);  // unlimited
  EXPECT_EQ(options.get("net.latency_us"), "25");
  EXPECT_NE(m.describe().find("10 Gbit/s"), std::string::npos) << m.describe();
}

TEST(NetworkModel, RejectsOutOfRangeOptionsNamingThem) {
  auto rejects = [](const char* name, const char* value, const char* words) {
    gapm::Options options;
    options.tables = {{10, 1}};
    options.set(name, value);
    try {
      options.validate();
      ADD_FAILURE() << name << "=" << value << " was accepted";
    } catch (const gapm::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  rejects("net.latency_us", "-1", "[0, 1000000]");
  rejects("net.latency_us", "2e6", "[0, 1000000]");
  rejects("net.latency_us", "inf", "[0, 1000000]");
  rejects("net.bandwidth_gbps", "-0.5", ">= 0");
  rejects("net.bandwidth_gbps", "inf", "finite");
  gapm::Options options;
  EXPECT_THROW(options.set("net.latency_us", "fast"), gapm::logic_error);
}

TEST(ShapedTransport, NoFrameIsReleasedBeforeItsLatencyAndNoneIsLost) {
  constexpr auto latency = 3ms;
  auto s = make_shaped(model(latency));
  std::map<std::uint64_t, steady::time_point> sent;
  constexpr int frames = 60;
  for (int i = 0; i < frames; ++i) {
    sent[static_cast<std::uint64_t>(i)] = steady::now();
    ASSERT_TRUE(s.transport->send(1 + i % 2, frame_of(0, static_cast<std::uint64_t>(i))).ok());
    if (i % 10 == 0) std::this_thread::sleep_for(1ms);
  }
  const auto got = s.inner->wait_for(frames);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(frames));
  std::vector<bool> seen(frames, false);
  for (const auto& d : got) {
    const auto [source, sequence] = id_of(d.bytes);
    ASSERT_LT(sequence, static_cast<std::uint64_t>(frames));
    EXPECT_FALSE(seen[sequence]) << "frame " << sequence << " released twice";
    seen[sequence] = true;
    EXPECT_EQ(d.peer, 1 + static_cast<int>(sequence % 2));
    EXPECT_GE(d.at - sent[sequence], latency) << "frame " << sequence << " was released early";
    EXPECT_LT(d.at - sent[sequence], 2s) << "frame " << sequence << " was held far too long";
  }
  const auto stats = s.transport->stats();
  EXPECT_EQ(stats.frames, static_cast<std::uint64_t>(frames));
  EXPECT_NEAR(stats.modelled_delay_s / frames, 0.003, 1e-6);  // no bandwidth limit: latency only
  EXPECT_GE(stats.late_s, 0.0);
}

TEST(ShapedTransport, ALinkPassesNoMoreThanItsBandwidthAndOtherPeersAreNotHeldUp) {
  // 40 frames of 25,000 bytes to peer 1 at 0.004 Gbit/s (500 kB/s): the link is busy 2 s.
  constexpr std::size_t frame_bytes = 25'000;
  constexpr int frames = 40;
  auto s = make_shaped(model(0ns, 0.004));
  const auto start = steady::now();
  for (int i = 0; i < frames; ++i)
    ASSERT_TRUE(s.transport->send(1, frame_of(1, static_cast<std::uint64_t>(i), frame_bytes)).ok());
  ASSERT_TRUE(s.transport->send(2, frame_of(2, 0)).ok());  // another link: not behind peer 1's queue
  const auto got = s.inner->wait_for(frames + 1, 30s);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(frames + 1));
  steady::time_point to_peer_2{}, last_to_peer_1{};
  int to_peer_1 = 0;
  for (const auto& d : got) {
    if (d.peer == 2) {
      to_peer_2 = d.at;
      continue;
    }
    const auto sequence = id_of(d.bytes).second;
    EXPECT_EQ(sequence, static_cast<std::uint64_t>(to_peer_1)) << "out of order";
    ++to_peer_1;
    // Frame k has left no earlier than (k + 1) * 25,000 bytes / 500 kB/s = (k + 1) * 50 ms.
    EXPECT_GE(d.at - start, std::chrono::milliseconds{50 * static_cast<int>(sequence + 1)}) << "frame " << sequence;
    last_to_peer_1 = d.at;
  }
  EXPECT_EQ(to_peer_1, frames);
  EXPECT_LT(last_to_peer_1 - start, 10s);
  EXPECT_LT(to_peer_2 - start, 1s) << "a frame to peer 2 waited behind peer 1's link";
  EXPECT_LT(to_peer_2, last_to_peer_1);
}

TEST(ShapedTransport, FramesToAPeerKeepTheirOrderUnderConcurrentSenders) {
  auto s = make_shaped(model(50us, 1.0), 4);
  constexpr int threads = 4, per_thread = 1500;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        ASSERT_TRUE(s.transport->send(1 + (i % 3), frame_of(static_cast<std::uint64_t>(t), static_cast<std::uint64_t>(i),
                                                            16 + static_cast<std::size_t>(i % 7) * 100))
                        .ok());
    });
  for (auto& t : senders) t.join();
  const auto got = s.inner->wait_for(threads * per_thread, 60s);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(threads * per_thread));
  // Per (sender thread, peer): sequence numbers arrive increasing, none missing.
  std::map<std::pair<std::uint64_t, int>, std::int64_t> last;
  std::map<std::pair<std::uint64_t, int>, int> count;
  for (const auto& d : got) {
    const auto [source, sequence] = id_of(d.bytes);
    const auto key = std::make_pair(source, d.peer);
    auto it = last.find(key);
    if (it != last.end()) {
      EXPECT_GT(static_cast<std::int64_t>(sequence), it->second) << "reordered to peer " << d.peer;
    }
    last[key] = static_cast<std::int64_t>(sequence);
    ++count[key];
  }
  for (const auto& [key, n] : count) EXPECT_EQ(n, per_thread / 3) << "thread " << key.first << " peer " << key.second;
}

TEST(ShapedTransport, CloseWithFramesInFlightHandsThemOverAtOnceAndDoesNotHang) {
  auto s = make_shaped(model(std::chrono::seconds{30}));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.transport->send(1 + i % 2, frame_of(0, static_cast<std::uint64_t>(i))).ok());
  EXPECT_TRUE(s.inner->deliveries().empty());
  const auto start = steady::now();
  s.transport->close();
  EXPECT_LT(steady::now() - start, 5s);
  EXPECT_EQ(s.inner->deliveries().size(), 100u);  // a goodbye in flight is not lost
  EXPECT_TRUE(s.inner->closed);
  EXPECT_EQ(s.transport->stats().flushed_at_close, 100u);
  EXPECT_FALSE(s.transport->send(1, frame_of(0, 100)).ok());
  s.transport->close();  // idempotent
}

TEST(ShapedTransport, DestroyingItWithFramesInFlightDoesNotHang) {
  const auto start = steady::now();
  {
    auto s = make_shaped(model(std::chrono::seconds{30}, 0.001));
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(s.transport->send(1, frame_of(0, static_cast<std::uint64_t>(i), 4096)).ok());
  }
  EXPECT_LT(steady::now() - start, 5s);
}

TEST(ShapedTransport, AFailedReleaseBreaksThatLinkOnly) {
  auto s = make_shaped(model(100us));
  s.inner->failing_peer = 1;
  ASSERT_TRUE(s.transport->send(1, frame_of(0, 0)).ok());  // fails later, on release
  s.inner->wait_for(1);
  comm_result result = comm_result::success();
  for (int i = 0; i < 200 && result.ok(); ++i) {  // the error is recorded right after the release
    std::this_thread::sleep_for(5ms);
    result = s.transport->send(1, frame_of(0, 1));
  }
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error.find("unreachable"), std::string::npos) << result.error;
  EXPECT_TRUE(s.transport->send(2, frame_of(0, 2)).ok());
}

TEST(ShapedTransport, DelaysFramesOverTheRealTcpTransport) {
  zmq::context_t context{1};
  rejection_log rejections{0};
  auto sender = std::make_unique<zmq_transport>(context, 0, 2, "127.0.0.1", rejections);
  zmq_transport receiver(context, 1, 2, "127.0.0.1", rejections);
  const job_secret secret = job_secret::generate();
  shaped_transport shaped(std::move(sender), 2, model(20ms, 10));
  shaped.authenticate({secret, {}, 0, 2});
  receiver.authenticate({secret, {}, 1, 2});
  ASSERT_TRUE(shaped.connect(1, receiver.endpoint()).ok());
  for (std::uint64_t i = 0; i < 5; ++i) {
    const auto start = steady::now();
    ASSERT_TRUE(shaped.send(1, frame_of(0, i)).ok());
    auto frame = receiver.receive(10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_GE(steady::now() - start, 20ms);
    EXPECT_EQ(frame->sender, 0);
    EXPECT_EQ(id_of(frame->bytes).second, i);
  }
  shaped.close();
  receiver.close();
  EXPECT_EQ(rejections.count(), 0u);
}

// The receive loop sleeps in receive() until a frame comes or its handler has work; another
// thread ends the wait with interrupt_receive() (parked requests, shutdown). An interrupt that
// comes first ends the next wait; it is not sticky, and frames still arrive afterwards.
TEST(TcpTransport, AnInterruptEndsAWaitingReceiveAndFramesStillArrive) {
  zmq::context_t context{1};
  rejection_log rejections{0};
  zmq_transport sender(context, 0, 2, "127.0.0.1", rejections);
  zmq_transport receiver(context, 1, 2, "127.0.0.1", rejections);
  const job_secret secret = job_secret::generate();
  sender.authenticate({secret, {}, 0, 2});
  receiver.authenticate({secret, {}, 1, 2});
  ASSERT_TRUE(sender.connect(1, receiver.endpoint()).ok());

  std::thread interrupter([&] {
    std::this_thread::sleep_for(50ms);
    receiver.interrupt_receive();
  });
  const auto start = steady::now();
  EXPECT_FALSE(receiver.receive(60s).has_value());
  EXPECT_LT(steady::now() - start, 30s);  // not the whole minute
  interrupter.join();

  receiver.interrupt_receive();  // before the wait: the next receive returns at once
  EXPECT_FALSE(receiver.receive(60s).has_value());

  ASSERT_TRUE(sender.send(1, frame_of(0, 7)).ok());
  auto frame = receiver.receive(60s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(id_of(frame->bytes).second, 7u);
  sender.close();
  receiver.close();
}

}  // namespace
