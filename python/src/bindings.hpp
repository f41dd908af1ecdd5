// The pieces of the gapm Python module, each defined in its own bind_*.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace gapm::python {

void bind_node(pybind11::module_& module);    // gapm.Node
void bind_worker(pybind11::module_& module);  // gapm.Worker, gapm.Ticket

}  // namespace gapm::python
