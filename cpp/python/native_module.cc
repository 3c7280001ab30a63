// The weightstream._native extension: thin bindings over the C++ core, one
// file per concept (see bindings.h). Internal: use the weightstream package.
#include <pybind11/pybind11.h>

#include "cpp/python/bindings.h"
#include "cpp/python/device_bindings.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "weightstream native core (internal; use the weightstream package)";
  weightstream::python::RegisterSourcePlugins(m);
  weightstream::python::RegisterSafetensors(m);
  weightstream::python::RegisterGguf(m);
  weightstream::python::RegisterDevice(m);
}
