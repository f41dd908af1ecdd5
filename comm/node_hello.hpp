// node_hello: what a node tells the rendezvous about itself, and how rank 0 checks that the
// nodes agree (the settings that must be equal, the sync channels they can all run).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace gapm::detail {

/// What a node tells the rendezvous about itself.
struct node_hello {
  int rank = 0;
  int world_size = 1;
  std::string endpoint;       ///< where its transport listens
  std::string build;          ///< "cpu" or "cuda": the build kind
  std::string value_type;     ///< "float", "double" or "int64"
  std::string options;        ///< Options::to_string(), the settings that must agree
  std::string heartbeat_endpoint;  ///< where its liveness beats go
  std::string nonce;          ///< hex: fresh per hello, so that rank 0's proven reply is for it
  int cores = 1;              ///< CPUs the process may run on (for sync.channels=0, auto)
  int machine_cores = 1;      ///< CPUs of its machine
  std::string plane{};        ///< the pipe links it can run (cuda/pipe_links.hpp: "nccl"), or ""
  std::string device{};       ///< the GPU that holds its rows (device_identity), or "": host memory

  [[nodiscard]] std::string encode() const;
  [[nodiscard]] static node_hello decode(const std::string& text);
};

/// The name=value lines of a text (a hello's options), by name.
[[nodiscard]] std::map<std::string, std::string> option_lines(const std::string& text);

/// The first difference between two nodes' hellos that forbids them to work together, or "".
[[nodiscard]] std::string describe_mismatch(const node_hello& a, const node_hello& b);

/// The sync channels of agreeing nodes: their option sync.channels, or where it is 0 (auto)
/// the fewest any node wants for its cores, its machine's shared with the nodes on the same
/// host (the host of its endpoint): see auto_sync_channels().
[[nodiscard]] int agreed_sync_channels(const std::vector<node_hello>& nodes);

}  // namespace gapm::detail
