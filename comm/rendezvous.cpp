#include "comm/rendezvous.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <gapm/errors.hpp>

#include "comm/deadline.hpp"
#include "comm/crypto.hpp"
#include "comm/zmq_transport.hpp"
#include "comm/data_plane_choice.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds until(clock::time_point deadline) {
  return std::max(std::chrono::milliseconds{0},
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

constexpr std::string_view hello_tag = "gapm rendezvous hello v1\n";
constexpr std::string_view reply_tag = "gapm rendezvous reply v1\n";
constexpr std::size_t max_rendezvous_message = 1 << 20;  // hellos are a few KiB of options

std::string hello_proof(const job_secret& secret, std::string_view text) {
  return to_hex(hmac_sha256(secret.bytes(), {bytes_of(hello_tag), bytes_of(text)}));
}

std::string reply_proof(const job_secret& secret, std::string_view nonce_hex, std::string_view text) {
  return to_hex(hmac_sha256(secret.bytes(), {bytes_of(reply_tag), bytes_of(nonce_hex), bytes_of(text)}));
}

// "proof=<hex or ->\n<rest>" -> (proof, rest); nullopt when the text has no such first line.
std::optional<std::pair<std::string, std::string>> split_proof(const std::string& text) {
  if (!text.starts_with("proof=")) return std::nullopt;
  const auto end = text.find('\n');
  if (end == std::string::npos) return std::nullopt;
  return std::pair{text.substr(6, end - 6), text.substr(end + 1)};
}

bool proof_matches(const std::string& given, const std::string& expected) {
  return constant_time_equal(bytes_of(given), bytes_of(expected));
}

// Rank 0's side: collect one authenticated hello per rank, check them, answer everyone.
// Nothing that arrives at the port can keep it past `deadline`: every read is non-blocking,
// a message of any other shape is refused, and a hello without the job's proof gets an
// error reply of its own without touching the rendezvous.
void serve(zmq::socket_t& server, int world_size, clock::time_point deadline, const std::optional<job_secret>& token,
           rejection_log& rejections, const std::function<std::string()>& make_plane_id) {
  const job_secret secret = token ? *token : job_secret::generate();
  session_id session{};
  random_bytes(session);
  std::map<int, std::pair<std::string, node_hello>> joined;  // rank -> (identity, hello)
  std::string failure;
  std::uint64_t refused = 0;
  auto refuse = [&](router_message& message, std::string_view why, std::string_view answer) {
    ++refused;
    rejections.reject([&] { return message.peer_address(); }, "a rendezvous message", why);
    if (answer.empty()) return;
    const std::string reply = "proof=-\nerror\n" + std::string(answer);
    try {  // best effort: the asker may be gone already
      if (server.send(zmq::buffer(message.connection), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        (void)server.send(zmq::buffer(reply), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  };
  while (static_cast<int>(joined.size()) < world_size && failure.empty()) {
    if (clock::now() >= deadline) {  // checked first: a flood of messages does not postpone it
      std::string missing;
      for (int r = 0; r < world_size; ++r)
        if (!joined.contains(r)) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      failure = concat("rendezvous timed out: ", joined.size(), " of ", world_size,
                       " nodes joined; missing rank(s) ", missing,
                       refused > 0 ? concat(" (", refused, " message(s) were refused: see the log)") : std::string());
      break;
    }
    zmq::pollitem_t item{server.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::min(until(deadline), std::chrono::milliseconds{200})) <= 0) continue;
    for (int turn = 0; turn < 64 && failure.empty() && clock::now() < deadline; ++turn) {
      auto message = receive_from_router(server);
      if (!message) break;
      if (!message->complete) {
        refuse(*message, "not a gapm hello (not one part)", "");
        continue;
      }
      const auto framed = split_proof(message->body.to_string());
      node_hello hello;
      try {
        if (!framed) throw std::invalid_argument("no proof line");
        hello = node_hello::decode(framed->second);
      } catch (const std::exception&) {
        refuse(*message, "not a gapm hello", "");
        continue;
      }
      const std::string& proof = framed->first;
      if (token && proof == "-") {
        refuse(*message, concat("a hello of rank ", hello.rank, " without a job token"),
               "this node has no GAPM_JOB_TOKEN, but rank 0 has one: give every node the same GAPM_JOB_TOKEN");
        continue;
      }
      if (token && !proof_matches(proof, hello_proof(secret, framed->second))) {
        refuse(*message, concat("a hello of rank ", hello.rank, " with a wrong job token"),
               "its GAPM_JOB_TOKEN differs from rank 0's (or it belongs to another job that meets at the same "
               "MASTER_ADDR:MASTER_PORT): give every node of a job the same GAPM_JOB_TOKEN");
        continue;
      }
      if (!token && proof != "-") {
        refuse(*message, concat("a hello of rank ", hello.rank, " with a job token rank 0 does not have"),
               "this node has GAPM_JOB_TOKEN, but rank 0 has none: give every node the same GAPM_JOB_TOKEN");
        continue;
      }
      // A hello for another world or for a rank already taken is refused alone: whoever sent it
      // (a misconfigured node, another job at this port) hears why and fails; this job goes on.
      if (hello.world_size != world_size || hello.rank < 0 || hello.rank >= world_size) {
        const std::string why = concat("a hello of rank ", hello.rank, " for a world of ", hello.world_size,
                                       " nodes; node 0 says ", world_size);
        refuse(*message, why, why);
      } else if (joined.contains(hello.rank)) {
        const std::string why = concat("rank ", hello.rank, " has joined already (from ",
                                       joined[hello.rank].second.endpoint, "); a second hello for it from ",
                                       hello.endpoint, " (two nodes with the same RANK, or another job at this port)");
        refuse(*message, why, why);
      } else {
        joined[hello.rank] = {message->connection, hello};
      }
    }
  }
  if (failure.empty()) {
    const node_hello& reference = joined.begin()->second.second;
    for (const auto& [rank, entry] : joined)
      if (auto diff = describe_mismatch(reference, entry.second); !diff.empty()) {
        failure = "nodes disagree: " + diff;
        break;
      }
  }
  std::vector<node_hello> hellos;
  for (const auto& [rank, entry] : joined) hellos.push_back(entry.second);
  data_plane_choice plane;
  std::string plane_id;
  if (failure.empty()) {
    plane = choose_data_plane(hellos);
    failure = plane.refusal;
    if (plane.nccl) {
      try {
        plane_id = make_plane_id();
      } catch (const std::exception& e) {
        failure = concat("rank 0 cannot make the data plane's id: ", e.what());
      }
    }
  }
  std::string reply = failure.empty() ? "ok\n" : "error\n" + failure;
  if (failure.empty()) {
    reply += "session=" + to_hex(session) + "\n";
    reply += plane.nccl ? "data_plane=nccl " + to_hex(std::span(reinterpret_cast<const std::uint8_t*>(plane_id.data()),
                                                                plane_id.size()))
                        : std::string("data_plane=tcp");
    reply += "\ndata_plane_why=" + plane.why + "\n";
    reply += "sync_channels=" + std::to_string(agreed_sync_channels(hellos)) + "\n";
    if (!token) reply += "token=" + secret.to_hex() + "\n";  // the hand-out: see README, "Security model"
    for (const auto& [rank, entry] : joined) reply += entry.second.endpoint + " " + entry.second.heartbeat_endpoint + "\n";
  }
  for (const auto& [rank, entry] : joined) {
    const std::string proven = "proof=" + (token ? reply_proof(secret, entry.second.nonce, reply) : "-") + "\n" + reply;
    try {
      if (server.send(zmq::buffer(entry.first), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        (void)server.send(zmq::buffer(proven), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {  // that node is gone: it times out on its own
    }
  }
}

}  // namespace

std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr)
    throw comm_error("gapm: cannot resolve MASTER_ADDR '" + host + "'");
  // A connected UDP socket sends nothing, but the kernel picks the route and so the source IP.
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local{};
  socklen_t length = sizeof local;
  const bool ok = fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
  if (fd >= 0) ::close(fd);
  freeaddrinfo(found);
  if (!ok) throw comm_error("gapm: no route from this machine to MASTER_ADDR '" + host + "'");
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
  return text;
}

rendezvous_result rendezvous(zmq::context_t& context, const cluster_env& env, node_hello self, double timeout_s,
                             const std::optional<job_secret>& secret, rejection_log& rejections,
                             const std::function<std::string()>& make_plane_id) {
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(saturated_seconds(timeout_s));
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);

  zmq::socket_t server;
  std::thread server_thread;
  if (env.rank == 0) {
    server = zmq::socket_t(context, zmq::socket_type::router);
    server.set(zmq::sockopt::linger, 2000);
    server.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_rendezvous_message));
    try {
      server.bind("tcp://*:" + std::to_string(env.master_port));
    } catch (const zmq::error_t& e) {
      throw comm_error("gapm: rank 0 cannot serve the rendezvous on port " + std::to_string(env.master_port) +
                       " (MASTER_PORT): " + e.what());
    }
    server_thread = std::thread([&] { serve(server, env.world_size, deadline, secret, rejections, make_plane_id); });
  }
  struct joiner {  // joins the server thread on every path out of this function
    std::thread& thread;
    ~joiner() {
      if (thread.joinable()) thread.join();
    }
  } join_server{server_thread};

  session_id nonce{};
  random_bytes(nonce);
  self.nonce = to_hex(nonce);
  const std::string text = self.encode();
  const std::string hello = "proof=" + (secret ? hello_proof(*secret, text) : std::string("-")) + "\n" + text;

  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.set(zmq::sockopt::linger, 0);
  client.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_rendezvous_message));
  client.connect("tcp://" + env.master_addr + ":" + std::to_string(env.master_port));
  client.send(zmq::buffer(hello), zmq::send_flags::none);

  auto cannot_join = [&](const std::string& why) {
    return comm_error(concat("gapm: node ", env.rank, " cannot join the cluster at ", where, ": ", why));
  };
  zmq::pollitem_t item{client.handle(), 0, ZMQ_POLLIN, 0};
  // Rank 0's own server answers at its deadline, so give the reply a little longer.
  const auto wait = until(deadline) + std::chrono::milliseconds{env.rank == 0 ? 1000 : 0};
  if (zmq::poll(&item, 1, wait) <= 0)
    throw comm_error(concat("gapm: node ", env.rank, ": rendezvous with rank 0 at ", where, " timed out after ",
                            timeout_s, " s (is rank 0 running, and are MASTER_ADDR/MASTER_PORT right?)"));
  zmq::message_t reply;
  if (!client.recv(reply, zmq::recv_flags::dontwait) || reply.more()) throw cannot_join("a malformed rendezvous reply");
  const auto framed = split_proof(reply.to_string());
  if (!framed) throw cannot_join("a malformed rendezvous reply");
  std::istringstream in(framed->second);
  std::string status;
  std::getline(in, status);
  if (status == "error") {
    std::string why((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    throw cannot_join(why);
  }
  if (status != "ok") throw cannot_join("a malformed rendezvous reply");
  if (secret && !proof_matches(framed->first, reply_proof(*secret, self.nonce, framed->second)))
    throw cannot_join(
        "the reply does not prove that it comes from this job's rank 0 (is GAPM_JOB_TOKEN the same on every node, "
        "and is MASTER_PORT the port of this job's rank 0?)");
  rendezvous_result result;
  bool have_session = false, have_token = false, have_channels = false, have_plane = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.starts_with("session=")) {
      auto bytes = from_hex(std::string_view(line).substr(8), result.session.size());
      if (!bytes) throw cannot_join("a malformed session in the rendezvous reply");
      std::copy(bytes->begin(), bytes->end(), result.session.begin());
      have_session = true;
      continue;
    }
    if (line.starts_with("sync_channels=")) {
      const std::string_view count = std::string_view(line).substr(14);
      const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), result.sync_channels);
      if (error != std::errc{} || end != count.data() + count.size() || result.sync_channels < 1 ||
          !std::has_single_bit(static_cast<unsigned>(result.sync_channels)))
        throw cannot_join("a malformed sync channel count in the rendezvous reply");
      have_channels = true;
      continue;
    }
    if (line.starts_with("data_plane=nccl ")) {
      const std::string_view hex = std::string_view(line).substr(16);
      auto id = from_hex(hex, hex.size() / 2);
      if (!id || id->empty()) throw cannot_join("a malformed data plane id in the rendezvous reply");
      result.plane_id.assign(reinterpret_cast<const char*>(id->data()), id->size());
      have_plane = true;
      continue;
    }
    if (line == "data_plane=tcp") {
      have_plane = true;
      continue;
    }
    if (line.starts_with("data_plane_why=")) {
      result.data_plane_why = line.substr(15);
      continue;
    }
    if (line.starts_with("token=")) {
      auto handed = job_secret::from_hex(std::string_view(line).substr(6));
      if (!handed) throw cannot_join("a malformed job token in the rendezvous reply");
      if (!secret) result.secret = *handed;
      have_token = true;
      continue;
    }
    const auto space = line.find(' ');
    if (space == std::string::npos) throw cannot_join("a malformed address book in the rendezvous reply");
    result.book.push_back({line.substr(0, space), line.substr(space + 1)});
  }
  if (static_cast<int>(result.book.size()) != env.world_size || !have_session || !have_channels || !have_plane)
    throw cannot_join("a malformed address book in the rendezvous reply");
  if (secret) {
    result.secret = *secret;
  } else if (!have_token) {
    throw cannot_join("rank 0 has a GAPM_JOB_TOKEN and this node has none: give every node the same GAPM_JOB_TOKEN");
  } else {
    result.handed_out = true;
  }
  return result;
}

}  // namespace gapm::detail
