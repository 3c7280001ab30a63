// Bindings for safetensors files and the tensor streamer.
//
// Everything that blocks on I/O runs with the GIL released. Tensor bytes are
// returned as 1-D uint8 numpy arrays that own their memory (a capsule frees
// it), so they stay valid after the file or streamer is closed; the Python
// layer views them as the right dtype and shape.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cpp/python/bindings.h"
#include "cpp/python/buffers.h"
#include "cpp/python/status_to_python.h"
#include "cpp/weightstream/file_hasher.h"
#include "cpp/weightstream/host_buffer.h"
#include "cpp/weightstream/integrity.h"
#include "cpp/weightstream/local_file.h"
#include "cpp/weightstream/read_engine.h"
#include "cpp/weightstream/safetensors.h"
#include "cpp/weightstream/tensor_streamer.h"

namespace py = pybind11;

namespace weightstream::python {
namespace {

// A parsed safetensors file, as Python sees it.
class PyFile {
 public:
  explicit PyFile(std::shared_ptr<const SafetensorsFile> file)
      : file_(std::move(file)) {}

  static std::shared_ptr<PyFile> Open(const std::string& path) {
    StatusOr<std::shared_ptr<const SafetensorsFile>> file = [&] {
      py::gil_scoped_release release;
      StatusOr<std::shared_ptr<Source>> source = OpenLocalFile(path);
      if (!source.ok()) {
        return StatusOr<std::shared_ptr<const SafetensorsFile>>(
            source.status());
      }
      return OpenSafetensors(std::move(source).value());
    }();
    return std::make_shared<PyFile>(ValueOrRaise(std::move(file)));
  }

  // A file of any source, e.g. a remote object opened by a SourcePlugin.
  static std::shared_ptr<PyFile> FromSource(std::shared_ptr<Source> source) {
    StatusOr<std::shared_ptr<const SafetensorsFile>> file = [&] {
      py::gil_scoped_release release;
      return OpenSafetensors(std::move(source));
    }();
    return std::make_shared<PyFile>(ValueOrRaise(std::move(file)));
  }

  const std::shared_ptr<const SafetensorsFile>& file() const { return file_; }
  const std::string& path() const { return file_->source->name(); }
  py::str py_path() const { return PathToPython(path()); }
  uint64_t file_size() const { return file_->source->size(); }
  uint64_t data_start() const { return file_->header.data_start; }

  py::object metadata() const {
    if (!file_->header.has_metadata) return py::none();
    py::dict d;
    for (const auto& [k, v] : file_->header.metadata)
      d[py::str(k)] = py::str(v);
    return std::move(d);
  }

  // (name, dtype, shape, begin, end) in file order.
  py::list tensors() const {
    py::list out;
    for (const TensorInfo& t : file_->header.tensors) {
      py::tuple shape(t.shape.size());
      for (size_t i = 0; i < t.shape.size(); ++i)
        shape[i] = py::int_(t.shape[i]);
      out.append(py::make_tuple(t.name, std::string(DtypeName(t.dtype)), shape,
                                t.begin, t.end));
    }
    return out;
  }

  // Reads the given (offset, length) ranges of the data section, back to back,
  // into one new buffer.
  py::array ReadRanges(const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                       int threads, uint64_t chunk_bytes) const {
    const uint64_t data_bytes =
        file_->source->size() - file_->header.data_start;
    uint64_t total = 0;
    for (const auto& [offset, length] : ranges) {
      if (!RangeWithin(offset, length, data_bytes) ||
          __builtin_add_overflow(total, length, &total)) {
        RaiseStatus(InvalidArgumentError(
            path() + ": range of " + std::to_string(length) +
            " bytes at data offset " + std::to_string(offset) +
            " is outside the data section"));
      }
    }
    StatusOr<HostBuffer> buffer = [&]() -> StatusOr<HostBuffer> {
      py::gil_scoped_release release;
      WS_ASSIGN_OR_RETURN(HostBuffer b, HostBuffer::Allocate(total));
      ReadEngineOptions o = EngineOptions(threads, chunk_bytes);
      char* dst = static_cast<char*>(b.data());
      // Up to one chunk is read on this thread: a pool costs more than it
      // saves there, and loaders call get_tensor once per (often tiny) tensor.
      if (total <= o.chunk_bytes) {
        for (const auto& [offset, length] : ranges) {
          WS_RETURN_IF_ERROR(file_->source->ReadAt(
              file_->header.data_start + offset, dst, length));
          dst += length;
        }
        return b;
      }
      uint64_t chunks = total / o.chunk_bytes + ranges.size();
      if (static_cast<uint64_t>(o.threads) > chunks)
        o.threads = static_cast<int>(chunks);
      ReadEngine engine(o);
      for (const auto& [offset, length] : ranges) {
        engine.Submit(ReadRequest{
            file_->source, file_->header.data_start + offset, length, dst, 0});
        dst += length;
      }
      Status first;
      while (auto done = engine.WaitNext()) {
        if (!done->status.ok() && first.ok()) {
          first = done->status;
          engine.Cancel();
        }
      }
      if (!first.ok()) return first;
      return b;
    }();
    return ToArray(ValueOrRaise(std::move(buffer)));
  }

 private:
  std::shared_ptr<const SafetensorsFile> file_;
};

class PyStreamer {
 public:
  PyStreamer(int threads, uint64_t chunk_bytes, uint64_t memory_limit,
             int64_t prefetch_bytes)
      : streamer_(std::make_unique<TensorStreamer>(TensorStreamerOptions{
            EngineOptions(threads, chunk_bytes, prefetch_bytes),
            memory_limit})) {}

  size_t Add(const PyFile& file, std::optional<std::vector<size_t>> tensors) {
    return Queue([&] {
      return streamer_->AddFile(file.file(),
                                tensors.value_or(std::vector<size_t>{}));
    });
  }

  // Byte ranges of any source: how other formats' bindings feed the stream.
  size_t AddSource(std::shared_ptr<Source> source,
                   std::vector<StreamItem> items) {
    return Queue([&] {
      return streamer_->AddSource(std::move(source), std::move(items));
    });
  }

  // (file_index, tensor_index, bytes) or None when done.
  py::object Next() {
    std::lock_guard<std::mutex> lock(mu_);
    Check();
    StatusOr<std::optional<StreamedTensor>> next = [&] {
      py::gil_scoped_release release;
      return streamer_->Next();
    }();
    std::optional<StreamedTensor> t = ValueOrRaise(std::move(next));
    if (!t) return py::none();
    return py::make_tuple(t->file_index, t->tensor_index,
                          ToArray(std::move(t->buffer)));
  }

  // Every remaining tensor, as a list of Next() tuples. The GIL is released
  // while reading and taken back between tensors only to notice Ctrl-C, which
  // stops the stream and frees what was read.
  py::list Drain() { return DrainHashed(std::nullopt)[0]; }

  // Drain(), and the SHA-256 of file `hash_file` (None if not asked),
  // computed from the tensors' buffers as they arrive plus the bytes between
  // them read from the file: the file is read once.
  py::tuple DrainHashed(std::optional<size_t> hash_file) {
    std::lock_guard<std::mutex> lock(mu_);
    Check();
    std::optional<FileHasher> hasher;
    if (hash_file) {
      if (*hash_file >= streamer_->file_count()) {
        RaiseStatus(InvalidArgumentError(
            "no file " + std::to_string(*hash_file) + " in this stream"));
      }
      hasher.emplace(streamer_->source(*hash_file),
                     streamer_->ranges(*hash_file));
    }
    std::vector<StreamedTensor> done;
    Status status;
    std::string digest;
    for (;;) {
      bool finished = false;
      {
        py::gil_scoped_release release;
        StatusOr<std::optional<StreamedTensor>> next = streamer_->Next();
        if (!next.ok()) {
          status = next.status();
        } else if (!next->has_value()) {
          finished = true;
          if (hasher) {
            StatusOr<std::string> d = hasher->Finish();
            if (d.ok()) digest = *d;
            status = d.status();
          }
        } else {
          StreamedTensor& t = done.emplace_back(std::move(**next));
          if (hasher && t.file_index == *hash_file) {
            status = hasher->Add(t.offset, t.buffer.size(), t.buffer.data());
          }
        }
      }
      bool interrupted = PyErr_CheckSignals() != 0;
      if (interrupted || !status.ok()) {
        py::gil_scoped_release release;
        done.clear();
        streamer_.reset();
      }
      if (interrupted) throw py::error_already_set();
      OkOrRaise(status);
      if (finished) break;
    }
    py::list out;
    for (StreamedTensor& t : done) {
      out.append(py::make_tuple(t.file_index, t.tensor_index,
                                ToArray(std::move(t.buffer))));
    }
    return py::make_tuple(std::move(out), hash_file
                                              ? py::object(py::str(digest))
                                              : py::object(py::none()));
  }

  uint64_t peak_held_bytes() const {
    return streamer_ ? streamer_->peak_held_bytes() : 0;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    py::gil_scoped_release release;
    streamer_.reset();
  }

 private:
  void Check() const {
    if (!streamer_) RaiseStatus(InvalidArgumentError("the streamer is closed"));
  }

  // Runs `add` (a TensorStreamer::Add*) without the GIL; its file index.
  template <typename AddFn>
  size_t Queue(AddFn add) {
    std::lock_guard<std::mutex> lock(mu_);
    Check();
    StatusOr<size_t> index = [&] {
      py::gil_scoped_release release;
      return add();
    }();
    return ValueOrRaise(std::move(index));
  }

  std::mutex mu_;
  std::unique_ptr<TensorStreamer> streamer_;
};

}  // namespace

size_t StreamerAddSource(py::handle streamer, std::shared_ptr<Source> source,
                         std::vector<StreamItem> items) {
  return streamer.cast<PyStreamer&>().AddSource(std::move(source),
                                                std::move(items));
}

void RegisterSafetensors(py::module_& m) {
  m.def(
      "sha256_file",
      [](const std::string& path, int threads, uint64_t chunk_bytes) {
        StatusOr<std::string> digest = [&]() -> StatusOr<std::string> {
          py::gil_scoped_release release;
          WS_ASSIGN_OR_RETURN(std::shared_ptr<Source> source,
                              OpenLocalFile(path));
          return Sha256OfSource(std::move(source),
                                EngineOptions(threads, chunk_bytes));
        }();
        return ValueOrRaise(std::move(digest));
      },
      py::arg("path"), py::arg("threads") = 0, py::arg("chunk_bytes") = 0,
      "Hex SHA-256 of a whole file, read in parallel in bounded memory.");
  m.attr("MAX_HEADER_BYTES") = kMaxSafetensorsHeaderBytes;
  py::class_<PyFile, std::shared_ptr<PyFile>>(m, "SafetensorsFile")
      .def(py::init(&PyFile::Open), py::arg("path"))
      .def_static("from_source", &PyFile::FromSource, py::arg("source"))
      .def_property_readonly("path", &PyFile::py_path)
      .def_property_readonly("file_size", &PyFile::file_size)
      .def_property_readonly("data_start", &PyFile::data_start)
      .def_property_readonly("preferred_read_bytes",
                             [](const PyFile& f) {
                               return f.file()->source->PreferredReadBytes();
                             })
      .def_property_readonly("preferred_concurrency",
                             [](const PyFile& f) {
                               return f.file()->source->PreferredConcurrency();
                             })
      .def_property_readonly("metadata", &PyFile::metadata)
      .def("tensors", &PyFile::tensors)
      .def("read_ranges", &PyFile::ReadRanges, py::arg("ranges"),
           py::arg("threads") = 0, py::arg("chunk_bytes") = 0);

  py::class_<PyStreamer>(m, "Streamer")
      .def(py::init<int, uint64_t, uint64_t, int64_t>(), py::arg("threads") = 0,
           py::arg("chunk_bytes") = 0, py::arg("memory_limit") = 0,
           py::arg("prefetch_bytes") = -1)
      .def("add", &PyStreamer::Add, py::arg("file"),
           py::arg("tensors") = py::none())
      .def("next", &PyStreamer::Next)
      .def("drain", &PyStreamer::Drain)
      .def("drain_hashed", &PyStreamer::DrainHashed, py::arg("file_index"))
      .def_property_readonly("peak_held_bytes", &PyStreamer::peak_held_bytes)
      .def("close", &PyStreamer::Close);
}

}  // namespace weightstream::python
