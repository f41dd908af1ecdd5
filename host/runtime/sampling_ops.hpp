// sampling_ops<T>: the sampling API (SPEC behaviour 10): prepare_sample / pull_sample /
// finish_sample with the naive, preloc, pool and local schemes (AdaPM's sampling support).
#pragma once

#include <functional>

#include <gapm/types.hpp>

#include "host/runtime/node_parts.hpp"
#include "host/runtime/worker_ops.hpp"

namespace gapm::detail {

template <class T>
class sampling_ops {
 public:
  sampling_ops(node_parts<T>& node, worker_ops<T>& ops) : node_{node}, ops_{ops} {}

  void set_sampler(std::function<key_type()> sample_key);
  SampleId prepare_sample(worker_state& worker, std::size_t k, clock_type start, clock_type end);
  Ticket pull_sample(worker_state& worker, SampleId id, key_type* keys_out, std::size_t n, T* values_out);
  void finish_sample(worker_state& worker, SampleId id);

 private:
  // The `local` scheme: the next candidate that is local here.
  key_type next_local_key(worker_state& worker);

  node_parts<T>& node_;
  worker_ops<T>& ops_;
};

}  // namespace gapm::detail
