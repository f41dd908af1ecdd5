// snapshot_files: the on-disk format of a gapm snapshot (Node::save / Node::load).
//
// A snapshot is a manifest, at the path the user names, and one part file per node that saved
// it, named `<path>.<snapshot id>.part<rank>`. A part holds (key, row) records in key order:
// the main copies its node held. Every file states its exact length and ends with a CRC-32 of
// everything before it; the manifest names each part with its length, record count and CRC.
// Files are written under a temporary name, flushed to disk and renamed into place, and the
// manifest is written last: a crash at any moment leaves either the old snapshot or the new
// one, never a torn file. Readers verify everything before they hand out a single record.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

namespace gapm::detail::snapshot {

/// What the values look like: both sides of a save and a load must agree on it.
struct layout {
  std::uint32_t value_tag = 0;  ///< 1 float, 2 double, 3 int64
  std::uint32_t value_bytes = 0;
  std::vector<table_spec> tables;
  friend bool operator==(const layout&, const layout&) = default;
};

struct part_info {
  std::string file;  ///< the name, relative to the manifest's directory
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::uint32_t crc = 0;
};

struct manifest {
  layout shape;
  std::uint64_t id = 0;
  std::vector<part_info> parts;  ///< by rank of the node that wrote it
};

/// The part file name of `rank` in snapshot `id` saved at `path` (a full path).
[[nodiscard]] std::string part_path(const std::string& path, std::uint64_t id, int rank);

/// Writes one part: add() records in increasing key order, then finish(). Nothing appears at
/// the final name unless finish() succeeds. Throws gapm::error on I/O failure.
class part_writer {
 public:
  part_writer(std::string path, const layout& shape, std::uint64_t id, int rank, int parts, std::uint64_t records);
  ~part_writer();  ///< removes the temporary file if finish() was not reached
  part_writer(const part_writer&) = delete;
  part_writer& operator=(const part_writer&) = delete;

  /// One record: `row` holds the row length of `key`'s table in values.
  void add(key_type key, std::span<const std::byte> row);
  part_info finish();

 private:
  void write(const void* data, std::size_t bytes);

  std::string path_, temporary_;
  const layout& shape_;
  std::uint64_t expected_records_, records_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint32_t crc_ = 0;
  key_type last_key_ = 0;
  std::FILE* file_ = nullptr;
};

/// Reads and verifies one whole part (length, CRC, header against `shape`, `id`, `rank`,
/// the manifest's entry, key order and range), calling keep(key, row) for every record. The
/// caller must not act on what keep() saw until read_part returns. Throws gapm::error naming
/// the file and what is wrong.
void read_part(const std::string& path, const part_info& expected, const layout& shape, std::uint64_t id, int rank,
               int parts, const std::function<void(key_type, std::span<const std::byte>)>& keep);

/// The summary of a finished part as the manifest records it (its length, records and CRC,
/// read from its header and trailer; the full CRC is checked by read_part).
[[nodiscard]] part_info describe_part(const std::string& path, const std::string& name);

/// Writes the manifest at `path` atomically.
void write_manifest(const std::string& path, const manifest& m);
/// Reads and verifies the manifest at `path`; throws gapm::error when it is missing or damaged.
[[nodiscard]] manifest read_manifest(const std::string& path);

}  // namespace gapm::detail::snapshot
