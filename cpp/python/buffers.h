// Helpers shared by the bindings: owned numpy arrays, paths, engine options.
#ifndef WEIGHTSTREAM_PYTHON_BUFFERS_H_
#define WEIGHTSTREAM_PYTHON_BUFFERS_H_

#include <pybind11/numpy.h>

#include <cstdint>
#include <string>

#include "cpp/weightstream/host_buffer.h"
#include "cpp/weightstream/read_engine.h"

namespace weightstream::python {

// A 1-D uint8 array that takes ownership of `buffer` (freed with the array).
// Requires the GIL.
pybind11::array ToArray(HostBuffer buffer);

// A path as Python spells it: undecodable bytes surrogate-escaped, so that it
// names the same file when passed back to the OS. Requires the GIL.
pybind11::str PathToPython(const std::string& path);

// Engine options from Python arguments; zero or negative values keep the
// engine's defaults.
ReadEngineOptions EngineOptions(int threads, uint64_t chunk_bytes,
                                int64_t prefetch_bytes = -1);

}  // namespace weightstream::python

#endif  // WEIGHTSTREAM_PYTHON_BUFFERS_H_
