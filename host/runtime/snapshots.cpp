#include "host/runtime/snapshots.hpp"

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
std::uint64_t snapshots<T>::agree(std::uint64_t contribution) {
  return node_.net ? node_.net->barrier(contribution) : contribution;
}

template <class T>
void snapshots<T>::two_rounds() {
  std::vector<std::uint64_t> targets;
  for (auto& channel : node_.channels) targets.push_back(channel->rounds() + 2);
  for (std::size_t c = 0; c < node_.channels.size(); ++c) node_.channels[c]->wait_for_round(targets[c]);
}

template <class T>
void snapshots<T>::freeze_structure() {
  agree();  // every node is here, its workers quiet
  for (auto& channel : node_.channels) channel->request_flush();
  two_rounds();  // deltas sent in the first are merged by the end of the second
  for (auto& channel : node_.channels) channel->pause();
  for (auto& channel : node_.channels) channel->wait_idle();
  agree();  // no round is open anywhere: no main copy is on its way
}

template <class T>
void snapshots<T>::thaw_structure() noexcept {
  for (auto& channel : node_.channels) channel->resume();
}

template <class T>
std::vector<key_type> snapshots<T>::main_copies() const {
  std::shared_lock structure{node_.structure};
  std::vector<key_type> keys;
  for (std::size_t t = 0; t < node_.rows.num_tables(); ++t) {
    for (key_type k : node_.rows.table(t).index().keys())
      if (node_.owns(k)) keys.push_back(k);
  }
  return keys;
}

template <class T>
snapshot::layout snapshots<T>::shape() const {
  return {value_tag<T>(), sizeof(T), node_.options.tables};
}

template <class T>
void snapshots<T>::write_part(const std::string& file, std::uint64_t id, const snapshot::layout& layout) {
  const auto keys = main_copies();
  node_.rows.order_after_queued_writes();  // writes queued on the workers' streams are saved
  snapshot::part_writer part(file, layout, id, node_.rank(), node_.world_size(), keys.size());
  constexpr std::size_t batch = 4096;
  pinned_vector<T> rows;  // gathered from a device store by DMA
  for (std::size_t begin = 0; begin < keys.size(); begin += batch) {
    const std::size_t n = std::min(batch, keys.size() - begin);
    rows.resize(node_.keys.check_keys(keys.data() + begin, n, "save"));
    {
      std::shared_lock structure{node_.structure};
      node_.rows.gather(keys.data() + begin, n, rows.data());
    }
    const T* row = rows.data();
    for (std::size_t i = begin; i < begin + n; ++i) {
      const std::size_t length = node_.keys.row_length_of(keys[i]);
      part.add(keys[i], std::as_bytes(std::span<const T>(row, length)));
      row += length;
    }
  }
  (void)part.finish();
}

template <class T>
void snapshots<T>::publish(const std::string& path, std::uint64_t id, const snapshot::layout& layout) {
  snapshot::manifest next{layout, id, {}};
  for (int r = 0; r < node_.world_size(); ++r) {
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
void snapshots<T>::save(const std::string& path) {
  GAPM_EXPECTS(!node_.shut_down.load(), "save: the node has been shut down");
  if (node_.net) node_.net->throw_if_failed();
  freeze_structure();
  const scope_exit thaw{[this]() noexcept { thaw_structure(); }};
  const snapshot::layout layout = shape();
  const std::uint64_t id = agree(node_.rank() == 0 ? fresh_snapshot_id() : std::numeric_limits<std::uint64_t>::max());
  const std::string part = snapshot::part_path(path, id, node_.rank());

  std::string failure;
  try {
    write_part(part, id, layout);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (agree(failure.empty() ? yes : no) == yes && node_.rank() == 0) {
    try {
      publish(path, id, layout);
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
void snapshots<T>::read_mine(const std::string& path, std::vector<key_type>& keys, pinned_vector<T>& rows) {
  const snapshot::manifest m = snapshot::read_manifest(path);
  if (!(m.shape == shape()))
    throw error(concat("gapm: load: '", path, "' holds ", m.shape.tables.size(), " table(s) of ",
                       m.shape.value_tag == value_tag<float>()    ? value_name<float>()
                       : m.shape.value_tag == value_tag<double>() ? value_name<double>()
                                                                  : value_name<std::int64_t>(),
                       " values; this node has option tables=", node_.options.get("tables"), " and value type ",
                       value_name<T>()));
  const auto mine = main_copies();
  std::unordered_set<key_type> kept;
  kept.reserve(mine.size());
  for (std::size_t p = 0; p < m.parts.size(); ++p)
    snapshot::read_part(directory_of(path) + "/" + m.parts[p].file, m.parts[p], m.shape, m.id, static_cast<int>(p),
                        static_cast<int>(m.parts.size()), [&](key_type key, std::span<const std::byte> row) {
                          if (!node_.owns(key)) return;
                          if (!kept.insert(key).second)
                            throw error(concat("gapm: load: '", path, "' holds key ", key, " twice"));
                          keys.push_back(key);
                          rows.resize(rows.size() + row.size() / sizeof(T));
                          std::memcpy(rows.data() + rows.size() - row.size() / sizeof(T), row.data(), row.size());
                        });
  if (kept.size() != mine.size())
    throw error(concat("gapm: load: '", path, "' lacks ", mine.size() - kept.size(), " of the ", mine.size(),
                       " keys whose main copy node ", node_.rank(), " holds"));
}

template <class T>
void snapshots<T>::load(const std::string& path) {
  GAPM_EXPECTS(!node_.shut_down.load(), "load: the node has been shut down");
  if (node_.net) node_.net->throw_if_failed();
  freeze_structure();
  const scope_exit thaw{[this]() noexcept { thaw_structure(); }};
  std::vector<key_type> keys;
  pinned_vector<T> rows;  // written into a device store by DMA
  std::string failure;
  try {
    read_mine(path, keys, rows);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (agree(failure.empty() ? yes : no) == no)
    throw error(failure.empty() ? "gapm: load: another node refused '" + path + "' (see its error); nothing was changed"
                                : failure + "; nothing was changed");
  {  // Every node verified its share: overwrite, and let the replicas see it (a newer version).
    std::unique_lock structure{node_.structure};
    node_.rows.assign(keys.data(), keys.size(), rows.data());
    node_.bump_versions(keys.data(), keys.size());
  }
  agree();
  thaw_structure();
  two_rounds();
  agree();  // every replica has been refreshed
}

template class snapshots<float>;
template class snapshots<double>;
template class snapshots<std::int64_t>;

}  // namespace gapm::detail
