// Each concept registers its classes on the extension module.
#ifndef WEIGHTSTREAM_PYTHON_BINDINGS_H_
#define WEIGHTSTREAM_PYTHON_BINDINGS_H_

#include <pybind11/pybind11.h>

namespace weightstream::python {

void RegisterSafetensors(pybind11::module_& m);

}  // namespace weightstream::python

#endif  // WEIGHTSTREAM_PYTHON_BINDINGS_H_
