// rendezvous: how the nodes of a cluster find each other. Rank 0 serves at
// MASTER_ADDR:MASTER_PORT; every node (rank 0 too) registers its endpoint and its view of the
// configuration; rank 0 checks that all agree and hands out the address book.
//
// With a job token (GAPM_JOB_TOKEN) every hello carries a MAC under it and rank 0 proves its
// reply the same way: a hello without the right proof gets an error reply of its own and
// changes nothing, so a stranger (or a node of another job that meets at the same port)
// cannot join, and cannot make the rendezvous fail either. Without a token, rank 0 makes one
// and hands it out in its reply (see README, "Security model"). Whatever arrives at the port
// (garbage, multi-part messages, floods), rank 0 gives up at its deadline and not later.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "comm/cluster_env.hpp"
#include "comm/job_auth.hpp"
#include "comm/node_hello.hpp"

namespace gapm::detail {

/// Where a node is reached: its transport, and its liveness beats.
struct peer_address {
  std::string data;
  std::string heartbeat;
};

/// What a node learns at the rendezvous.
struct rendezvous_result {
  std::vector<peer_address> book;  ///< every node's addresses, by rank
  job_secret secret;               ///< the job's secret: the node's own, or rank 0's hand-out
  session_id session{};            ///< this run (rank 0's random choice)
  bool handed_out = false;         ///< the secret came in rank 0's reply (no GAPM_JOB_TOKEN)
  int sync_channels = 1;           ///< the sync channels every node runs (option sync.channels, resolved)
  std::string plane_id;            ///< rank 0's id of the NCCL data plane; empty: rows travel over TCP
  std::string data_plane_why;      ///< why that data plane (comm/data_plane_choice.hpp)
};

/// Joins the cluster. `secret` is the node's job secret (GAPM_JOB_TOKEN) or nullopt. Throws
/// comm_error when the rendezvous cannot be reached or served within `timeout_s`, when rank 0
/// refuses this node (another job token), or when the nodes disagree (the message names the
/// first difference and the nodes involved). Refused messages at rank 0 go to `rejections`.
/// `make_plane_id` makes the data plane's id on rank 0 when the nodes get the NCCL data plane.
[[nodiscard]] rendezvous_result rendezvous(zmq::context_t& context, const cluster_env& env, node_hello self,
                                           double timeout_s, const std::optional<job_secret>& secret,
                                           rejection_log& rejections,
                                           const std::function<std::string()>& make_plane_id = {});

/// The local IP address this machine uses to reach `host` (the rendezvous), for binding.
[[nodiscard]] std::string local_address_towards(const std::string& host, int port);

}  // namespace gapm::detail
