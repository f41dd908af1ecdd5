// Split and cache of the WordNet knowledge graph (see dataset.hpp).
#include "dataset.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "random.hpp"

namespace kge {
namespace {

constexpr const char* cache_format = "gapm-wordnet-kg-1";

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1)
    fields.push_back(line.substr(start, tab - start));
  fields.push_back(line.substr(start));
  return fields;
}

std::uint64_t parse_number(std::string_view text, const std::filesystem::path& file, std::size_t line) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": not a number: '" + std::string(text) + "'");
  return value;
}

// Writes through a temporary file that is renamed into place when complete.
class atomic_file {
 public:
  explicit atomic_file(std::filesystem::path path)
      : path_{std::move(path)}, temporary_{path_.string() + ".tmp." + std::to_string(::getpid())}, out_{temporary_} {
    if (!out_) throw std::runtime_error("cannot write " + temporary_.string());
  }
  std::ofstream& stream() { return out_; }
  void commit() {
    out_.close();
    if (!out_) throw std::runtime_error("cannot write " + temporary_.string());
    std::filesystem::rename(temporary_, path_);
  }

 private:
  std::filesystem::path path_;
  std::filesystem::path temporary_;
  std::ofstream out_;
};

void write_triples(const std::vector<triple>& triples, const std::filesystem::path& path) {
  atomic_file file{path};
  for (const auto& t : triples) file.stream() << t.head << '\t' << t.relation << '\t' << t.tail << '\n';
  file.commit();
}

// Reads "id \t field..." lines; `on_line` gets the fields after checking that ids count up.
template <class F>
void read_lines(const std::filesystem::path& path, std::size_t fields_per_line, bool numbered, F&& on_line) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("damaged cache: cannot open " + path.string());
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    const auto fields = split_tabs(text);
    if (fields.size() != fields_per_line)
      throw std::runtime_error(path.string() + ":" + std::to_string(line) + ": expected " +
                               std::to_string(fields_per_line) + " tab-separated fields");
    if (numbered && parse_number(fields[0], path, line) != line - 1)
      throw std::runtime_error(path.string() + ":" + std::to_string(line) + ": ids must count up from 0");
    on_line(fields, line);
  }
}

std::vector<triple> read_triples(const std::filesystem::path& path, std::size_t entities, std::size_t relations) {
  std::vector<triple> triples;
  read_lines(path, 3, false, [&](const std::vector<std::string_view>& f, std::size_t line) {
    const triple t{static_cast<std::uint32_t>(parse_number(f[0], path, line)),
                   static_cast<std::uint32_t>(parse_number(f[1], path, line)),
                   static_cast<std::uint32_t>(parse_number(f[2], path, line))};
    if (t.head >= entities || t.tail >= entities || t.relation >= relations)
      throw std::runtime_error(path.string() + ":" + std::to_string(line) + ": id out of range");
    triples.push_back(t);
  });
  return triples;
}

std::map<std::string, std::string> read_manifest(const std::filesystem::path& path) {
  std::map<std::string, std::string> entries;
  std::ifstream in(path);
  std::string key, value;
  while (in >> key >> value) entries[key] = value;
  return entries;
}

}  // namespace

dataset split_graph(knowledge_graph graph, const split_settings& settings) {
  dataset data;
  data.entities = std::move(graph.entities);
  data.relations = std::move(graph.relations);
  data.lexical_pointers = graph.lexical_pointers;
  auto& triples = graph.triples;
  shuffle(triples, settings.seed);
  const std::size_t test = std::min(settings.test, triples.size());
  const std::size_t valid = std::min(settings.valid, triples.size() - test);
  data.train.assign(triples.begin() + static_cast<std::ptrdiff_t>(test + valid), triples.end());

  std::vector<bool> in_train(data.entities.size(), false);
  for (const auto& t : data.train) in_train[t.head] = in_train[t.tail] = true;
  auto keep_known = [&](auto first, auto last, std::vector<triple>& out, std::size_t& dropped) {
    for (auto it = first; it != last; ++it) {
      if (in_train[it->head] && in_train[it->tail]) out.push_back(*it);
      else ++dropped;
    }
  };
  keep_known(triples.begin(), triples.begin() + static_cast<std::ptrdiff_t>(test), data.test, data.dropped_test);
  keep_known(triples.begin() + static_cast<std::ptrdiff_t>(test),
             triples.begin() + static_cast<std::ptrdiff_t>(test + valid), data.valid, data.dropped_valid);
  return data;
}

std::filesystem::path default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0')
    return std::filesystem::path(xdg) / "gapm" / "wordnet-kg";
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return std::filesystem::path(home) / ".cache" / "gapm" / "wordnet-kg";
  return std::filesystem::temp_directory_path() / "gapm" / "wordnet-kg";
}

void write_cache(const dataset& data, const split_settings& settings, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  {
    atomic_file file{dir / "entities.txt"};
    for (std::size_t i = 0; i < data.entities.size(); ++i)
      file.stream() << i << '\t' << data.entities[i].synset << '\t' << data.entities[i].word << '\n';
    file.commit();
  }
  {
    atomic_file file{dir / "relations.txt"};
    for (std::size_t i = 0; i < data.relations.size(); ++i) {
      const auto& r = data.relations[i];
      file.stream() << i << '\t' << r.symbol << '\t' << r.name << '\t' << r.count << '\n';
    }
    file.commit();
  }
  write_triples(data.train, dir / "train.txt");
  write_triples(data.valid, dir / "valid.txt");
  write_triples(data.test, dir / "test.txt");
  // The manifest comes last: its presence says that the other files are complete.
  atomic_file manifest{dir / "manifest.txt"};
  manifest.stream() << "format " << cache_format << "\nsplit_seed " << settings.seed << "\nsplit_valid "
                    << settings.valid << "\nsplit_test " << settings.test << "\nentities " << data.entities.size()
                    << "\nrelations " << data.relations.size() << "\ntrain " << data.train.size() << "\nvalid "
                    << data.valid.size() << "\ntest " << data.test.size() << "\ndropped_valid "
                    << data.dropped_valid << "\ndropped_test " << data.dropped_test << "\nlexical_pointers "
                    << data.lexical_pointers << '\n';
  manifest.commit();
}

bool read_cache(const std::filesystem::path& dir, const split_settings& settings, dataset& data) {
  const auto manifest_path = dir / "manifest.txt";
  if (!std::filesystem::exists(manifest_path)) return false;
  auto manifest = read_manifest(manifest_path);
  if (manifest["format"] != cache_format || manifest["split_seed"] != std::to_string(settings.seed) ||
      manifest["split_valid"] != std::to_string(settings.valid) ||
      manifest["split_test"] != std::to_string(settings.test))
    return false;
  auto count = [&](const char* key) {
    const auto& text = manifest[key];
    return static_cast<std::size_t>(parse_number(text, manifest_path, 0));
  };
  dataset d;
  read_lines(dir / "entities.txt", 3, true, [&](const std::vector<std::string_view>& f, std::size_t) {
    d.entities.push_back({.synset = std::string(f[1]), .word = std::string(f[2])});
  });
  read_lines(dir / "relations.txt", 4, true, [&](const std::vector<std::string_view>& f, std::size_t line) {
    d.relations.push_back({.symbol = std::string(f[1]), .name = std::string(f[2]),
                           .count = parse_number(f[3], dir / "relations.txt", line)});
  });
  d.train = read_triples(dir / "train.txt", d.entities.size(), d.relations.size());
  d.valid = read_triples(dir / "valid.txt", d.entities.size(), d.relations.size());
  d.test = read_triples(dir / "test.txt", d.entities.size(), d.relations.size());
  d.dropped_valid = count("dropped_valid");
  d.dropped_test = count("dropped_test");
  d.lexical_pointers = count("lexical_pointers");
  if (d.entities.size() != count("entities") || d.relations.size() != count("relations") ||
      d.train.size() != count("train") || d.valid.size() != count("valid") || d.test.size() != count("test"))
    throw std::runtime_error("damaged cache in " + dir.string() +
                             ": the files disagree with manifest.txt (delete the folder to rebuild it)");
  d.from_cache = true;
  data = std::move(d);
  return true;
}

dataset load_dataset(const std::filesystem::path& cache_dir, const std::filesystem::path& wordnet_dir,
                     const split_settings& settings) {
  dataset data;
  if (read_cache(cache_dir, settings, data)) return data;
  data = split_graph(read_wordnet(wordnet_dir), settings);
  write_cache(data, settings, cache_dir);
  return data;
}

}  // namespace kge
