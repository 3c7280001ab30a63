// Each concept registers its classes on the extension module.
#ifndef WEIGHTSTREAM_PYTHON_BINDINGS_H_
#define WEIGHTSTREAM_PYTHON_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/tensor_streamer.h"

namespace weightstream::python {

// First: the Source class the formats' from_source factories take.
void RegisterSourcePlugins(pybind11::module_& m);
void RegisterSafetensors(pybind11::module_& m);
// Needs RegisterSafetensors first: adds Streamer.add_gguf.
void RegisterGguf(pybind11::module_& m);

// Queues `items` of `source` on `streamer`, a native Streamer object, and
// returns the file index its tensors come back with: lets any format's
// bindings feed the one streamer. Raises if it is closed or not a Streamer.
size_t StreamerAddSource(pybind11::handle streamer,
                         std::shared_ptr<Source> source,
                         std::vector<StreamItem> items);

}  // namespace weightstream::python

#endif  // WEIGHTSTREAM_PYTHON_BINDINGS_H_
