// plane_conformance: one node of the row plane's conformance run (tests/test_row_plane.cpp
// starts one process per node). Every node sends to every other node at once, from several
// threads, transfers of random sizes (none, a few bytes, up to 1 MiB) whose bytes say who sent
// them; a control socket per node carries each transfer's announcement, as the cluster's TCP
// plane does. Every node checks that every transfer arrived whole, in its pipe's order, and
// that none is missing or extra; then all say goodbye and close their planes.
//
// Environment: RANK, WORLD_SIZE, LOCAL_RANK (from tests/process_cluster.hpp), GAPM_TEST_PLANE_ID
// (hex: the links' id, made by the test), GAPM_TEST_PLANE_TRANSFERS (per thread and peer).
// Exit code 0: all checks passed; 1: a check failed (printed); 2: an error.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include <gapm/errors.hpp>

#include "comm/job_auth.hpp"
#include "cuda/device_platform.hpp"
#include "cuda/row_plane.hpp"

namespace {

using namespace gapm::detail;

constexpr int sender_threads = 3;

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::atoi(text) : fallback;
}

// A transfer's size and bytes follow from who sent it: (sender, thread, sequence).
std::size_t size_of(int sender, int thread, int sequence) {
  std::mt19937_64 draw(static_cast<std::uint64_t>(sender) * 1'000'003 + static_cast<std::uint64_t>(thread) * 7919 +
                       static_cast<std::uint64_t>(sequence));
  switch (draw() % 4) {
    case 0: return 0;
    case 1: return draw() % 64 + 1;
    case 2: return draw() % 65536 + 1;
    default: return draw() % (std::size_t{1} << 20) + 1;
  }
}
std::byte byte_of(int sender, int thread, int sequence, std::size_t at) {
  return static_cast<std::byte>((static_cast<std::size_t>(sender) * 131 + static_cast<std::size_t>(thread) * 31 +
                                 static_cast<std::size_t>(sequence) * 7 + at * 13 + (at >> 8)) & 0xff);
}

struct announcement {  // the control message of one transfer (or, with transfer = ~0, goodbye)
  std::int32_t sender, thread, sequence;
  std::uint64_t transfer, bytes;
};
constexpr std::uint64_t goodbye = ~std::uint64_t{0};

std::string control_endpoint(const std::string& id, int rank) {
  return "ipc:///tmp/gapm-plane-test-" + id.substr(0, 16) + "-" + std::to_string(rank);
}

int run() {
  const int rank = env_int("RANK", 0), world = env_int("WORLD_SIZE", 1), local_rank = env_int("LOCAL_RANK", rank);
  const int transfers = env_int("GAPM_TEST_PLANE_TRANSFERS", 40);
  const char* id_hex = std::getenv("GAPM_TEST_PLANE_ID");
  const device_platform* platform = active_device_platform();
  if (platform == nullptr || platform->links == nullptr || id_hex == nullptr) {
    std::cerr << "plane_conformance: no device platform with pipe links, or no GAPM_TEST_PLANE_ID\n";
    return 2;
  }
  const auto id = from_hex(id_hex, std::strlen(id_hex) / 2);
  if (!id) return 2;
  device_runtime& runtime = platform->runtime;
  const int device = platform->device_for(local_rank);

  zmq::context_t context;
  zmq::socket_t inbox(context, zmq::socket_type::pull);
  inbox.bind(control_endpoint(id_hex, rank));
  std::vector<zmq::socket_t> to(static_cast<std::size_t>(world));
  for (int peer = 0; peer < world; ++peer) {
    if (peer == rank) continue;
    to[static_cast<std::size_t>(peer)] = zmq::socket_t(context, zmq::socket_type::push);
    to[static_cast<std::size_t>(peer)].connect(control_endpoint(id_hex, peer));
  }

  std::unique_ptr<row_plane> plane;
  {
    device_scope scope{runtime, device};
    plane = std::make_unique<row_plane>(
        runtime, device, rank, world, platform->links->name(),
        platform->links->connect(runtime, device, rank, world,
                                 std::string_view(reinterpret_cast<const char*>(id->data()), id->size()),
                                 std::chrono::seconds{120}),
        std::chrono::seconds{120});
  }

  // Senders: each thread sends its transfers to every peer, interleaved.
  std::atomic<int> failures{0};
  std::vector<std::thread> senders;
  for (int thread = 0; thread < sender_threads; ++thread) {
    senders.emplace_back([&, thread] {
      try {
        device_scope scope{runtime, device};
        const device_stream stream = runtime.create_stream();
        owned_event filled{runtime, device};
        for (int sequence = 0; sequence < transfers; ++sequence) {
          for (int peer = 0; peer < world; ++peer) {
            if (peer == rank) continue;
            const std::size_t bytes = size_of(rank, thread, sequence);
            std::vector<std::byte> host(bytes);
            for (std::size_t at = 0; at < bytes; ++at) host[at] = byte_of(rank, thread, sequence, at);
            device_buffer<std::byte> rows(runtime, bytes, stream);
            if (bytes > 0) runtime.copy(rows.data(), host.data(), bytes, stream);
            runtime.record(filled.get(), stream);
            plane->send(peer, std::move(rows), bytes, filled.get(), [&](std::uint64_t transfer) {
              const announcement a{rank, thread, sequence, transfer, bytes};
              to[static_cast<std::size_t>(peer)].send(zmq::const_buffer(&a, sizeof a), zmq::send_flags::none);
            });
            runtime.synchronize(stream);  // `host` is read by the copy
          }
        }
        runtime.destroy_stream(stream);
      } catch (const std::exception& e) {
        std::cerr << "node " << rank << " sender " << thread << ": " << e.what() << "\n";
        ++failures;
      }
    });
  }

  // This thread receives: every announced transfer, checked against who sent it.
  device_scope scope{runtime, device};
  const device_stream check = runtime.create_stream();
  const int expected = (world - 1) * sender_threads * transfers;
  std::vector<std::vector<int>> next_sequence(static_cast<std::size_t>(world), std::vector<int>(sender_threads, 0));
  int received = 0, goodbyes = 0;
  bool said_goodbye = false;
  while (received < expected || goodbyes < world - 1) {
    if (received == expected && !said_goodbye) {  // everything here: tell the others
      for (auto& t : senders) t.join();
      for (int peer = 0; peer < world; ++peer)
        if (peer != rank) {
          const announcement a{rank, 0, 0, goodbye, 0};
          to[static_cast<std::size_t>(peer)].send(zmq::const_buffer(&a, sizeof a), zmq::send_flags::none);
        }
      said_goodbye = true;
    }
    zmq::message_t message;
    if (!inbox.recv(message, zmq::recv_flags::none) || message.size() != sizeof(announcement)) return 2;
    announcement a;
    std::memcpy(&a, message.data(), sizeof a);
    if (a.transfer == goodbye) {
      ++goodbyes;
      continue;
    }
    auto& next = next_sequence[static_cast<std::size_t>(a.sender)][static_cast<std::size_t>(a.thread)];
    if (a.sequence != next || a.bytes != size_of(a.sender, a.thread, a.sequence)) {
      std::cerr << "node " << rank << ": announcement out of order from node " << a.sender << "\n";
      return 1;
    }
    ++next;
    received_rows rows = plane->receive(a.sender, a.transfer, a.bytes);
    std::vector<std::byte> host(a.bytes);
    rows.copy_to_host(host.data(), check);
    for (std::size_t at = 0; at < a.bytes; ++at)
      if (host[at] != byte_of(a.sender, a.thread, a.sequence, at)) {
        std::cerr << "node " << rank << ": transfer " << a.transfer << " from node " << a.sender << " differs at byte "
                  << at << " of " << a.bytes << "\n";
        return 1;
      }
    ++received;
  }
  if (!said_goodbye) for (auto& t : senders) t.join();
  if (const std::string why = plane->failure(); !why.empty()) {
    std::cerr << "node " << rank << ": " << why << "\n";
    return 1;
  }
  runtime.destroy_stream(check);
  plane.reset();  // waits for its pipes: every transfer is done
  if (failures.load() != 0) return 1;
  std::cout << "PASS node " << rank << ": " << received << " transfers received over " << platform->links->name()
            << "\n";
  return 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << "plane_conformance: " << e.what() << "\n";
    return 2;
  }
}
