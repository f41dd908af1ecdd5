// Command-line parsing of the KGE sample (see settings.hpp).
#include "settings.hpp"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string_view>

namespace kge {
namespace {

constexpr const char* usage = R"(usage: kge [options] [--gapm.NAME=VALUE ...]
  --epochs=N          training epochs (12)
  --dim=N             complex embedding dimension; rows hold 4*dim floats (64)
  --lr=X              AdaGrad learning rate (0.2)
  --l2=X              l2 regularisation weight per positive triple (1e-3)
  --init=X            initial embeddings uniform in [-X, X] (0.1)
  --batch=N           positive triples per batch and clock (1000)
  --negatives=N       negatives per batch, each scored as tail and as head of every positive (64)
  --lookahead=N       signal intent this many batches ahead (4)
  --max-train=N       train on the first N training triples only (0: all)
  --eval-max=N        evaluate the first N test and valid triples only (0: all)
  --seed=N            seed of initial embeddings, shards and sampling (1)
  --cache=DIR         the split's cache folder (${XDG_CACHE_HOME:-$HOME/.cache}/gapm/wordnet-kg)
  --wordnet=DIR       the WordNet database (/usr/share/wordnet)
  --expect-loss-drop=X  exit 1 unless the last epoch's loss < the first's / X
  --expect-mrr=X      exit 1 unless the filtered test MRR > X
  --gapm.*            any gapm option, e.g. --gapm.workers=2 --gapm.techniques=none
)";

template <class T>
T number(std::string_view name, std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw std::invalid_argument("--" + std::string(name) + ": malformed value '" + std::string(text) + "'");
  return value;
}

}  // namespace

settings parse_settings(int argc, const char* const* argv) {
  settings s;
  using setter = std::function<void(std::string_view name, std::string_view value)>;
  const std::map<std::string_view, setter> setters = {
      {"epochs", [&](auto n, auto v) { s.epochs = number<int>(n, v); }},
      {"dim", [&](auto n, auto v) { s.dim = number<std::size_t>(n, v); }},
      {"lr", [&](auto n, auto v) { s.lr = number<float>(n, v); }},
      {"l2", [&](auto n, auto v) { s.l2 = number<float>(n, v); }},
      {"init", [&](auto n, auto v) { s.init = number<float>(n, v); }},
      {"batch", [&](auto n, auto v) { s.batch = number<std::size_t>(n, v); }},
      {"negatives", [&](auto n, auto v) { s.negatives = number<std::size_t>(n, v); }},
      {"lookahead", [&](auto n, auto v) { s.lookahead = number<long>(n, v); }},
      {"max-train", [&](auto n, auto v) { s.max_train = number<std::size_t>(n, v); }},
      {"eval-max", [&](auto n, auto v) { s.eval_max = number<std::size_t>(n, v); }},
      {"seed", [&](auto n, auto v) { s.seed = number<std::uint64_t>(n, v); }},
      {"cache", [&](auto, auto v) { s.cache = std::string(v); }},
      {"wordnet", [&](auto, auto v) { s.wordnet = std::string(v); }},
      {"expect-loss-drop", [&](auto n, auto v) { s.expect_loss_drop = number<double>(n, v); }},
      {"expect-mrr", [&](auto n, auto v) { s.expect_mrr = number<double>(n, v); }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (!arg.starts_with("--")) throw std::invalid_argument("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    const auto eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const bool inline_value = eq != std::string_view::npos;
    if (name.starts_with("gapm.")) {  // gapm::Options::parse reads these
      if (!inline_value) ++i;
      continue;
    }
    const auto it = setters.find(name);
    if (it == setters.end()) throw std::invalid_argument("unknown option --" + std::string(name) + " (see --help)");
    if (!inline_value && i + 1 >= argc) throw std::invalid_argument("--" + std::string(name) + ": missing value");
    it->second(name, inline_value ? arg.substr(eq + 1) : std::string_view(argv[++i]));
  }
  if (s.epochs < 1 || s.dim == 0 || s.batch == 0 || s.negatives == 0 || s.lookahead < 0 || !(s.lr > 0))
    throw std::invalid_argument("need --epochs >= 1, --dim, --batch, --negatives >= 1, --lookahead >= 0, --lr > 0");
  return s;
}

}  // namespace kge
