// MatrixMarket coordinate reader and writer. The reader parses the whole file from one
// buffer with std::from_chars: a 2 M-line file takes a fraction of a second, where an
// iostream per number would take several.
#include "matrix_market.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace mf {
namespace {

constexpr std::string_view banner = "%%MatrixMarket matrix coordinate real general";

// Walks a file's text, counting lines for error messages.
class text_cursor {
 public:
  text_cursor(std::string_view text, const std::string& name)
      : at_{text.data()}, end_{text.data() + text.size()}, name_{name} {}

  [[noreturn]] void fail(const std::string& what) const { fail_at(line_, what); }
  [[noreturn]] void fail_at(std::uint64_t line, const std::string& what) const {
    throw std::runtime_error(name_ + ":" + std::to_string(line) + ": " + what);
  }

  [[nodiscard]] bool done() const { return at_ == end_; }
  [[nodiscard]] char peek() const { return at_ == end_ ? '\n' : *at_; }
  [[nodiscard]] std::uint64_t line() const { return line_; }

  // Spaces and tabs (and the \r of CRLF files) within one line.
  void skip_blanks() {
    while (at_ != end_ && (*at_ == ' ' || *at_ == '\t' || *at_ == '\r')) ++at_;
  }
  // Blanks and whole empty lines.
  void skip_space() {
    while (at_ != end_ && (*at_ == ' ' || *at_ == '\t' || *at_ == '\r' || *at_ == '\n')) {
      if (*at_ == '\n') ++line_;
      ++at_;
    }
  }
  // The rest of the current line, without its newline, which is consumed.
  std::string_view take_line() {
    const char* start = at_;
    while (at_ != end_ && *at_ != '\n') ++at_;
    std::string_view text(start, static_cast<std::size_t>(at_ - start));
    if (at_ != end_) {
      ++at_;
      ++line_;
    }
    return text;
  }
  // After the last field of a line: only blanks may follow.
  void finish_line() {
    skip_blanks();
    if (at_ == end_) return;
    if (*at_ != '\n') fail("unexpected text '" + std::string(take_word()) + "' at the end of the line");
    ++at_;
    ++line_;
  }

  std::uint64_t read_count(const char* what) {
    skip_blanks();
    std::uint64_t value = 0;
    auto [next, ec] = std::from_chars(at_, end_, value);
    if (ec != std::errc{}) fail(std::string("expected ") + what + ", found '" + std::string(take_word()) + "'");
    at_ = next;
    return value;
  }

  double read_value() {
    skip_blanks();
    if (at_ != end_ && *at_ == '+') ++at_;  // from_chars takes no leading '+'
    double value = 0;
    auto [next, ec] = std::from_chars(at_, end_, value);
    if (ec != std::errc{}) fail("expected a value, found '" + std::string(take_word()) + "'");
    at_ = next;
    return value;
  }

 private:
  std::string_view take_word() {
    const char* start = at_;
    while (at_ != end_ && !std::isspace(static_cast<unsigned char>(*at_))) ++at_;
    return {start, static_cast<std::size_t>(at_ - start)};
  }

  const char* at_;
  const char* end_;
  std::uint64_t line_ = 1;
  const std::string& name_;
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "%%MatrixMarket matrix coordinate real general": only this layout (or integer values) has
// one stored entry per revealed cell.
void check_banner(std::string_view line, std::uint64_t line_number, const text_cursor& cursor) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && std::isspace(static_cast<unsigned char>(line[at]))) ++at;
    std::size_t start = at;
    while (at < line.size() && !std::isspace(static_cast<unsigned char>(line[at]))) ++at;
    if (at > start) words.push_back(lower(line.substr(start, at - start)));
  }
  const bool ok = words.size() == 5 && words[1] == "matrix" && words[2] == "coordinate" &&
                  (words[3] == "real" || words[3] == "integer" || words[3] == "double") && words[4] == "general";
  if (!ok) cursor.fail_at(line_number, "unsupported banner '" + std::string(line) + "': expected '" + std::string(banner) + "'");
}

matrix_shape parse_shape(text_cursor& cursor) {
  // Comment lines (the banner first, if any) and blank lines, then the size line.
  bool first = true;
  for (;;) {
    if (cursor.done()) cursor.fail("no size line 'ROWS COLS NNZ'");
    if (cursor.peek() == '%') {
      const std::uint64_t line_number = cursor.line();
      std::string_view comment = cursor.take_line();
      if (first && comment.starts_with("%%")) check_banner(comment, line_number, cursor);
    } else if (cursor.peek() == '\n' || cursor.peek() == '\r') {
      cursor.take_line();
    } else {
      break;
    }
    first = false;
  }
  matrix_shape shape;
  shape.rows = cursor.read_count("the number of rows");
  shape.cols = cursor.read_count("the number of columns");
  shape.nnz = cursor.read_count("the number of entries");
  cursor.finish_line();
  // Indices are held as 32-bit numbers in memory.
  constexpr std::uint64_t max_dim = std::numeric_limits<std::uint32_t>::max();
  if (shape.rows > max_dim || shape.cols > max_dim)
    cursor.fail("the matrix is " + std::to_string(shape.rows) + " x " + std::to_string(shape.cols) +
                ": at most 2^32 - 1 rows and columns are supported");
  return shape;
}

std::string read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw std::runtime_error("cannot open '" + path + "'");
  std::string text;
  if (std::fseek(file.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(file.get());
    if (size > 0) text.resize(static_cast<std::size_t>(size));
    std::rewind(file.get());
  }
  const std::size_t got = std::fread(text.data(), 1, text.size(), file.get());
  if (got != text.size() || std::ferror(file.get())) throw std::runtime_error("cannot read '" + path + "'");
  return text;
}

template <class Number>
void append_number(std::string& out, Number value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

}  // namespace

sparse_matrix parse_matrix_market(std::string_view text, const std::string& name) {
  text_cursor cursor(text, name);
  const matrix_shape shape = parse_shape(cursor);
  sparse_matrix m;
  m.rows = shape.rows;
  m.cols = shape.cols;
  m.entries.resize(shape.nnz);
  for (std::uint64_t k = 0; k < shape.nnz; ++k) {
    cursor.skip_space();
    if (cursor.done())
      cursor.fail("the file ends after " + std::to_string(k) + " of " + std::to_string(shape.nnz) + " entries");
    const std::uint64_t i = cursor.read_count("a row index");
    const std::uint64_t j = cursor.read_count("a column index");
    const double x = cursor.read_value();
    if (i < 1 || i > shape.rows)
      cursor.fail("row index " + std::to_string(i) + " is outside [1, " + std::to_string(shape.rows) + "]");
    if (j < 1 || j > shape.cols)
      cursor.fail("column index " + std::to_string(j) + " is outside [1, " + std::to_string(shape.cols) + "]");
    cursor.finish_line();
    m.entries[k] = {static_cast<std::uint32_t>(i - 1), static_cast<std::uint32_t>(j - 1), x};
  }
  cursor.skip_space();
  if (!cursor.done()) cursor.fail("more entries than the " + std::to_string(shape.nnz) + " the size line announces");
  return m;
}

sparse_matrix read_matrix_market(const std::string& path) {
  return parse_matrix_market(read_whole_file(path), path);
}

matrix_shape read_matrix_market_shape(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  // The header is a few lines: read until the size line, not the whole file.
  std::string header;
  std::string line;
  while (std::getline(in, line)) {
    header += line;
    header += '\n';
    if (!line.empty() && line[0] != '%' && line.find_first_not_of(" \t\r") != std::string::npos) break;
  }
  text_cursor cursor(header, path);
  return parse_shape(cursor);
}

std::string format_matrix_market(const sparse_matrix& m) {
  std::string out;
  out.reserve(64 + m.entries.size() * 24);
  out += banner;
  out += '\n';
  append_number(out, m.rows);
  out += ' ';
  append_number(out, m.cols);
  out += ' ';
  append_number(out, static_cast<std::uint64_t>(m.entries.size()));
  out += '\n';
  for (const matrix_entry& e : m.entries) {
    append_number(out, static_cast<std::uint64_t>(e.row) + 1);
    out += ' ';
    append_number(out, static_cast<std::uint64_t>(e.col) + 1);
    out += ' ';
    append_number(out, e.value);  // shortest text that reads back to the same double
    out += '\n';
  }
  return out;
}

void write_matrix_market(const std::string& path, const sparse_matrix& m) {
  const std::string text = format_matrix_market(m);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) throw std::runtime_error("cannot create '" + path + "'");
  if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size())
    throw std::runtime_error("cannot write '" + path + "'");
  if (std::fclose(file.release()) != 0) throw std::runtime_error("cannot write '" + path + "'");
}

}  // namespace mf
