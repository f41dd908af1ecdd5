#include "host/runtime/snapshot_files.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"

namespace gapm::detail::snapshot {
namespace {

constexpr char part_magic[8] = {'G', 'A', 'P', 'M', 'P', 'R', 'T', '1'};
constexpr char manifest_magic[8] = {'G', 'A', 'P', 'M', 'S', 'N', 'P', '1'};
constexpr std::uint32_t format_version = 1;
constexpr std::size_t trailer_bytes = 8 + 8 + 4;  // records, payload bytes, CRC

std::uint32_t crc_of(std::uint32_t crc, const void* data, std::size_t bytes) {
  return static_cast<std::uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), bytes));
}

[[noreturn]] void damaged(const std::string& file, const std::string& what) {
  throw error("gapm: load: snapshot file '" + file + "' is damaged or not part of this snapshot: " + what);
}

std::string errno_text() { return std::strerror(errno); }

// Appends the binary form of trivially copyable values to a byte buffer.
struct byte_builder {
  std::vector<std::byte> bytes;
  template <class V>
  void put(const V& value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof value);
  }
  void put_bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::byte*>(data);
    bytes.insert(bytes.end(), p, p + n);
  }
};

// Reads values off a byte buffer, refusing to read past its end.
struct byte_reader {
  std::span<const std::byte> rest;
  const std::string& file;
  template <class V>
  V get(const char* what) {
    V value;
    if (rest.size() < sizeof value) damaged(file, std::string("truncated at the ") + what);
    std::memcpy(&value, rest.data(), sizeof value);
    rest = rest.subspan(sizeof value);
    return value;
  }
};

std::vector<std::byte> part_header(const layout& shape, std::uint64_t id, int rank, int parts) {
  byte_builder b;
  b.put_bytes(part_magic, sizeof part_magic);
  b.put(format_version);
  b.put(shape.value_tag);
  b.put(shape.value_bytes);
  b.put(static_cast<std::uint32_t>(rank));
  b.put(static_cast<std::uint32_t>(parts));
  b.put(static_cast<std::uint32_t>(shape.tables.size()));
  b.put(id);
  for (const auto& t : shape.tables) {
    b.put(t.num_keys);
    b.put(t.row_length);
  }
  return b.bytes;
}

// The row bytes of `key`'s table, or 0 for a key out of range.
std::uint64_t row_bytes_of(const layout& shape, key_type key) {
  for (const auto& t : shape.tables) {
    if (key < t.num_keys) return static_cast<std::uint64_t>(t.row_length) * shape.value_bytes;
    key -= t.num_keys;
  }
  return 0;
}

// Writes `bytes` to `path` through a temporary file, flushed and renamed into place.
void write_atomically(const std::string& path, std::span<const std::byte> bytes) {
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw error("gapm: save: cannot create '" + temporary + "': " + errno_text());
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size() && std::fflush(file) == 0 &&
                  ::fsync(::fileno(file)) == 0;
  const std::string why = errno_text();
  std::fclose(file);
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw error("gapm: save: writing '" + path + "' failed: " + why);
  }
}

// Makes a rename in `path`'s directory durable.
void sync_directory_of(const std::string& path) {
  const auto directory = std::filesystem::path(path).parent_path();
  const int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string part_path(const std::string& path, std::uint64_t id, int rank) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
  return path + "." + hex + ".part" + std::to_string(rank);
}

part_writer::part_writer(std::string path, const layout& shape, std::uint64_t id, int rank, int parts,
                         std::uint64_t records)
    : path_{std::move(path)}, temporary_{path_ + ".tmp"}, shape_{shape}, expected_records_{records} {
  file_ = std::fopen(temporary_.c_str(), "wb");
  if (file_ == nullptr) throw error("gapm: save: cannot create '" + temporary_ + "': " + errno_text());
  const auto header = part_header(shape, id, rank, parts);
  write(header.data(), header.size());
}

part_writer::~part_writer() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::remove(temporary_.c_str());
}

void part_writer::write(const void* data, std::size_t bytes) {
  if (std::fwrite(data, 1, bytes, file_) != bytes)
    throw error("gapm: save: writing '" + temporary_ + "' failed: " + errno_text());
  crc_ = crc_of(crc_, data, bytes);
  bytes_ += bytes;
}

void part_writer::add(key_type key, std::span<const std::byte> row) {
  GAPM_EXPECTS(records_ == 0 || key > last_key_, "snapshot records out of key order");
  GAPM_EXPECTS(row.size() == row_bytes_of(shape_, key), "snapshot record of key ", key, " has the wrong row size");
  write(&key, sizeof key);
  write(row.data(), row.size());
  last_key_ = key;
  ++records_;
}

part_info part_writer::finish() {
  GAPM_EXPECTS(records_ == expected_records_, "snapshot part has ", records_, " records, ", expected_records_,
               " announced");
  const std::uint64_t payload = bytes_ - part_header(shape_, 0, 0, 0).size();
  write(&records_, sizeof records_);
  write(&payload, sizeof payload);
  const std::uint32_t crc = crc_;
  if (std::fwrite(&crc, 1, sizeof crc, file_) != sizeof crc || std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw error("gapm: save: writing '" + temporary_ + "' failed: " + errno_text());
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
    std::remove(temporary_.c_str());
    throw error("gapm: save: cannot rename '" + temporary_ + "' to '" + path_ + "': " + errno_text());
  }
  sync_directory_of(path_);
  return {std::filesystem::path(path_).filename().string(), bytes_ + sizeof crc, records_, crc};
}

part_info describe_part(const std::string& path, const std::string& name) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw error("gapm: save: cannot open '" + path + "': " + errno_text());
  part_info info{name, 0, 0, 0};
  std::uint64_t payload = 0;
  const bool ok = std::fseek(file, 0, SEEK_END) == 0 && (info.bytes = static_cast<std::uint64_t>(std::ftell(file))) >= trailer_bytes &&
                  std::fseek(file, -static_cast<long>(trailer_bytes), SEEK_END) == 0 &&
                  std::fread(&info.records, sizeof info.records, 1, file) == 1 &&
                  std::fread(&payload, sizeof payload, 1, file) == 1 && std::fread(&info.crc, sizeof info.crc, 1, file) == 1;
  std::fclose(file);
  if (!ok) throw error("gapm: save: cannot read the trailer of '" + path + "'");
  return info;
}

void read_part(const std::string& path, const part_info& expected, const layout& shape, std::uint64_t id, int rank,
               int parts, const std::function<void(key_type, std::span<const std::byte>)>& keep) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw error("gapm: load: cannot open snapshot part '" + path + "': " + errno_text());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer{file, &std::fclose};
  std::vector<char> buffer(1 << 20);
  std::setvbuf(file, buffer.data(), _IOFBF, buffer.size());
  std::fseek(file, 0, SEEK_END);
  const auto size = static_cast<std::uint64_t>(std::ftell(file));
  std::fseek(file, 0, SEEK_SET);
  if (size != expected.bytes)
    damaged(path, concat("it has ", size, " bytes, the manifest says ", expected.bytes));

  // The header must be exactly what this snapshot's part `rank` starts with.
  const auto header = part_header(shape, id, rank, parts);
  std::vector<std::byte> head(header.size());
  if (size < header.size() + trailer_bytes || std::fread(head.data(), 1, head.size(), file) != head.size())
    damaged(path, "shorter than its header");
  std::uint32_t crc = crc_of(0, head.data(), head.size());
  if (head != header) damaged(path, "its header does not match the manifest (value type, tables, id or rank)");

  const std::uint64_t payload = size - header.size() - trailer_bytes;
  std::vector<std::byte> row;
  std::uint64_t records = 0, read = 0;
  key_type last = 0;
  while (read < payload) {
    key_type key = 0;
    if (payload - read < sizeof key || std::fread(&key, sizeof key, 1, file) != 1) damaged(path, "a record is cut off");
    crc = crc_of(crc, &key, sizeof key);
    const std::uint64_t bytes = row_bytes_of(shape, key);
    if (bytes == 0) damaged(path, concat("key ", key, " is out of range"));
    if (records > 0 && key <= last) damaged(path, concat("key ", key, " is out of order"));
    read += sizeof key;
    row.resize(bytes);
    if (payload - read < bytes || std::fread(row.data(), 1, bytes, file) != bytes) damaged(path, "a record is cut off");
    crc = crc_of(crc, row.data(), bytes);
    read += bytes;
    keep(key, row);
    last = key;
    ++records;
  }
  std::uint64_t trailer_records = 0, trailer_payload = 0;
  std::uint32_t trailer_crc = 0;
  if (std::fread(&trailer_records, sizeof trailer_records, 1, file) != 1 ||
      std::fread(&trailer_payload, sizeof trailer_payload, 1, file) != 1 ||
      std::fread(&trailer_crc, sizeof trailer_crc, 1, file) != 1)
    damaged(path, "its trailer is cut off");
  crc = crc_of(crc, &trailer_records, sizeof trailer_records);
  crc = crc_of(crc, &trailer_payload, sizeof trailer_payload);
  if (crc != trailer_crc || crc != expected.crc) damaged(path, "its checksum does not match its contents");
  if (trailer_records != records || records != expected.records || trailer_payload != payload)
    damaged(path, concat("it holds ", records, " records, its trailer and the manifest say ", trailer_records, " and ",
                         expected.records));
}

void write_manifest(const std::string& path, const manifest& m) {
  byte_builder b;
  b.put_bytes(manifest_magic, sizeof manifest_magic);
  b.put(format_version);
  b.put(m.shape.value_tag);
  b.put(m.shape.value_bytes);
  b.put(static_cast<std::uint32_t>(m.shape.tables.size()));
  b.put(m.id);
  for (const auto& t : m.shape.tables) {
    b.put(t.num_keys);
    b.put(t.row_length);
  }
  b.put(static_cast<std::uint32_t>(m.parts.size()));
  for (const auto& p : m.parts) {
    b.put(static_cast<std::uint32_t>(p.file.size()));
    b.put_bytes(p.file.data(), p.file.size());
    b.put(p.bytes);
    b.put(p.records);
    b.put(p.crc);
  }
  b.put(crc_of(0, b.bytes.data(), b.bytes.size()));
  write_atomically(path, b.bytes);
  sync_directory_of(path);
}

manifest read_manifest(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw error("gapm: load: cannot open snapshot '" + path + "': " + errno_text());
  std::vector<std::byte> bytes;
  std::byte chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, file)) > 0;) bytes.insert(bytes.end(), chunk, chunk + n);
  std::fclose(file);
  std::uint32_t stored = 0;
  if (bytes.size() < sizeof manifest_magic + sizeof stored) damaged(path, "too short to be a snapshot manifest");
  std::memcpy(&stored, bytes.data() + bytes.size() - sizeof stored, sizeof stored);
  if (std::memcmp(bytes.data(), manifest_magic, sizeof manifest_magic) != 0) damaged(path, "not a gapm snapshot manifest");
  if (crc_of(0, bytes.data(), bytes.size() - sizeof stored) != stored) damaged(path, "its checksum does not match its contents");

  byte_reader in{std::span<const std::byte>(bytes).subspan(sizeof manifest_magic, bytes.size() - sizeof manifest_magic - sizeof stored), path};
  manifest m;
  if (in.get<std::uint32_t>("format version") != format_version) damaged(path, "written by another format version");
  m.shape.value_tag = in.get<std::uint32_t>("value type");
  m.shape.value_bytes = in.get<std::uint32_t>("value size");
  const auto tables = in.get<std::uint32_t>("table count");
  m.id = in.get<std::uint64_t>("snapshot id");
  for (std::uint32_t t = 0; t < tables && t < (1u << 20); ++t) {
    table_spec spec;
    spec.num_keys = in.get<std::uint64_t>("tables");
    spec.row_length = in.get<std::uint32_t>("tables");
    m.shape.tables.push_back(spec);
  }
  const auto parts = in.get<std::uint32_t>("part count");
  for (std::uint32_t p = 0; p < parts && p < (1u << 20); ++p) {
    part_info info;
    const auto length = in.get<std::uint32_t>("part name");
    if (length > in.rest.size()) damaged(path, "a part name is cut off");
    info.file.assign(reinterpret_cast<const char*>(in.rest.data()), length);
    in.rest = in.rest.subspan(length);
    info.bytes = in.get<std::uint64_t>("part length");
    info.records = in.get<std::uint64_t>("part records");
    info.crc = in.get<std::uint32_t>("part checksum");
    if (info.file.find('/') != std::string::npos) damaged(path, "a part name leaves the snapshot's directory");
    m.parts.push_back(std::move(info));
  }
  if (!in.rest.empty() || m.parts.size() != parts || m.shape.tables.size() != tables)
    damaged(path, "its length does not match its contents");
  return m;
}

}  // namespace gapm::detail::snapshot
