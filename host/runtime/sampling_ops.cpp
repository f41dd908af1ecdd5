#include "host/runtime/sampling_ops.hpp"

#include <mutex>
#include <shared_mutex>

#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

// The local scheme gives up looking for a local key after this many draws in a row and takes
// the last draw (served remotely): a sample is never refused.
constexpr std::size_t max_local_attempts = 100000;

}  // namespace

template <class T>
void sampling_ops<T>::set_sampler(std::function<key_type()> sample_key) {
  GAPM_EXPECTS(static_cast<bool>(sample_key), "set_sampler: the sampler is empty");
  node_.sampling.set_distribution(std::move(sample_key));
}

template <class T>
SampleId sampling_ops<T>::prepare_sample(worker_state& worker, std::size_t k, clock_type start, clock_type end) {
  node_.check_usable(worker, "prepare_sample");
  GAPM_EXPECTS(node_.sampling.ready(), "prepare_sample: no sampler; call Node::set_sampler first");
  GAPM_EXPECTS(k > 0, "prepare_sample: a sample needs at least one key");
  if (end == 0) end = start + 1;
  GAPM_EXPECTS(start >= 0 && end > start, "prepare_sample: clocks [", start, ", ", end, ") are not a valid range");
  prepared_sample sample;
  sample.size = k;
  const sampling_mode scheme = node_.options.sampling_scheme;
  if (scheme != sampling_mode::local) {
    sample.keys = node_.sampling.draw_prepared(k);
    node_.keys.check_keys(sample.keys.data(), k, "prepare_sample (a key from the sampler)");
    if (scheme != sampling_mode::naive) ops_.intent(worker, sample.keys.data(), k, start, end);
  }
  const SampleId id{worker.next_sample_id()};
  worker.samples().emplace(id.id, std::move(sample));
  return id;
}

template <class T>
Ticket sampling_ops<T>::pull_sample(worker_state& worker, SampleId id, key_type* keys_out, std::size_t n,
                                 T* values_out) {
  node_.check_usable(worker, "pull_sample");
  auto it = worker.samples().find(id.id);
  GAPM_EXPECTS(it != worker.samples().end(), "pull_sample: sample ", id.id, " is unknown or finished");
  prepared_sample& sample = it->second;
  GAPM_EXPECTS(n <= sample.size - sample.used, "pull_sample: ", n, " keys asked, but sample ", id.id, " has ",
               sample.size - sample.used, " left");
  if (n == 0) return {};
  GAPM_EXPECTS(keys_out != nullptr && values_out != nullptr, "pull_sample: null output buffer");
  if (node_.options.sampling_scheme != sampling_mode::local) {
    std::copy_n(sample.keys.begin() + static_cast<std::ptrdiff_t>(sample.used), n, keys_out);
  } else {
    for (std::size_t i = 0; i < n; ++i) keys_out[i] = next_local_key(worker);
  }
  sample.used += n;
  return ops_.pull(worker, keys_out, n, values_out);
}

template <class T>
void sampling_ops<T>::finish_sample(worker_state& worker, SampleId id) {
  node_.check_usable(worker, "finish_sample");
  GAPM_EXPECTS(worker.samples().erase(id.id) == 1, "finish_sample: sample ", id.id, " is unknown or finished");
}

template <class T>
key_type sampling_ops<T>::next_local_key(worker_state& worker) {
  // Draws from a pre-drawn batch until a key is local (a main copy or a ready replica).
  auto& candidates = worker.local_candidates();
  for (std::size_t attempt = 0;; ++attempt) {
    if (candidates.empty()) {
      candidates.resize(node_.options.sampling_batch_size);
      for (auto c = candidates.rbegin(); c != candidates.rend(); ++c) *c = node_.sampling.draw();  // back = next
      node_.keys.check_keys(candidates.data(), candidates.size(), "pull_sample (a key from the sampler)");
    }
    const key_type key = candidates.back();
    candidates.pop_back();
    std::shared_lock structure{node_.structure};
    if (node_.readable(key) || attempt >= max_local_attempts) return key;
  }
}

template class sampling_ops<float>;
template class sampling_ops<double>;
template class sampling_ops<std::int64_t>;

}  // namespace gapm::detail
