// A user's program against an installed gapm: every node pushes 1 to every key; after the
// quiescence recipe every node reads exactly the number of nodes. Prints "consumer: ok".
#include <gapm/gapm.hpp>

#include <cstdint>
#include <iostream>
#include <numeric>
#include <vector>

int main() {
  gapm::Options options;
  options.tables = {{100, 2}};
  options.print_stats = false;
  gapm::Node<std::int64_t> node(gapm::Options::from_env(options));
  gapm::Worker<std::int64_t> worker(node, 0);
  std::vector<gapm::key_type> keys(node.num_keys());
  std::iota(keys.begin(), keys.end(), gapm::key_type{0});
  std::vector<std::int64_t> ones(keys.size() * 2, 1), values(keys.size() * 2);
  worker.wait(worker.push(keys.data(), keys.size(), ones.data()));
  worker.wait_all();
  worker.barrier();
  worker.wait(worker.pull(keys.data(), keys.size(), values.data()));
  for (std::int64_t v : values)
    if (v != node.world_size()) {
      std::cout << "consumer: wrong value " << v << "\n";
      return 1;
    }
  worker.finalize();
  node.shutdown();
  std::cout << "consumer: ok\n";
  return 0;
}
