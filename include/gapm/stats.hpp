// gapm::Stats: what a node did, for users and benchmarks.
#pragma once

#include <cstdint>
#include <string>

namespace gapm {

/// Counters of one node since it started. Local operations were served from this node's
/// store without network traffic; remote ones went to another node.
struct Stats {
  std::uint64_t pulls_local = 0;   ///< keys pulled from the local store
  std::uint64_t pulls_remote = 0;  ///< keys pulled from another node
  std::uint64_t pushes_local = 0;  ///< keys pushed (or set) into the local store
  std::uint64_t pushes_remote = 0; ///< keys pushed (or set) to another node
  std::uint64_t intent_keys = 0;   ///< keys named in intent() calls
  std::uint64_t intent_entries = 0;  ///< (key, worker) intents registered and not yet ended
  std::uint64_t intent_bytes = 0;    ///< memory the registered intents take
  std::uint64_t replicas_created = 0;
  std::uint64_t replicas_dropped = 0;
  std::uint64_t replica_rounds = 0;  ///< sum over sync rounds of the replicas alive: replica memory x time
  std::uint64_t relocations = 0;   ///< main copies that moved to this node
  std::uint64_t deltas_sent = 0;   ///< replica deltas sent to main copies (rows)
  std::uint64_t sync_rounds = 0;    ///< completed rounds, all channels
  double sync_rounds_per_sec = 0;   ///< per channel
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t plane_bytes_sent = 0;      ///< row bytes sent GPU to GPU on the data plane (option data_plane)
  std::uint64_t plane_bytes_received = 0;  ///< row bytes received on the data plane
  std::uint64_t plane_delta_bytes_sent = 0;  ///< of plane_bytes_sent: replica deltas
  std::uint64_t malformed_messages = 0;  ///< frames of peers dropped by validation
  std::uint64_t rejected_frames = 0;     ///< frames refused unread: their connection did not prove the job token
  std::uint64_t remote_answers = 0;    ///< answers received for this node's remote requests
  std::uint64_t forward_hops = 0;      ///< forwarding hops those answers took (0 = direct)
  std::uint64_t slots_used = 0;        ///< occupied row slots, all tables
  std::uint64_t slots_capacity = 0;
  double uptime_s = 0;
  /// CPU seconds (user + system) of this process so far, and of the threads gapm runs in it
  /// while they run (after shutdown() they read 0): the sync channels, the receive loop
  /// (serving peers, applying answers), the heartbeats and the transport's I/O threads (every
  /// ZeroMQ I/O thread of the process). What the process used besides them went to the
  /// application's threads — the workers, including the pulls and pushes they make. Zero
  /// where the system does not say (Linux's /proc). Compare two readings of a running node.
  double cpu_process_s = 0;
  double cpu_sync_s = 0;
  double cpu_receive_s = 0;
  double cpu_liveness_s = 0;
  double cpu_transport_s = 0;

  /// One JSON object with every counter.
  [[nodiscard]] std::string to_json() const;
  /// A few human-readable lines (what shutdown prints).
  [[nodiscard]] std::string summary() const;
};

}  // namespace gapm
