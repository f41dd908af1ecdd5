// Snapshots: Node::save and Node::load as consistent, cluster-wide operations.
//
// Both are collective (every node calls them, while no worker pulls or pushes). They first
// freeze the structure: replicas flush every delta into the main copies (two sync rounds, held
// back deltas included), then no sync round starts anywhere and the open ones complete, so
// every key has exactly one main copy and none is in flight. save() then writes each node's
// main copies as one part and rank 0 publishes the manifest; load() reads every part on every
// node, keeps the records of the main copies it holds, and only when every node has verified
// everything (a vote) overwrites them. So a snapshot restores on any number of nodes, and a
// damaged one changes nothing. File format: host/runtime/snapshot_files.hpp.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <unordered_set>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"
#include "host/runtime/node_impl.hpp"
#include "host/common/value_type.hpp"

namespace gapm::detail {
namespace {

constexpr std::uint64_t yes = 1, no = 0;

std::uint64_t fresh_snapshot_id() {
  std::random_device entropy;
  const auto now = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  return ((static_cast<std::uint64_t>(entropy()) << 32) ^ entropy() ^ now) >> 1;  // below the barrier's "no word"
}

// Runs `undo` on every way out of a scope (here: thaws the structure after a snapshot).
template <class Undo>
struct scope_exit {
  Undo undo;
  ~scope_exit() { undo(); }
};
template <class Undo>
scope_exit(Undo) -> scope_exit<Undo>;

std::string directory_of(const std::string& path) {
  const auto directory = std::filesystem::path(path).parent_path();
  return directory.empty() ? std::string(".") : directory.string();
}

}  // namespace

template <class T>
std::uint64_t node_impl<T>::agree(std::uint64_t contribution) {
  return cluster_ ? cluster_->barrier(contribution) : contribution;
}

template <class T>
void node_impl<T>::freeze_structure() {
  agree();  // every node is here, its workers quiet
  std::vector<std::uint64_t> targets;
  for (auto& manager : sync_managers_) {
    manager->request_flush();
    targets.push_back(manager->rounds() + 2);  // deltas sent in the first are merged by the end of the second
  }
  for (std::size_t c = 0; c < sync_managers_.size(); ++c) sync_managers_[c]->wait_for_round(targets[c]);
  for (auto& manager : sync_managers_) manager->pause();
  for (auto& manager : sync_managers_) manager->wait_idle();
  agree();  // no round is open anywhere: no main copy is on its way
}

template <class T>
void node_impl<T>::thaw_structure() noexcept {
  for (auto& manager : sync_managers_) manager->resume();
}

template <class T>
std::vector<key_type> node_impl<T>::main_copies() const {
  std::shared_lock structure{structure_mutex_};
  std::vector<key_type> keys;
  for (const auto& store : stores_) {
    const auto& slots = store->index().slots();
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i] >= 0 && owns(store->index().first_key() + i)) keys.push_back(store->index().first_key() + i);
  }
  return keys;
}

template <class T>
snapshot::layout node_impl<T>::snapshot_shape() const {
  return {value_tag<T>(), sizeof(T), options_.tables};
}

template <class T>
void node_impl<T>::write_snapshot_part(const std::string& file, std::uint64_t id, const snapshot::layout& shape) {
  const auto keys = main_copies();
  snapshot::part_writer part(file, shape, id, env_.rank, env_.world_size, keys.size());
  constexpr std::size_t batch = 4096;
  std::vector<T> rows;
  for (std::size_t begin = 0; begin < keys.size(); begin += batch) {
    const std::size_t n = std::min(batch, keys.size() - begin);
    std::size_t values = 0;
    for (std::size_t i = begin; i < begin + n; ++i) values += keys_.row_length_of(keys[i]);
    rows.resize(values);
    {
      std::shared_lock structure{structure_mutex_};
      gather_rows(keys.data() + begin, n, rows.data());
    }
    const T* row = rows.data();
    for (std::size_t i = begin; i < begin + n; ++i) {
      const std::size_t length = keys_.row_length_of(keys[i]);
      part.add(keys[i], std::as_bytes(std::span<const T>(row, length)));
      row += length;
    }
  }
  (void)part.finish();
}

template <class T>
void node_impl<T>::publish_snapshot(const std::string& path, std::uint64_t id, const snapshot::layout& shape) {
  snapshot::manifest next{shape, id, {}};
  for (int r = 0; r < env_.world_size; ++r) {
    const std::string file = snapshot::part_path(path, id, r);
    if (!std::filesystem::exists(file))
      throw error(concat("gapm: save: node 0 cannot see the part of node ", r, " ('", file,
                         "'): snapshots need a file system that every node shares"));
    next.parts.push_back(snapshot::describe_part(file, std::filesystem::path(file).filename().string()));
  }
  std::vector<std::string> old_parts;
  try {
    for (const auto& part : snapshot::read_manifest(path).parts) old_parts.push_back(part.file);
  } catch (const error&) {  // no previous snapshot (or a damaged one): nothing to clean up
  }
  snapshot::write_manifest(path, next);
  for (const auto& old : old_parts)  // the old snapshot's parts, now that the new one is in place
    if (std::none_of(next.parts.begin(), next.parts.end(), [&](const auto& p) { return p.file == old; }))
      std::filesystem::remove(directory_of(path) + "/" + old);
}

template <class T>
void node_impl<T>::save(const std::string& path) {
  GAPM_EXPECTS(!shut_down_.load(), "save: the node has been shut down");
  if (cluster_) cluster_->throw_if_failed();
  freeze_structure();
  const scope_exit thaw{[this]() noexcept { thaw_structure(); }};
  const snapshot::layout shape = snapshot_shape();
  const std::uint64_t id = agree(env_.rank == 0 ? fresh_snapshot_id() : std::numeric_limits<std::uint64_t>::max());
  const std::string part = snapshot::part_path(path, id, env_.rank);

  std::string failure;
  try {
    write_snapshot_part(part, id, shape);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (agree(failure.empty() ? yes : no) == yes && env_.rank == 0) {
    try {
      publish_snapshot(path, id, shape);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (agree(failure.empty() ? yes : no) == yes) return;
  std::filesystem::remove(part);  // an unpublished part is of no use
  throw error(failure.empty() ? "gapm: save: another node could not write its part of '" + path +
                                    "' (see its error); the previous snapshot is unchanged"
                              : failure);
}

template <class T>
void node_impl<T>::load(const std::string& path) {
  GAPM_EXPECTS(!shut_down_.load(), "load: the node has been shut down");
  if (cluster_) cluster_->throw_if_failed();
  freeze_structure();
  const scope_exit thaw{[this]() noexcept { thaw_structure(); }};

  // Read and verify everything; keep the records of the main copies held here.
  std::vector<key_type> keys;
  std::vector<T> rows;
  std::string failure;
  try {
    const snapshot::manifest m = snapshot::read_manifest(path);
    if (!(m.shape == snapshot_shape()))
      throw error(concat("gapm: load: '", path, "' holds ", m.shape.tables.size(), " table(s) of ",
                         m.shape.value_tag == value_tag<float>()    ? value_name<float>()
                         : m.shape.value_tag == value_tag<double>() ? value_name<double>()
                                                                    : value_name<std::int64_t>(),
                         " values; this node has option tables=", options_.get("tables"), " and value type ",
                         value_name<T>()));
    const auto mine = main_copies();
    std::unordered_set<key_type> kept;
    kept.reserve(mine.size());
    for (std::size_t p = 0; p < m.parts.size(); ++p)
      snapshot::read_part(directory_of(path) + "/" + m.parts[p].file, m.parts[p], m.shape, m.id, static_cast<int>(p),
                          static_cast<int>(m.parts.size()), [&](key_type key, std::span<const std::byte> row) {
                            if (!owns(key)) return;
                            if (!kept.insert(key).second)
                              throw error(concat("gapm: load: '", path, "' holds key ", key, " twice"));
                            keys.push_back(key);
                            rows.resize(rows.size() + row.size() / sizeof(T));
                            std::memcpy(rows.data() + rows.size() - row.size() / sizeof(T), row.data(), row.size());
                          });
    if (kept.size() != mine.size())
      throw error(concat("gapm: load: '", path, "' lacks ", mine.size() - kept.size(), " of the ", mine.size(),
                         " keys whose main copy node ", env_.rank, " holds"));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (agree(failure.empty() ? yes : no) == no)
    throw error(failure.empty() ? "gapm: load: another node refused '" + path + "' (see its error); nothing was changed"
                                : failure + "; nothing was changed");

  {  // Every node verified its share: overwrite, and let the replicas see it (a newer version).
    std::unique_lock structure{structure_mutex_};
    write_rows(write_kind::assign, keys.data(), keys.size(), rows.data());
    bump_versions(keys.data(), keys.size());
  }
  agree();
  thaw_structure();
  std::vector<std::uint64_t> targets;
  for (auto& manager : sync_managers_) targets.push_back(manager->rounds() + 2);
  for (std::size_t c = 0; c < sync_managers_.size(); ++c) sync_managers_[c]->wait_for_round(targets[c]);
  agree();  // every replica has been refreshed
}

#define GAPM_INSTANTIATE_NODE_SNAPSHOT(T)                                                              \
  template std::uint64_t node_impl<T>::agree(std::uint64_t);                                           \
  template void node_impl<T>::freeze_structure();                                                      \
  template void node_impl<T>::thaw_structure() noexcept;                                               \
  template std::vector<key_type> node_impl<T>::main_copies() const;                                    \
  template snapshot::layout node_impl<T>::snapshot_shape() const;                                      \
  template void node_impl<T>::save(const std::string&);                                                \
  template void node_impl<T>::load(const std::string&);

GAPM_INSTANTIATE_NODE_SNAPSHOT(float)
GAPM_INSTANTIATE_NODE_SNAPSHOT(double)
GAPM_INSTANTIATE_NODE_SNAPSHOT(std::int64_t)
#undef GAPM_INSTANTIATE_NODE_SNAPSHOT

}  // namespace gapm::detail
