// Option parsing of the MF sample.
#include "mf_options.hpp"

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

namespace mf {
namespace {

[[noreturn]] void bad(std::string_view name, std::string_view value, std::string_view expected) {
  throw std::invalid_argument("option --" + std::string(name) + ": '" + std::string(value) + "' is not " +
                              std::string(expected));
}

template <class Int>
Int to_int(std::string_view name, std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) bad(name, text, "an integer");
  return value;
}

double to_double(std::string_view name, std::string_view text) {
  std::string owned(text);
  char* end = nullptr;
  const double value = std::strtod(owned.c_str(), &end);
  if (owned.empty() || end != owned.c_str() + owned.size()) bad(name, text, "a number");
  return value;
}

bool to_bool(std::string_view name, std::string_view text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  bad(name, text, "true or false");
}

}  // namespace

const char* algorithm_name(algorithm a) { return a == algorithm::dsgd ? "dsgd" : "plain"; }

std::string usage() {
  return "usage: mf --data DIR [options] [--gapm.NAME=VALUE ...]\n"
         "  --data DIR             folder with train.mmc and test.mmc (MatrixMarket coordinate)\n"
         "  --algorithm dsgd|plain DSGD over column blocks, or plain SGD with column look-ahead (dsgd)\n"
         "  --epochs N             training epochs (3)\n"
         "  --rank K               factor rank (10)\n"
         "  --lr X                 initial learning rate, AdaPM's --eps (0.001)\n"
         "  --lambda X             L2 weight (0.05)\n"
         "  --adagrad-eps X        AdaGrad epsilon inside the square root (1e-6)\n"
         "  --bold-driver BOOL     adapt the learning rate after each epoch (true)\n"
         "  --lookahead N          plain: intent for the column N points ahead (1000)\n"
         "  --seed N               model seed (134827)\n"
         "  --intent BOOL          signal intent (true); false: every access goes to the key's home\n"
         "  --intent-next-block BOOL  dsgd: also signal the next sub-epoch's block (false)\n"
         "  --expect-loss-drop F   exit 1 unless the final train loss < the initial one / F\n"
         "  --generate R C NNZ     rank 0 first writes a synthetic matrix into --data\n"
         "  --zipf S               generator: column Zipf exponent (1.1)\n"
         "  --test-fraction F      generator: test points = F x NNZ (0.1)\n"
         "  --data-seed N          generator: seed (1)\n"
         "  --gapm.workers N       worker threads per process; any other --gapm.* option\n";
}

app_options parse_app_options(int argc, const char* const* argv, bool& help) {
  app_options o;
  help = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (arg.starts_with("--gapm.")) {  // gapm's; skip its value when it is separate
      if (arg.find('=') == std::string_view::npos) ++i;
      continue;
    }
    if (!arg.starts_with("--")) throw std::invalid_argument("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    const auto eq = arg.find('=');
    const auto next = [&]() -> std::string_view {
      if (i + 1 >= argc) throw std::invalid_argument("option --" + std::string(name) + " needs a value");
      return argv[++i];
    };
    if (eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (name != "generate") {
      value = next();
    }

    if (name == "data") o.data_dir = value;
    else if (name == "algorithm") {
      if (value == "dsgd") o.training = algorithm::dsgd;
      else if (value == "plain") o.training = algorithm::plain;
      else bad(name, value, "dsgd or plain");
    } else if (name == "epochs") o.epochs = to_int<int>(name, value);
    else if (name == "rank") o.rank = to_int<std::uint32_t>(name, value);
    else if (name == "lr") o.update.learning_rate = to_double(name, value);
    else if (name == "lambda") o.update.lambda = to_double(name, value);
    else if (name == "adagrad-eps") o.update.adagrad_epsilon = to_double(name, value);
    else if (name == "bold-driver") o.bold_driver = to_bool(name, value);
    else if (name == "lookahead") o.lookahead = to_int<std::uint64_t>(name, value);
    else if (name == "seed") o.seed = to_int<std::uint32_t>(name, value);
    else if (name == "intent") o.intent = to_bool(name, value);
    else if (name == "intent-next-block") o.intent_next_block = to_bool(name, value);
    else if (name == "expect-loss-drop") o.expect_loss_drop = to_double(name, value);
    else if (name == "zipf") o.generator.zipf = to_double(name, value);
    else if (name == "test-fraction") o.generator.test_fraction = to_double(name, value);
    else if (name == "data-seed") o.generator.seed = to_int<std::uint64_t>(name, value);
    else if (name == "generate") {
      if (eq != std::string_view::npos) throw std::invalid_argument("option --generate takes three values: R C NNZ");
      o.generate = true;
      o.generator.rows = to_int<std::uint64_t>("generate", next());
      o.generator.cols = to_int<std::uint64_t>("generate", next());
      o.generator.train_points = to_int<std::uint64_t>("generate", next());
    } else {
      throw std::invalid_argument("unknown option --" + std::string(name) + " (see --help)");
    }
  }
  if (help) return o;
  if (o.data_dir.empty()) throw std::invalid_argument("option --data is required (see --help)");
  if (o.rank < 1) throw std::invalid_argument("option --rank must be at least 1");
  if (o.epochs < 0) throw std::invalid_argument("option --epochs must be >= 0");
  if (o.update.learning_rate <= 0) throw std::invalid_argument("option --lr must be positive");
  if (o.lookahead == 0 && o.training == algorithm::plain && o.intent)
    throw std::invalid_argument("option --lookahead must be positive (or use --intent=false)");
  return o;
}

}  // namespace mf
