// Device plugins and the device stager, for weightstream._device.
#ifndef WEIGHTSTREAM_PYTHON_DEVICE_BINDINGS_H_
#define WEIGHTSTREAM_PYTHON_DEVICE_BINDINGS_H_

#include <pybind11/pybind11.h>

namespace weightstream::python {

// Registers DevicePlugin and DeviceStream (plain Source objects are accepted
// where a type for them has been registered, e.g. by RegisterSourcePlugins).
void RegisterDevice(pybind11::module_& m);

}  // namespace weightstream::python

#endif  // WEIGHTSTREAM_PYTHON_DEVICE_BINDINGS_H_
