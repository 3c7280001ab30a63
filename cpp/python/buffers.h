// Helpers shared by the bindings: owned numpy arrays and engine options.
#ifndef WEIGHTSTREAM_PYTHON_BUFFERS_H_
#define WEIGHTSTREAM_PYTHON_BUFFERS_H_

#include <pybind11/numpy.h>

#include <cstdint>

#include "cpp/weightstream/host_buffer.h"
#include "cpp/weightstream/read_engine.h"

namespace weightstream::python {

// A 1-D uint8 array that takes ownership of `buffer` (freed with the array).
// Requires the GIL.
pybind11::array ToArray(HostBuffer buffer);

// Engine options from Python arguments; zero or negative values keep the
// engine's defaults.
ReadEngineOptions EngineOptions(int threads, uint64_t chunk_bytes,
                                int64_t prefetch_bytes = -1);

}  // namespace weightstream::python

#endif  // WEIGHTSTREAM_PYTHON_BUFFERS_H_
