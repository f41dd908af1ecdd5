// Arguments of the end-to-end benchmarks: --name=value, every value a non-negative number;
// gapm's own --gapm.* are left to gapm::Options::parse.
#pragma once

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bench {

/// Calls take(name, value) for each --name=value (name without the dashes); take returns
/// false for a name it does not know. Throws std::invalid_argument naming a malformed or
/// unknown argument.
template <class Take>
void for_each_numeric_argument(int argc, char** argv, Take take) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--gapm.")) continue;
    const auto eq = arg.find('=');
    if (!arg.starts_with("--") || eq == std::string_view::npos)
      throw std::invalid_argument("unexpected argument '" + std::string(arg) + "' (want --name=value)");
    const std::string name(arg.substr(2, eq - 2));
    const std::string value(arg.substr(eq + 1));
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(number) || number < 0)
      throw std::invalid_argument("--" + name + ": '" + value + "' is not a non-negative number");
    if (!take(name, number)) throw std::invalid_argument("unknown option --" + name);
  }
}

}  // namespace bench
