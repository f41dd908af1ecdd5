// gapm.Node(tables=..., **options): from Python keywords to gapm::Options.
#pragma once

#include <pybind11/pybind11.h>

#include <gapm/options.hpp>

namespace gapm::python {

/// The options of a node, in increasing precedence: gapm's defaults; `tables` (a string
/// "1000x16,50x8" or a sequence of (num_keys, row_length) pairs; None leaves it unset); the
/// keywords, each one option, named with underscores for dots (sync_max_per_sec=500 sets
/// `sync.max_per_sec`; the dotted name works too, via **{"sync.max_per_sec": 500}); then,
/// when `read_env`, the GAPM_* environment variables (Options::from_env, as the C++ samples
/// do); then the `--gapm.NAME=VALUE` items of `argv` when it is not None.
///
/// Values may be str, bool, int or float. Throws logic_error (gapm.UsageError) naming the
/// keyword for an unknown option or a value of another type, and gapm's own message for a
/// malformed value.
[[nodiscard]] Options options_from_python(pybind11::handle tables, const pybind11::kwargs& options, bool read_env,
                                          pybind11::handle argv);

/// The textual form of tables (num_keys x row_length, comma separated).
[[nodiscard]] std::string tables_text(pybind11::handle tables);

}  // namespace gapm::python
