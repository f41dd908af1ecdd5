// mf-generate: writes a synthetic MF data set (train.mmc, test.mmc) for the mf sample.
//
//   mf-generate R C NNZ [--zipf S] [--test-fraction F] [--seed X] [--rank K] [--noise SD] --out DIR
//
// Columns are Zipf(S)-distributed (default 1.1; AdaPM's reference runs used 0.8), rows
// uniform; values come from a planted rank-K model plus Gaussian noise. NNZ cells go to
// train.mmc and round(F x NNZ) more to test.mmc (F = 0.1), no cell twice. The same arguments
// give the same files.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "matrix_market.hpp"
#include "zipf_generator.hpp"

namespace {

std::uint64_t to_count(std::string_view what, std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw std::invalid_argument(std::string(what) + ": '" + std::string(text) + "' is not a non-negative integer");
  return value;
}

double to_number(std::string_view what, std::string_view text) {
  std::string owned(text);
  char* end = nullptr;
  const double value = std::strtod(owned.c_str(), &end);
  if (owned.empty() || end != owned.c_str() + owned.size())
    throw std::invalid_argument(std::string(what) + ": '" + owned + "' is not a number");
  return value;
}

}  // namespace

int main(int argc, char** argv) try {
  mf::generator_config config;
  std::string out;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::string_view value;
    if (arg.starts_with("--")) {
      const auto eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      } else {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
        value = argv[++i];
      }
      if (name == "--zipf") config.zipf = to_number(name, value);
      else if (name == "--test-fraction") config.test_fraction = to_number(name, value);
      else if (name == "--seed") config.seed = to_count(name, value);
      else if (name == "--rank") config.planted_rank = static_cast<std::uint32_t>(to_count(name, value));
      else if (name == "--noise") config.noise_sd = to_number(name, value);
      else if (name == "--out") out = value;
      else throw std::invalid_argument("unknown option " + std::string(name));
    } else if (positional == 0) {
      config.rows = to_count("R", arg), ++positional;
    } else if (positional == 1) {
      config.cols = to_count("C", arg), ++positional;
    } else if (positional == 2) {
      config.train_points = to_count("NNZ", arg), ++positional;
    } else {
      throw std::invalid_argument("unexpected argument '" + std::string(arg) + "'");
    }
  }
  if (positional != 3 || out.empty())
    throw std::invalid_argument("usage: mf-generate R C NNZ [--zipf S] [--test-fraction F] [--seed X] [--rank K] [--noise SD] --out DIR");

  const auto start = std::chrono::steady_clock::now();
  std::filesystem::create_directories(out);
  const mf::generated_data data = mf::generate_zipf_matrix(config);
  mf::write_matrix_market(out + "/train.mmc", data.train);
  mf::write_matrix_market(out + "/test.mmc", data.test);
  std::printf("mf-generate: %llu x %llu, %zu train + %zu test points, Zipf %.2f, seed %llu -> %s (%.2f s)\n",
              static_cast<unsigned long long>(config.rows), static_cast<unsigned long long>(config.cols),
              data.train.entries.size(), data.test.entries.size(), config.zipf,
              static_cast<unsigned long long>(config.seed), out.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "mf-generate: %s\n", e.what());
  return 2;
}
