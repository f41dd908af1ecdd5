// gapm::Options: every setting of a node, with AdaPM's defaults where it has one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gapm/types.hpp>

namespace gapm {

/// Which management techniques the adaptive layer may use (SPEC behaviour 2).
enum class technique_mode { all, replication_only, relocation_only, none };

/// How Worker::prepare_sample draws keys (SPEC behaviour 10).
enum class sampling_mode { naive, preloc, pool, local };

/// Which store holds the rows of this node: auto = the GPU when the build has CUDA and a
/// device is visible, else host memory.
enum class store_kind { auto_select, cpu, cuda };

/// How rows travel between nodes: over TCP in the control plane's frames (through host
/// memory), or GPU to GPU with NCCL; auto = NCCL when every node keeps its rows on a GPU of
/// its own and the build has NCCL, else TCP. The choice is printed at start-up.
enum class data_plane_kind { auto_select, tcp, nccl };

/// A range of keys whose rows all have the same length.
struct table_spec {
  std::uint64_t num_keys = 0;
  std::uint32_t row_length = 0;
  friend bool operator==(const table_spec&, const table_spec&) = default;
};

/// All settings of a node. Every field has a textual name (`sync.max_per_sec`) used by
/// parse() (`--gapm.sync.max_per_sec=500`), from_env() (`GAPM_SYNC_MAX_PER_SEC=500`) and set().
/// Every numeric option has a range (README, "Options"), checked by validate() when a Node
/// starts; the ranges keep a typo from starting thousands of threads, allocating more than
/// the machine has, or turning a timeout into an instant one.
struct Options {
  // Model layout: tables[i] covers the keys that follow tables[0..i-1]. Textual form:
  // "tables=1000x16,50x8" (num_keys x row_length, in key order).
  std::vector<table_spec> tables;

  int workers = 1;  ///< worker threads per node (`workers`), in [1, 1024]

  technique_mode techniques = technique_mode::all;
  bool time_intent_actions = true;
  bool location_caches = true;

  /// `sync.channels`: a power of two, at most max(8, 4 x cores); 0 (auto): 1 to 4 by the cores
  /// each gapm process on the machine may use, the same on every node (the fewest any wants).
  int sync_channels = 0;
  double sync_max_per_sec = 1000;   ///< `sync.max_per_sec`, 0 = unpaced, at most 1e6
  double sync_threshold = 0;        ///< `sync.threshold`: -1 send all, 0 updated, >0 L2 norm, inf off

  double timing_initial_estimate = 10;  ///< `timing.initial_estimate` (clocks per sync round)
  double timing_smoothing = 0.1;        ///< `timing.smoothing` (alpha of the estimate)
  double timing_quantile = 0.9999;      ///< `timing.quantile` of the Poisson window

  sampling_mode sampling_scheme = sampling_mode::local;
  std::size_t sampling_pool_size = 250;
  std::size_t sampling_reuse = 1;
  std::size_t sampling_batch_size = 10000;

  store_kind store = store_kind::auto_select;
  data_plane_kind data_plane = data_plane_kind::auto_select;  ///< `data_plane`: auto, tcp or nccl
  /// Row slots per table in the store: 0 = every key of the table on the CPU store, and on the
  /// GPU as many as `capacity_fraction` of the free device memory holds (at most every key).
  /// The node's home keys of the table keep a slot each, here or not; replicas and main copies
  /// moved here share the rest.
  std::uint64_t capacity = 0;
  double capacity_fraction = 0.5;  ///< `capacity_fraction`
  /// `state.dense_mb`: with several nodes, keep the per-key bookkeeping (versions, relocation
  /// counters, the home directory) as arrays over all keys when that takes at most this many
  /// MiB per node: faster for small jobs. Larger jobs keep it only for the keys that need it,
  /// so that a node's memory follows what it holds; 0: always so.
  std::uint64_t state_dense_mb = 64;

  bool print_stats = true;  ///< `print_stats`: print Stats::summary() to stderr at shutdown()
  double rendezvous_timeout_s = 60;  ///< `rendezvous_timeout_s`: give up joining the cluster, in [0.1, 86400]
  double peer_timeout_s = 5;         ///< `peer_timeout_s`: a silent peer counts as dead, in [0.1, 3600]
  /// `barrier_timeout_s`: a cluster barrier (barrier(), finalize(), save(), load(), shutdown())
  /// that is not complete after this long fails the cluster naming the nodes that did not
  /// arrive; in [1, 2592000] (30 days). Like torch.distributed's default timeout, 30 minutes.
  double barrier_timeout_s = 1800;
  /// `sync.round_timeout_s`: a sync round still unanswered after this long fails the cluster
  /// naming the peers that did not answer; in [1, 86400], and at least peer_timeout_s.
  double sync_round_timeout_s = 60;

  /// BENCHMARK ONLY: a network model on the node-to-node transport, so that processes on one
  /// machine (loopback) see what a real network does. Every frame is delayed by
  /// `net.latency_us` (one way) after its bytes have passed a per-peer link of
  /// `net.bandwidth_gbps`. 0 and 0 (the defaults) = no model. Not meant for training runs.
  double net_latency_us = 0;      ///< `net.latency_us`, in [0, 1e6]; 0 = no added latency
  double net_bandwidth_gbps = 0;  ///< `net.bandwidth_gbps`, >= 0; 0 = unlimited

  /// Sets one option from text; throws logic_error naming the option for an unknown name or
  /// a malformed value (and then changes nothing).
  void set(std::string_view name, std::string_view value);

  /// The textual value of one option (the inverse of set()).
  [[nodiscard]] std::string get(std::string_view name) const;

  /// Every option name, in a fixed order.
  [[nodiscard]] static const std::vector<std::string>& names();

  /// Reads `--gapm.NAME=VALUE` (or `--gapm.NAME VALUE`) arguments on top of `base`; other
  /// arguments are left for the application. Unknown `--gapm.` names are errors.
  [[nodiscard]] static Options parse(int argc, const char* const* argv, Options base);
  [[nodiscard]] static Options parse(int argc, const char* const* argv);

  /// Reads `GAPM_NAME=VALUE` environment variables on top of `base` (dots become underscores,
  /// letters upper case: `GAPM_SYNC_MAX_PER_SEC`). Unknown `GAPM_` variables are errors.
  [[nodiscard]] static Options from_env(Options base);
  [[nodiscard]] static Options from_env();

  /// Checks the combination (tables present, powers of two, ranges); throws logic_error.
  void validate() const;

  /// "name=value" lines of every option: what nodes compare at rendezvous.
  [[nodiscard]] std::string to_string() const;

  /// Sum of the tables' key counts.
  [[nodiscard]] std::uint64_t num_keys() const noexcept;
};

}  // namespace gapm
