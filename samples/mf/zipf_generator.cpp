// Synthetic Zipf matrices for the MF sample.
#include "zipf_generator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mf {
namespace {

// A set of cells (row * cols + col), open addressing: the generator's duplicate check, fast
// enough for millions of cells (std::unordered_set allocates a node per cell).
class cell_set {
 public:
  explicit cell_set(std::uint64_t expected) {
    std::uint64_t capacity = 16;
    while (capacity < 2 * expected) capacity *= 2;
    slots_.assign(capacity, empty);
  }
  // True when `cell` was not in the set yet.
  bool insert(std::uint64_t cell) {
    const std::uint64_t mask = slots_.size() - 1;
    for (std::uint64_t at = mix(cell) & mask;; at = (at + 1) & mask) {
      if (slots_[at] == cell) return false;
      if (slots_[at] == empty) {
        slots_[at] = cell;
        return true;
      }
    }
  }

 private:
  static constexpr std::uint64_t empty = ~std::uint64_t{0};
  static std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::vector<std::uint64_t> slots_;
};

// Independent streams for the parts of the data set, so that changing one part (say, the
// number of points) leaves the others (the planted model) as they were.
std::mt19937_64 stream(std::uint64_t seed, std::uint64_t part) {
  std::seed_seq sequence{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                         static_cast<std::uint32_t>(part)};
  return std::mt19937_64(sequence);
}

std::vector<double> planted_factors(std::uint64_t count, std::uint32_t rank, std::mt19937_64 engine) {
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(std::sqrt(static_cast<double>(rank))));
  std::vector<double> factors(count * rank);
  for (double& f : factors) f = normal(engine);
  return factors;
}

}  // namespace

zipf_distribution::zipf_distribution(std::uint64_t n, double s) {
  if (n == 0) throw std::invalid_argument("zipf_distribution: n must be at least 1");
  if (!(s >= 0)) throw std::invalid_argument("zipf_distribution: the exponent must be >= 0, got " + std::to_string(s));
  cumulative_.resize(n);
  double sum = 0;
  for (std::uint64_t k = 0; k < n; ++k) {
    sum += std::pow(static_cast<double>(k + 1), -s);
    cumulative_[k] = sum;
  }
}

double zipf_distribution::probability(std::uint64_t k) const {
  const double below = k == 0 ? 0.0 : cumulative_[k - 1];
  return (cumulative_[k] - below) / cumulative_.back();
}

std::uint64_t zipf_distribution::draw(double u) const {
  // The first k whose cumulative weight exceeds u.
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  if (it == cumulative_.end()) --it;  // u == total after rounding
  return static_cast<std::uint64_t>(it - cumulative_.begin());
}

generated_data generate_zipf_matrix(const generator_config& config) {
  if (config.rows == 0 || config.cols == 0 || config.train_points == 0)
    throw std::invalid_argument("generate: rows, columns and points must all be positive");
  if (config.planted_rank == 0) throw std::invalid_argument("generate: the planted rank must be positive");
  if (!(config.test_fraction >= 0)) throw std::invalid_argument("generate: the test fraction must be >= 0");
  const auto test_points = static_cast<std::uint64_t>(std::llround(config.test_fraction * static_cast<double>(config.train_points)));
  const std::uint64_t total = config.train_points + test_points;
  if (static_cast<double>(total) > 0.5 * static_cast<double>(config.rows) * static_cast<double>(config.cols))
    throw std::invalid_argument("generate: " + std::to_string(total) + " cells are more than half of a " +
                                std::to_string(config.rows) + " x " + std::to_string(config.cols) + " matrix");

  const std::vector<double> w = planted_factors(config.rows, config.planted_rank, stream(config.seed, 1));
  const std::vector<double> h = planted_factors(config.cols, config.planted_rank, stream(config.seed, 2));

  // Popularity rank r belongs to column column_of_rank[r].
  std::vector<std::uint32_t> column_of_rank(config.cols);
  std::iota(column_of_rank.begin(), column_of_rank.end(), 0u);
  auto permute = stream(config.seed, 3);
  std::shuffle(column_of_rank.begin(), column_of_rank.end(), permute);

  const zipf_distribution column_rank(config.cols, config.zipf);
  std::uniform_int_distribution<std::uint64_t> uniform_row(0, config.rows - 1);
  std::normal_distribution<double> noise(0.0, config.noise_sd);
  const double scale = std::pow(10.0, config.value_decimals);
  auto engine = stream(config.seed, 4);

  generated_data data;
  data.train.rows = data.test.rows = config.rows;
  data.train.cols = data.test.cols = config.cols;
  data.train.entries.reserve(config.train_points);
  data.test.entries.reserve(test_points);
  cell_set seen(total);
  // Popular columns saturate (a column holds at most `rows` cells): bound the redraws.
  const std::uint64_t max_draws = 100 * total + 1000;
  std::uint64_t draws = 0;
  for (std::uint64_t made = 0; made < total;) {
    if (++draws > max_draws)
      throw std::invalid_argument("generate: too many repeated cells; use fewer points or a smaller Zipf exponent");
    const auto i = static_cast<std::uint32_t>(uniform_row(engine));
    const std::uint32_t j = column_of_rank[column_rank(engine)];
    if (!seen.insert(std::uint64_t{i} * config.cols + j)) continue;
    double x = 0;
    for (std::uint32_t r = 0; r < config.planted_rank; ++r)
      x += w[std::uint64_t{i} * config.planted_rank + r] * h[std::uint64_t{j} * config.planted_rank + r];
    x += noise(engine);
    // Rounded to a few decimals: an integer divided by a power of ten prints short.
    x = std::round(x * scale) / scale;
    (made < config.train_points ? data.train : data.test).entries.push_back({i, j, x});
    ++made;
  }
  return data;
}

}  // namespace mf
