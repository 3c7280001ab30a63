// Bindings for GGUF files: the parsed header as Python values, and their
// tensors streamed by the native Streamer (Streamer.add_gguf), the same
// engine and buffers as safetensors.
//
// Parsing runs with the GIL released. Metadata becomes plain Python values:
// integers int, floats float, BOOL bool, strings str (bytes when a value is
// not UTF-8, which GGUF does not forbid), arrays lists (nested for arrays of
// arrays), keys in file order.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cpp/python/bindings.h"
#include "cpp/python/buffers.h"
#include "cpp/python/status_to_python.h"
#include "cpp/weightstream/gguf.h"
#include "cpp/weightstream/local_file.h"
#include "cpp/weightstream/tensor_streamer.h"

namespace py = pybind11;

namespace weightstream::python {
namespace {

py::object StringToPython(const std::string& s) {
  PyObject* str = PyUnicode_DecodeUTF8(
      s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
  if (str != nullptr) return py::reinterpret_steal<py::object>(str);
  PyErr_Clear();
  return py::bytes(s);
}

py::object ScalarToPython(const GgufValue& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.value)) return py::int_(*u);
  if (const auto* i = std::get_if<int64_t>(&v.value)) return py::int_(*i);
  if (const auto* f = std::get_if<double>(&v.value)) return py::float_(*f);
  if (const auto* b = std::get_if<bool>(&v.value)) return py::bool_(*b);
  return StringToPython(std::get<std::string>(v.value));
}

// Recursion is bounded by the parser's kMaxGgufArrayDepth.
py::list ArrayToPython(const GgufArray& array) {
  py::list out(array.size);
  for (size_t i = 0; i < array.size; ++i) {
    switch (array.element_type) {
      case GgufValueType::kString:
        out[i] = StringToPython(array.strings[i]);
        break;
      case GgufValueType::kArray:
        out[i] = ArrayToPython(array.arrays[i]);
        break;
      default:
        out[i] = ScalarToPython(array.ScalarAt(i));
        break;
    }
  }
  return out;
}

py::object ValueToPython(const GgufValue& v) {
  if (const auto* array = std::get_if<GgufArray>(&v.value)) {
    return ArrayToPython(*array);
  }
  return ScalarToPython(v);
}

// A parsed GGUF file, as Python sees it.
class PyGgufFile {
 public:
  explicit PyGgufFile(std::shared_ptr<const GgufFile> file)
      : file_(std::move(file)) {}

  static std::shared_ptr<PyGgufFile> Open(const std::string& path) {
    StatusOr<std::shared_ptr<const GgufFile>> file =
        [&]() -> StatusOr<std::shared_ptr<const GgufFile>> {
      py::gil_scoped_release release;
      WS_ASSIGN_OR_RETURN(std::shared_ptr<Source> source, OpenLocalFile(path));
      return OpenGguf(std::move(source));
    }();
    return std::make_shared<PyGgufFile>(ValueOrRaise(std::move(file)));
  }

  // A file of any source, e.g. a remote object opened by a SourcePlugin.
  static std::shared_ptr<PyGgufFile> FromSource(
      std::shared_ptr<Source> source) {
    StatusOr<std::shared_ptr<const GgufFile>> file = [&] {
      py::gil_scoped_release release;
      return OpenGguf(std::move(source));
    }();
    return std::make_shared<PyGgufFile>(ValueOrRaise(std::move(file)));
  }

  const std::shared_ptr<Source>& source() const { return file_->source; }
  const GgufHeader& header() const { return file_->header; }
  py::str path() const { return PathToPython(file_->source->name()); }

  py::dict metadata() const {
    py::dict out;
    for (const auto& [key, value] : header().metadata) {
      out[py::str(key)] = ValueToPython(value);
    }
    return out;
  }

  // (name, ggml type id, ggml type name, dims in ggml order, offset in the
  // data section, nbytes), in file order.
  py::list tensors() const {
    py::list out;
    for (const GgufTensorInfo& t : header().tensors) {
      out.append(py::make_tuple(t.name, t.type.id, std::string(t.type.name),
                                py::tuple(py::cast(t.dims)), t.offset,
                                t.nbytes));
    }
    return out;
  }

  // What the streamer reads for tensors `indices` (all if none given).
  std::vector<StreamItem> Items(
      const std::optional<std::vector<size_t>>& indices) const {
    const auto& tensors = header().tensors;
    std::vector<StreamItem> items;
    auto add = [&](size_t i) {
      if (i >= tensors.size()) {
        RaiseStatus(InvalidArgumentError(source()->name() + ": no tensor " +
                                         std::to_string(i) + " (it has " +
                                         std::to_string(tensors.size()) + ")"));
      }
      const GgufTensorInfo& t = tensors[i];
      items.push_back({header().data_start + t.offset, t.nbytes, i, t.name});
    };
    if (indices) {
      for (size_t i : *indices) add(i);
    } else {
      for (size_t i = 0; i < tensors.size(); ++i) add(i);
    }
    return items;
  }

 private:
  std::shared_ptr<const GgufFile> file_;
};

}  // namespace

void RegisterGguf(py::module_& m) {
  py::dict types;  // id: (name, block_size, type_size)
  for (const GgmlType& t : AllGgmlTypes()) {
    types[py::int_(t.id)] =
        py::make_tuple(std::string(t.name), t.block_size, t.type_size);
  }
  m.attr("GGML_TYPES") = types;

  py::class_<PyGgufFile, std::shared_ptr<PyGgufFile>>(m, "GgufFile")
      .def(py::init(&PyGgufFile::Open), py::arg("path"))
      .def_static("from_source", &PyGgufFile::FromSource, py::arg("source"))
      .def_property_readonly("path", &PyGgufFile::path)
      .def_property_readonly(
          "file_size", [](const PyGgufFile& f) { return f.source()->size(); })
      .def_property_readonly(
          "version", [](const PyGgufFile& f) { return f.header().version; })
      .def_property_readonly(
          "alignment", [](const PyGgufFile& f) { return f.header().alignment; })
      .def_property_readonly(
          "data_start",
          [](const PyGgufFile& f) { return f.header().data_start; })
      .def_property_readonly("metadata", &PyGgufFile::metadata)
      .def_property_readonly(
          "preferred_read_bytes",
          [](const PyGgufFile& f) { return f.source()->PreferredReadBytes(); })
      .def_property_readonly("preferred_concurrency",
                             [](const PyGgufFile& f) {
                               return f.source()->PreferredConcurrency();
                             })
      .def("tensors", &PyGgufFile::tensors);

  // A method of Streamer, defined here so that the streamer's bindings need
  // not know any format but their own.
  py::object streamer = m.attr("Streamer");
  streamer.attr("add_gguf") = py::cpp_function(
      [](py::handle self, const PyGgufFile& file,
         const std::optional<std::vector<size_t>>& tensors) {
        return StreamerAddSource(self, file.source(), file.Items(tensors));
      },
      py::name("add_gguf"), py::is_method(streamer), py::arg("file"),
      py::arg("tensors") = py::none(),
      "Queues tensors of a GgufFile (indices into its tensors(), every one "
      "if None); returns the file index they are streamed with.");
}

}  // namespace weightstream::python
