// Snapshot files (host/runtime/snapshot_files.hpp) on one node: every kind of damage is refused before
// a single value changes, and an intact snapshot restores exactly.
#include <gapm/gapm.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "expect_error.hpp"

namespace {

namespace fs = std::filesystem;
using gapm::key_type;
using value = std::int64_t;

gapm::Options options() {
  gapm::Options o;
  o.tables = {{40, 3}, {7, 5}};
  return o;
}

std::vector<value> all_values(gapm::Worker<value>& w, const gapm::Node<value>& node) {
  std::vector<key_type> keys(node.num_keys());
  std::iota(keys.begin(), keys.end(), key_type{0});
  std::vector<value> out(40 * 3 + 7 * 5);
  w.wait(w.pull(keys.data(), keys.size(), out.data()));
  return out;
}

void set_all(gapm::Worker<value>& w, const gapm::Node<value>& node, value base) {
  std::vector<key_type> keys(node.num_keys());
  std::iota(keys.begin(), keys.end(), key_type{0});
  std::vector<value> rows(40 * 3 + 7 * 5);
  std::iota(rows.begin(), rows.end(), base);
  w.wait(w.set(keys.data(), keys.size(), rows.data()));
}

// Changes bytes [at, at + n) of `file` (xor 0x5a), at < 0 counting from the end.
void flip(const fs::path& file, long at, std::size_t n) {
  const auto size = static_cast<long>(fs::file_size(file));
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  for (std::size_t i = 0; i < n; ++i) {
    const long offset = (at < 0 ? size + at : at) + static_cast<long>(i);
    char byte = 0;
    f.seekg(offset);
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5a);
    f.seekp(offset);
    f.write(&byte, 1);
  }
}

void append(const fs::path& file, std::size_t n) {
  std::ofstream f(file, std::ios::binary | std::ios::app);
  const std::string junk(n, '\0');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

struct directory {
  fs::path path = fs::temp_directory_path() / ("gapm_snapshot_" + std::to_string(::getpid()));
  directory() { fs::create_directories(path); }
  ~directory() { fs::remove_all(path); }
};

TEST(Snapshot, EveryKindOfDamageIsRefusedAndChangesNothing) {
  directory dir;
  const fs::path saved = dir.path / "saved", damaged = dir.path / "damaged";
  fs::create_directories(saved);
  gapm::Node<value> node(options());
  gapm::Worker<value> w(node, 0);
  set_all(w, node, 1000);
  node.save((saved / "model").string());
  const auto snapshot = all_values(w, node);
  set_all(w, node, -5);  // the live values a refused load must leave alone
  const auto live = all_values(w, node);

  fs::path part;
  for (const auto& entry : fs::directory_iterator(saved))
    if (entry.path().string().find(".part0") != std::string::npos) part = entry.path().filename();
  ASSERT_FALSE(part.empty());
  const std::vector<std::pair<std::string, std::function<void()>>> damages = {
      {"a flipped payload byte", [&] { flip(damaged / part, 200, 1); }},
      {"five changed header bytes", [&] { flip(damaged / part, 12, 5); }},
      {"24 extra bytes at the end of a part", [&] { append(damaged / part, 24); }},
      {"a truncated part", [&] { fs::resize_file(damaged / part, fs::file_size(damaged / part) - 1); }},
      {"a changed checksum", [&] { flip(damaged / part, -1, 1); }},
      {"a missing part", [&] { fs::remove(damaged / part); }},
      {"a flipped manifest byte", [&] { flip(damaged / "model", 20, 1); }},
      {"24 extra bytes at the end of the manifest", [&] { append(damaged / "model", 24); }},
      {"a truncated manifest", [&] { fs::resize_file(damaged / "model", 10); }},
  };
  for (const auto& [what, damage] : damages) {
    fs::remove_all(damaged);
    fs::copy(saved, damaged);
    damage();
    EXPECT_THROW(node.load((damaged / "model").string()), gapm::error) << what;
    EXPECT_EQ(all_values(w, node), live) << what;
  }
  node.load((saved / "model").string());
  EXPECT_EQ(all_values(w, node), snapshot);
}

TEST(Snapshot, ASecondSaveReplacesTheFirstAndRemovesItsParts) {
  directory dir;
  gapm::Node<value> node(options());
  gapm::Worker<value> w(node, 0);
  const std::string path = (dir.path / "model").string();
  set_all(w, node, 1);
  node.save(path);
  set_all(w, node, 2);
  node.save(path);
  int parts = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) parts += entry.path().string().find(".part") != std::string::npos;
  EXPECT_EQ(parts, 1);
  set_all(w, node, 3);
  node.load(path);
  std::vector<value> expected(40 * 3 + 7 * 5);
  std::iota(expected.begin(), expected.end(), value{2});
  EXPECT_EQ(all_values(w, node), expected);
}

TEST(Snapshot, ASnapshotOfOtherTablesOrAnotherValueTypeIsRefusedNamingTheDifference) {
  directory dir;
  const std::string path = (dir.path / "model").string();
  {
    gapm::Node<value> node(options());
    node.save(path);
  }
  gapm::Options other = options();
  other.tables[1].row_length = 4;
  gapm::Node<value> mismatched(other);
  gapm::testing::expect_error<gapm::error>([&] { mismatched.load(path); }, "tables=40x3,7x4");
  gapm::Node<double> wrong_type(options());
  gapm::testing::expect_error<gapm::error>([&] { wrong_type.load(path); }, "value type double");
  gapm::Node<value> node(options());
  gapm::testing::expect_error<gapm::error>([&] { node.load((dir.path / "missing").string()); }, "cannot open");
}

}  // namespace
