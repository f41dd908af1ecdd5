#include "comm/rendezvous.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

using clock = std::chrono::steady_clock;

// Options that may differ between nodes: they size or place this node's own store.
bool node_local_option(const std::string& name) {
  return name == "store" || name == "capacity" || name == "capacity_fraction" || name == "print_stats";
}

std::map<std::string, std::string> option_lines(const std::string& text) {
  std::map<std::string, std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) lines[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return lines;
}

std::chrono::milliseconds until(clock::time_point deadline) {
  return std::max(std::chrono::milliseconds{0},
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

// Rank 0's side: collect one hello per rank, check them, answer everyone.
void serve(zmq::socket_t& server, int world_size, clock::time_point deadline) {
  std::map<int, std::pair<std::string, node_hello>> joined;  // rank -> (identity, hello)
  std::string failure;
  while (static_cast<int>(joined.size()) < world_size && failure.empty()) {
    zmq::pollitem_t item{server.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::min(until(deadline), std::chrono::milliseconds{200})) <= 0) {
      if (clock::now() < deadline) continue;
      std::string missing;
      for (int r = 0; r < world_size; ++r)
        if (!joined.contains(r)) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      failure = concat("rendezvous timed out: ", joined.size(), " of ", world_size,
                       " nodes joined; missing rank(s) ", missing);
      break;
    }
    zmq::message_t identity, body;
    if (!server.recv(identity) || !server.recv(body)) continue;
    node_hello hello;
    try {
      hello = node_hello::decode(body.to_string());
    } catch (const std::exception&) {
      continue;  // not a gapm node: ignore it
    }
    if (hello.world_size != world_size || hello.rank < 0 || hello.rank >= world_size) {
      failure = concat("node ", hello.rank, " says the world size is ", hello.world_size, ", node 0 says ",
                       world_size);
    } else if (joined.contains(hello.rank)) {
      failure = concat("rank ", hello.rank, " joined twice (from ", joined[hello.rank].second.endpoint,
                       " and ", hello.endpoint, ")");
    } else {
      joined[hello.rank] = {identity.to_string(), hello};
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
  std::string reply = failure.empty() ? "ok\n" : "error\n" + failure;
  if (failure.empty())
    for (const auto& [rank, entry] : joined) reply += entry.second.endpoint + " " + entry.second.heartbeat_endpoint + "\n";
  for (const auto& [rank, entry] : joined) {
    server.send(zmq::buffer(entry.first), zmq::send_flags::sndmore);
    server.send(zmq::buffer(reply), zmq::send_flags::none);
  }
}

}  // namespace

std::string node_hello::encode() const {
  return concat("rank=", rank, "\nworld_size=", world_size, "\nendpoint=", endpoint, "\nheartbeat=", heartbeat_endpoint,
                "\nbuild=", build,
                "\nvalue_type=", value_type, "\n---\n", options);
}

node_hello node_hello::decode(const std::string& text) {
  auto split = text.find("---\n");
  GAPM_EXPECTS(split != std::string::npos, "malformed rendezvous hello");
  auto fields = option_lines(text.substr(0, split));
  node_hello hello;
  hello.rank = std::stoi(fields.at("rank"));
  hello.world_size = std::stoi(fields.at("world_size"));
  hello.endpoint = fields.at("endpoint");
  hello.heartbeat_endpoint = fields.at("heartbeat");
  hello.build = fields.at("build");
  hello.value_type = fields.at("value_type");
  hello.options = text.substr(split + 4);
  return hello;
}

std::string describe_mismatch(const node_hello& a, const node_hello& b) {
  auto differ = [&](const std::string& what, const std::string& x, const std::string& y) {
    return concat(what, " is '", x, "' on node ", a.rank, " but '", y, "' on node ", b.rank);
  };
  if (a.build != b.build) return differ("the build", a.build, b.build);
  if (a.value_type != b.value_type) return differ("the value type", a.value_type, b.value_type);
  auto x = option_lines(a.options), y = option_lines(b.options);
  for (const auto& [name, value] : x) {
    if (node_local_option(name)) continue;
    auto other = y.find(name);
    const std::string other_value = other == y.end() ? "<missing>" : other->second;
    if (other_value != value) return differ("option '" + name + "'", value, other_value);
  }
  return "";
}

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

std::vector<peer_address> rendezvous(zmq::context_t& context, const cluster_env& env, const node_hello& self,
                                     double timeout_s) {
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(timeout_s));
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);

  zmq::socket_t server;
  std::thread server_thread;
  if (env.rank == 0) {
    server = zmq::socket_t(context, zmq::socket_type::router);
    server.set(zmq::sockopt::linger, 2000);
    try {
      server.bind("tcp://*:" + std::to_string(env.master_port));
    } catch (const zmq::error_t& e) {
      throw comm_error("gapm: rank 0 cannot serve the rendezvous on port " + std::to_string(env.master_port) +
                       " (MASTER_PORT): " + e.what());
    }
    server_thread = std::thread([&] { serve(server, env.world_size, deadline); });
  }
  struct joiner {  // joins the server thread on every path out of this function
    std::thread& thread;
    ~joiner() {
      if (thread.joinable()) thread.join();
    }
  } join_server{server_thread};

  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.set(zmq::sockopt::linger, 0);
  client.connect("tcp://" + env.master_addr + ":" + std::to_string(env.master_port));
  client.send(zmq::buffer(self.encode()), zmq::send_flags::none);

  zmq::pollitem_t item{client.handle(), 0, ZMQ_POLLIN, 0};
  // Rank 0's own server answers at its deadline, so give the reply a little longer.
  const auto wait = until(deadline) + std::chrono::milliseconds{env.rank == 0 ? 1000 : 0};
  if (zmq::poll(&item, 1, wait) <= 0)
    throw comm_error(concat("gapm: node ", env.rank, ": rendezvous with rank 0 at ", where, " timed out after ",
                            timeout_s, " s (is rank 0 running, and are MASTER_ADDR/MASTER_PORT right?)"));
  zmq::message_t reply;
  (void)client.recv(reply);
  std::istringstream in(reply.to_string());
  std::string status;
  std::getline(in, status);
  if (status != "ok") {
    std::string why((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    throw comm_error(concat("gapm: node ", env.rank, " cannot join the cluster: ", why));
  }
  std::vector<peer_address> book;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto space = line.find(' ');
    if (space == std::string::npos) throw comm_error("gapm: malformed address book from the rendezvous");
    book.push_back({line.substr(0, space), line.substr(space + 1)});
  }
  if (static_cast<int>(book.size()) != env.world_size)
    throw comm_error("gapm: malformed address book from the rendezvous");
  return book;
}

}  // namespace gapm::detail
