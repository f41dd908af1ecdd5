// gapm._core: the Python extension module (the gapm package re-exports it).
#include <pybind11/stl.h>

#include <gapm/gapm.hpp>

#include "bindings.hpp"
#include "errors.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "gapm: a GPU-aware adaptive parameter manager (the C++ core of the gapm package)";
  py::module_::import("torch");  // tensors cross this module's boundary: torch must be initialised
  gapm::python::register_errors(m);
  gapm::python::bind_node(m);
  gapm::python::bind_worker(m);
  m.attr("CLOCK_MAX") = gapm::CLOCK_MAX;
  m.attr("WORKER_FINISHED") = gapm::WORKER_FINISHED;
  m.def("option_names", [] { return gapm::Options::names(); }, "Every option's dotted name, in a fixed order.");
  m.def(
      "default_options",
      [] {
        const gapm::Options defaults;
        py::dict result;
        for (const auto& name : gapm::Options::names()) result[py::str(name)] = defaults.get(name);
        return result;
      },
      "Every option's default value as text.");
#ifdef GAPM_VERSION
  m.attr("__version__") = GAPM_VERSION;
#endif
}
