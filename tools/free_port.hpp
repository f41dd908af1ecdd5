// free_port: a rendezvous port for local clusters (gapm-run and the multi-process tests).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <random>

namespace gapm::tools {

/// A free TCP port below the kernel's ephemeral range (32768 and up on Linux), where the
/// nodes' own transports bind: a port picked there could be taken before rank 0 binds it.
/// Returns -1 when 200 random tries found none.
inline int free_port() {
  static std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 12000);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool free = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    if (fd >= 0) ::close(fd);
    if (free) return port;
  }
  return -1;
}

}  // namespace gapm::tools
