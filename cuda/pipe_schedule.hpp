// pipe_schedule: the order in which the nodes make their pipes (cuda/nccl_pipe_links.cpp).
// Making a communicator is collective, so every node must make the same ones in the same
// order; a round robin (the circle method) pairs every node with every other exactly once in
// world_size - 1 rounds (world_size rounds when odd), each node in at most one pair a round.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

namespace gapm::detail {

/// The rounds of pairs (lower rank first) that cover every pair of `world_size` nodes once.
[[nodiscard]] inline std::vector<std::vector<std::pair<int, int>>> pairing_rounds(int world_size) {
  const int seats = world_size + (world_size % 2);  // an odd world gets a seat nobody takes
  std::vector<std::vector<std::pair<int, int>>> rounds;
  for (int round = 0; round + 1 < seats; ++round) {
    std::vector<std::pair<int, int>> pairs;
    // Seat 0 stays; the others turn one place per round.
    auto node_at = [&](int seat) { return seat == 0 ? 0 : 1 + (seat - 1 + round) % (seats - 1); };
    for (int seat = 0; seat < seats / 2; ++seat) {
      const int a = node_at(seat), b = node_at(seats - 1 - seat);
      if (a < world_size && b < world_size) pairs.emplace_back(std::min(a, b), std::max(a, b));
    }
    rounds.push_back(std::move(pairs));
  }
  return rounds;
}

}  // namespace gapm::detail
