#include "comm/node_hello.hpp"

#include <algorithm>
#include <sstream>

#include "host/common/cores.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

// Options that may differ between nodes: they size or place this node's own store.
bool node_local_option(const std::string& name) {
  return name == "store" || name == "capacity" || name == "capacity_fraction" || name == "state.dense_mb" ||
         name == "print_stats";
}

}  // namespace

std::map<std::string, std::string> option_lines(const std::string& text) {
  std::map<std::string, std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) lines[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return lines;
}

std::string node_hello::encode() const {
  return concat("rank=", rank, "\nworld_size=", world_size, "\nendpoint=", endpoint, "\nheartbeat=", heartbeat_endpoint,
                "\nbuild=", build, "\nvalue_type=", value_type, "\nnonce=", nonce, "\ncores=", cores,
                "\nmachine_cores=", machine_cores, "\nplane=", plane, "\ndevice=", device, "\n---\n",
                options);
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
  hello.nonce = fields.at("nonce");
  hello.cores = std::stoi(fields.at("cores"));
  hello.machine_cores = std::stoi(fields.at("machine_cores"));
  hello.plane = fields.at("plane");
  hello.device = fields.at("device");
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

int agreed_sync_channels(const std::vector<node_hello>& nodes) {
  GAPM_EXPECTS(!nodes.empty(), "agreed_sync_channels: no nodes");
  const auto options = option_lines(nodes.front().options);
  const auto given = options.find("sync.channels");
  if (given != options.end() && given->second != "0") return std::stoi(given->second);
  // "tcp://HOST:PORT" -> HOST
  auto host_of = [](const std::string& endpoint) {
    const auto begin = endpoint.find("://");
    const auto from = begin == std::string::npos ? 0 : begin + 3;
    return endpoint.substr(from, endpoint.rfind(':') - from);
  };
  std::map<std::string, int> processes;
  for (const auto& node : nodes) ++processes[host_of(node.endpoint)];
  int channels = 4;
  for (const auto& node : nodes)
    channels = std::min(channels, auto_sync_channels(node.cores, node.machine_cores, processes[host_of(node.endpoint)]));
  return channels;
}

}  // namespace gapm::detail
