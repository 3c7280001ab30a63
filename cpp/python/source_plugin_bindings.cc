// Bindings for source plugins: weightstream._native.SourcePlugin loads a
// plugin library; its open() returns a Source that SafetensorsFile.from_source,
// GgufFile.from_source and sha256_source read like a local file.
//
// Every call that may touch the network runs with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpp/python/bindings.h"
#include "cpp/python/buffers.h"
#include "cpp/python/status_to_python.h"
#include "cpp/weightstream/integrity.h"
#include "cpp/weightstream/plugin/source_plugin.h"
#include "cpp/weightstream/source.h"

namespace py = pybind11;

namespace weightstream::python {
namespace {

// Upper bound for Source.read: it is for small objects (index files), never
// for tensor data, which goes through the streamer.
constexpr uint64_t kMaxDirectRead = 64ull << 20;

std::shared_ptr<SourcePlugin> LoadPlugin(const std::string& path) {
  StatusOr<std::shared_ptr<SourcePlugin>> plugin = [&] {
    py::gil_scoped_release release;
    return SourcePlugin::Load(path);
  }();
  return ValueOrRaise(std::move(plugin));
}

std::shared_ptr<Source> OpenUrl(const SourcePlugin& plugin,
                                const std::string& url,
                                const std::string& options_json) {
  StatusOr<std::shared_ptr<Source>> source = [&] {
    py::gil_scoped_release release;
    return plugin.Open(url, options_json);
  }();
  return ValueOrRaise(std::move(source));
}

py::list ListPrefix(const SourcePlugin& plugin, const std::string& prefix,
                    const std::string& options_json) {
  StatusOr<std::vector<ListedObject>> listing = [&] {
    py::gil_scoped_release release;
    return plugin.List(prefix, options_json);
  }();
  py::list out;
  for (const ListedObject& o : ValueOrRaise(std::move(listing))) {
    out.append(py::make_tuple(o.url, o.size));
  }
  return out;
}

py::bytes Read(const std::shared_ptr<Source>& source, uint64_t offset,
               uint64_t length) {
  if (length > kMaxDirectRead) {
    RaiseStatus(
        InvalidArgumentError(source->name() + ": a direct read is limited to " +
                             std::to_string(kMaxDirectRead) + " bytes, " +
                             std::to_string(length) + " asked"));
  }
  std::string buffer(length, '\0');
  Status status = [&] {
    py::gil_scoped_release release;
    return source->ReadAt(offset, buffer.data(), length);
  }();
  OkOrRaise(status);
  return py::bytes(buffer);
}

}  // namespace

void RegisterSourcePlugins(py::module_& m) {
  py::class_<Source, std::shared_ptr<Source>>(
      m, "Source", "An opened object of a source plugin (no constructor).")
      .def_property_readonly("name", &Source::name,
                             "The URL for messages, without secrets.")
      .def_property_readonly("size", &Source::size)
      .def_property_readonly("preferred_read_bytes",
                             &Source::PreferredReadBytes)
      .def_property_readonly("preferred_concurrency",
                             &Source::PreferredConcurrency)
      .def("read", &Read, py::arg("offset"), py::arg("length"),
           "Exactly `length` bytes at `offset` (small objects only).")
      .def("__repr__", [](const Source& s) {
        return "<weightstream Source " + s.name() + " (" +
               std::to_string(s.size()) + " bytes)>";
      });

  py::class_<SourcePlugin, std::shared_ptr<SourcePlugin>>(
      m, "SourcePlugin", "A loaded source plugin library.")
      .def(py::init(&LoadPlugin), py::arg("path"))
      .def_property_readonly("path", &SourcePlugin::path)
      .def_property_readonly("name", &SourcePlugin::name)
      .def_property_readonly("version", &SourcePlugin::version)
      .def_property_readonly("abi_version", &SourcePlugin::abi_version)
      .def_property_readonly("schemes", &SourcePlugin::schemes)
      .def("open", &OpenUrl, py::arg("url"), py::arg("options_json") = "{}")
      .def("list", &ListPrefix, py::arg("prefix"),
           py::arg("options_json") = "{}",
           "[(url, size)] of the objects under `prefix`, sorted by URL.");
  m.attr("SOURCE_PLUGIN_ABI_VERSION") = WS_SOURCE_PLUGIN_ABI_VERSION;

  m.def(
      "sha256_source",
      [](std::shared_ptr<Source> source, int threads, uint64_t chunk_bytes) {
        StatusOr<std::string> digest = [&] {
          py::gil_scoped_release release;
          return Sha256OfSource(std::move(source),
                                EngineOptions(threads, chunk_bytes));
        }();
        return ValueOrRaise(std::move(digest));
      },
      py::arg("source"), py::arg("threads") = 0, py::arg("chunk_bytes") = 0,
      "Hex SHA-256 of a whole Source, read in parallel in bounded memory.");
}

}  // namespace weightstream::python
