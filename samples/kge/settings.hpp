// The command line of the KGE sample (everything but the --gapm.* options, which
// gapm::Options::parse reads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace kge {

/// Training, evaluation and data settings, with the defaults of the README's main job.
struct settings {
  int epochs = 12;
  std::size_t dim = 64;            ///< complex dimension: rows hold 4*dim floats
  float lr = 0.2f;                 ///< AdaGrad learning rate
  float l2 = 1e-3f;                ///< l2 regularisation weight
  float init = 0.1f;               ///< initial embeddings uniform in [-init, init]
  std::size_t batch = 1000;        ///< positive triples per batch (one clock)
  std::size_t negatives = 64;      ///< negatives per positive, shared by a batch, each as tail and as head
  long lookahead = 4;              ///< intent for batch b + lookahead is signalled during batch b
  std::size_t max_train = 0;       ///< use only the first N training triples (0: all)
  std::size_t eval_max = 0;        ///< evaluate only the first N test (and valid) triples (0: all)
  std::uint64_t seed = 1;          ///< initial embeddings, shards and sampling
  std::filesystem::path cache;     ///< the split's cache folder (default_cache_dir() when empty)
  std::filesystem::path wordnet = "/usr/share/wordnet";
  double expect_loss_drop = 0;     ///< fail unless last epoch's loss < first's / this (0: no check)
  double expect_mrr = 0;           ///< fail unless test MRR > this (0: no check)
};

/// Reads `--name=value` (or `--name value`) arguments; skips --gapm.* ones. Prints the usage and
/// exits 0 for --help; throws std::invalid_argument naming the argument for an unknown option
/// or a malformed value.
[[nodiscard]] settings parse_settings(int argc, const char* const* argv);

}  // namespace kge
