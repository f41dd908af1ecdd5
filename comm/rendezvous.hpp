// rendezvous: how the nodes of a cluster find each other. Rank 0 serves at
// MASTER_ADDR:MASTER_PORT; every node (rank 0 too) registers its endpoint and its view of the
// configuration; rank 0 checks that all agree and hands out the address book.
#pragma once

#include <string>
#include <vector>

#include <zmq.hpp>

#include "comm/cluster_env.hpp"

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

  [[nodiscard]] std::string encode() const;
  [[nodiscard]] static node_hello decode(const std::string& text);
};

/// Where a node is reached: its transport, and its liveness beats.
struct peer_address {
  std::string data;
  std::string heartbeat;
};

/// Joins the cluster; returns the addresses of all nodes by rank. Throws comm_error when the
/// rendezvous cannot be reached or served within `timeout_s`, or when the nodes disagree
/// (the message names the first difference and the nodes involved).
[[nodiscard]] std::vector<peer_address> rendezvous(zmq::context_t& context, const cluster_env& env,
                                                   const node_hello& self, double timeout_s);

/// The first difference between two nodes' hellos that forbids them to work together, or "".
[[nodiscard]] std::string describe_mismatch(const node_hello& a, const node_hello& b);

/// The local IP address this machine uses to reach `host` (the rendezvous), for binding.
[[nodiscard]] std::string local_address_towards(const std::string& host, int port);

}  // namespace gapm::detail
