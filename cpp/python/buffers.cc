#include "cpp/python/buffers.h"

namespace py = pybind11;

namespace weightstream::python {

py::array ToArray(HostBuffer buffer) {
  const py::ssize_t n = static_cast<py::ssize_t>(buffer.size());
  void* data = buffer.Release();
  py::capsule owner(data, [](void* p) { HostBuffer::Free(p); });
  return py::array(py::dtype("uint8"), {n}, {py::ssize_t{1}}, data, owner);
}

py::str PathToPython(const std::string& path) {
  return py::reinterpret_steal<py::str>(PyUnicode_DecodeFSDefaultAndSize(
      path.data(), static_cast<Py_ssize_t>(path.size())));
}

ReadEngineOptions EngineOptions(int threads, uint64_t chunk_bytes,
                                int64_t prefetch_bytes) {
  ReadEngineOptions o;
  if (threads > 0) o.threads = threads;
  if (chunk_bytes > 0) o.chunk_bytes = chunk_bytes;
  if (prefetch_bytes >= 0)
    o.prefetch_bytes = static_cast<uint64_t>(prefetch_bytes);
  return o;
}

}  // namespace weightstream::python
