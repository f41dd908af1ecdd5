// The sampling API (SPEC behaviour 10): prepare_sample / pull_sample / finish_sample with the
// naive, preloc, pool and local schemes.
#include <mutex>
#include <shared_mutex>

#include "host/common/expects.hpp"
#include "host/runtime/node_impl.hpp"

namespace gapm::detail {
namespace {

// The local scheme gives up looking for a local key after this many draws in a row and takes
// the last draw (served remotely): a sample is never refused.
constexpr std::size_t max_local_attempts = 100000;

}  // namespace

template <class T>
void node_impl<T>::set_sampler(std::function<key_type()> sample_key) {
  GAPM_EXPECTS(static_cast<bool>(sample_key), "set_sampler: the sampler is empty");
  sampler_.set_distribution(std::move(sample_key));
}

template <class T>
SampleId node_impl<T>::prepare_sample(worker_state& worker, std::size_t k, clock_type start, clock_type end) {
  check_usable(worker, "prepare_sample");
  GAPM_EXPECTS(sampler_.ready(), "prepare_sample: no sampler; call Node::set_sampler first");
  GAPM_EXPECTS(k > 0, "prepare_sample: a sample needs at least one key");
  if (end == 0) end = start + 1;
  GAPM_EXPECTS(start >= 0 && end > start, "prepare_sample: clocks [", start, ", ", end, ") are not a valid range");
  prepared_sample sample;
  sample.size = k;
  const sampling_mode scheme = options_.sampling_scheme;
  if (scheme != sampling_mode::local) {
    sample.keys = sampler_.draw_prepared(k);
    keys_.check_keys(sample.keys.data(), k, "prepare_sample (a key from the sampler)");
    if (scheme != sampling_mode::naive) intent(worker, sample.keys.data(), k, start, end);
  }
  const SampleId id{worker.next_sample_id()};
  worker.samples().emplace(id.id, std::move(sample));
  return id;
}

template <class T>
Ticket node_impl<T>::pull_sample(worker_state& worker, SampleId id, key_type* keys_out, std::size_t n,
                                 T* values_out) {
  check_usable(worker, "pull_sample");
  auto it = worker.samples().find(id.id);
  GAPM_EXPECTS(it != worker.samples().end(), "pull_sample: sample ", id.id, " is unknown or finished");
  prepared_sample& sample = it->second;
  GAPM_EXPECTS(n <= sample.size - sample.used, "pull_sample: ", n, " keys asked, but sample ", id.id, " has ",
               sample.size - sample.used, " left");
  if (n == 0) return {};
  GAPM_EXPECTS(keys_out != nullptr && values_out != nullptr, "pull_sample: null output buffer");
  if (options_.sampling_scheme != sampling_mode::local) {
    std::copy_n(sample.keys.begin() + static_cast<std::ptrdiff_t>(sample.used), n, keys_out);
  } else {
    // Draw from a pre-drawn batch until a key is local (a main copy or a ready replica).
    auto& candidates = worker.local_candidates();
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t attempt = 0;; ++attempt) {
        if (candidates.empty()) {
          candidates.resize(options_.sampling_batch_size);
          for (auto c = candidates.rbegin(); c != candidates.rend(); ++c) *c = sampler_.draw();  // back = next
          keys_.check_keys(candidates.data(), candidates.size(), "pull_sample (a key from the sampler)");
        }
        const key_type key = candidates.back();
        candidates.pop_back();
        std::shared_lock structure{structure_mutex_};
        if (is_local(key) || attempt >= max_local_attempts) {
          keys_out[i] = key;
          break;
        }
      }
    }
  }
  sample.used += n;
  return pull(worker, keys_out, n, values_out);
}

template <class T>
void node_impl<T>::finish_sample(worker_state& worker, SampleId id) {
  check_usable(worker, "finish_sample");
  GAPM_EXPECTS(worker.samples().erase(id.id) == 1, "finish_sample: sample ", id.id, " is unknown or finished");
}

#define GAPM_INSTANTIATE_NODE_SAMPLING(T)                                                                  \
  template void node_impl<T>::set_sampler(std::function<key_type()>);                                      \
  template SampleId node_impl<T>::prepare_sample(worker_state&, std::size_t, clock_type, clock_type);      \
  template Ticket node_impl<T>::pull_sample(worker_state&, SampleId, key_type*, std::size_t, T*);          \
  template void node_impl<T>::finish_sample(worker_state&, SampleId);

GAPM_INSTANTIATE_NODE_SAMPLING(float)
GAPM_INSTANTIATE_NODE_SAMPLING(double)
GAPM_INSTANTIATE_NODE_SAMPLING(std::int64_t)
#undef GAPM_INSTANTIATE_NODE_SAMPLING

}  // namespace gapm::detail
