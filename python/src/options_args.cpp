// Keywords, environment and argv to gapm::Options (what gapm.Node(...) accepts).
#include "options_args.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gapm/errors.hpp>

namespace gapm::python {
namespace py = pybind11;
namespace {

std::string underscored(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

// The option a keyword names: the dotted name itself or its underscore spelling.
std::string option_named(const std::string& keyword) {
  for (const std::string& name : Options::names())
    if (keyword == name || keyword == underscored(name)) return name;
  std::string known;
  for (const std::string& name : Options::names()) known += (known.empty() ? "" : ", ") + underscored(name);
  throw logic_error("gapm: unknown option '" + keyword + "' (gapm.Node keyword); the options are: " + known);
}

// An option value as the text Options::set() parses.
std::string value_text(const std::string& name, py::handle value) {
  if (name == "tables") return tables_text(value);
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::int_>(value) || py::isinstance<py::str>(value)) return py::str(value).cast<std::string>();
  if (py::isinstance<py::float_>(value)) return py::repr(value).cast<std::string>();  // "inf", "1e-05"
  throw logic_error("gapm: option '" + name + "' takes a str, bool, int or float, not " +
                    py::str(py::type::of(value).attr("__name__")).cast<std::string>());
}

}  // namespace

std::string tables_text(py::handle tables) {
  if (py::isinstance<py::str>(tables)) return tables.cast<std::string>();
  std::string text;
  try {
    for (py::handle table : tables) {
      auto pair = table.cast<std::vector<std::uint64_t>>();
      if (pair.size() != 2) throw py::cast_error();
      text += (text.empty() ? "" : ",") + std::to_string(pair[0]) + "x" + std::to_string(pair[1]);
    }
  } catch (const py::error_already_set&) {
    throw logic_error("gapm: option 'tables' must be a string such as \"1000x16,50x8\" or a list of "
                      "(num_keys, row_length) pairs");
  } catch (const py::cast_error&) {
    throw logic_error("gapm: option 'tables' must be a string such as \"1000x16,50x8\" or a list of "
                      "(num_keys, row_length) pairs of non-negative integers");
  }
  return text;
}

Options options_from_python(py::handle tables, const py::kwargs& options, bool read_env, py::handle argv) {
  Options result;
  if (!tables.is_none()) result.set("tables", tables_text(tables));
  for (auto [key, value] : options) {
    const std::string name = option_named(key.cast<std::string>());
    result.set(name, value_text(name, value));
  }
  if (read_env) result = Options::from_env(result);
  if (!argv.is_none()) {
    const auto args = argv.cast<std::vector<std::string>>();
    std::vector<const char*> pointers;
    pointers.reserve(args.size());
    for (const auto& a : args) pointers.push_back(a.c_str());
    result = Options::parse(static_cast<int>(pointers.size()), pointers.data(), result);
  }
  return result;
}

}  // namespace gapm::python
