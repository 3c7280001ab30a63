// Bindings for device plugins and the device stager (weightstream._device
// drives them): DevicePlugin (load, devices, memory) and DeviceStream (copy
// byte ranges of files straight into device memory through the pinned ring).
//
// Errors that come from the plugin raise the class that
// weightstream.errors.device_error() picks for the plugin's code (no driver,
// no device, out of memory, ...); anything else goes through RaiseStatus.
#include "cpp/python/device_bindings.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cpp/python/buffers.h"
#include "cpp/python/status_to_python.h"
#include "cpp/weightstream/device_plugin.h"
#include "cpp/weightstream/device_stager.h"
#include "cpp/weightstream/host_buffer.h"
#include "cpp/weightstream/local_file.h"
#include "cpp/weightstream/source.h"

namespace py = pybind11;

namespace weightstream::python {
namespace {

[[noreturn]] void RaiseDevice(const DeviceStatus& st) {
  if (st.device_code == WS_DEVICE_OK) RaiseStatus(st.status);
  py::object make =
      py::module_::import("weightstream.errors").attr("device_error");
  const std::string& m = st.status.message();
  py::object message = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
      m.data(), static_cast<Py_ssize_t>(m.size()), "backslashreplace"));
  if (!message) throw py::error_already_set();
  py::object exc = make(st.device_code, message);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

void OkOrRaiseDevice(const DeviceStatus& st) {
  if (!st.ok()) RaiseDevice(st);
}

class PyDevicePlugin {
 public:
  static std::shared_ptr<PyDevicePlugin> Load(const std::string& path) {
    std::shared_ptr<DevicePlugin> plugin;
    DeviceStatus st = [&] {
      py::gil_scoped_release release;
      return DevicePlugin::Load(path, &plugin);
    }();
    OkOrRaiseDevice(st);
    auto out = std::make_shared<PyDevicePlugin>();
    out->plugin_ = std::move(plugin);
    return out;
  }

  const std::shared_ptr<DevicePlugin>& plugin() const { return plugin_; }

  int DeviceCount() const {
    int n = 0;
    OkOrRaiseDevice(plugin_->DeviceCount(&n));
    return n;
  }

  py::dict Info(int device) const {
    DeviceInfo info;
    OkOrRaiseDevice(plugin_->Info(device, &info));
    py::dict d;
    d["name"] = info.name;
    d["major"] = info.major;
    d["minor"] = info.minor;
    d["total_memory"] = info.total_memory;
    d["free_memory"] = info.free_memory;
    d["async_engine_count"] = info.async_engine_count;
    return d;
  }

  py::tuple MemInfo(int device) const {
    uint64_t free_bytes = 0, total = 0;
    OkOrRaiseDevice(plugin_->MemInfo(device, &free_bytes, &total));
    return py::make_tuple(free_bytes, total);
  }

  uint64_t Alloc(int device, uint64_t bytes) const {
    uint64_t address = 0;
    DeviceStatus st = [&] {
      py::gil_scoped_release release;
      return plugin_->Alloc(device, bytes, &address);
    }();
    OkOrRaiseDevice(st);
    return address;
  }

  void Free(int device, uint64_t address) const {
    OkOrRaiseDevice(plugin_->Free(device, address));
  }

  py::array CopyToHost(int device, uint64_t address, uint64_t bytes) const {
    StatusOr<HostBuffer> buffer = HostBuffer::Allocate(bytes);
    HostBuffer b = ValueOrRaise(std::move(buffer));
    DeviceStatus st = [&] {
      py::gil_scoped_release release;
      return plugin_->CopyToHost(device, b.data(), address, bytes);
    }();
    OkOrRaiseDevice(st);
    return ToArray(std::move(b));
  }

 private:
  std::shared_ptr<DevicePlugin> plugin_;
};

// A path (bytes or str: a local file) or a native Source object (e.g. a
// remote object opened by a source plugin).
std::shared_ptr<Source> SourceFrom(const py::handle& obj) {
  if (py::isinstance<py::bytes>(obj) || py::isinstance<py::str>(obj)) {
    std::string path =
        py::isinstance<py::bytes>(obj)
            ? obj.cast<std::string>()
            : py::bytes(py::module_::import("os").attr("fsencode")(obj))
                  .cast<std::string>();
    StatusOr<std::shared_ptr<Source>> source = [&] {
      py::gil_scoped_release release;
      return OpenLocalFile(path);
    }();
    return ValueOrRaise(std::move(source));
  }
  try {
    return obj.cast<std::shared_ptr<Source>>();
  } catch (const py::cast_error&) {
    throw py::type_error("expected a path or a weightstream source, got " +
                         std::string(py::str(py::type::of(obj))));
  }
}

class PyDeviceStream {
 public:
  PyDeviceStream(const PyDevicePlugin& plugin, int device, int threads,
                 uint64_t slot_bytes, int slots, int streams)
      : engine_(std::make_unique<PluginCopyEngine>(plugin.plugin(), device,
                                                   streams)) {
    DeviceStagerOptions o;
    if (threads > 0) o.threads = threads;
    if (slot_bytes > 0) o.slot_bytes = slot_bytes;
    o.slots = slots;
    stager_ = std::make_unique<DeviceStager>(engine_.get(), o);
  }

  // sources: paths or Source objects; items: (source index, offset, length,
  // device address, id, name).
  void Start(const py::list& sources,
             const std::vector<std::tuple<size_t, uint64_t, uint64_t, uint64_t,
                                          size_t, std::string>>& items) {
    std::lock_guard<std::mutex> lock(mu_);
    Check();
    std::vector<std::shared_ptr<Source>> opened;
    for (const py::handle& s : sources) opened.push_back(SourceFrom(s));
    std::vector<DeviceCopy> copies;
    copies.reserve(items.size());
    for (const auto& [index, offset, length, address, id, name] : items) {
      if (index >= opened.size()) throw py::index_error("no such source");
      copies.push_back(
          DeviceCopy{opened[index], offset, length, address, id, name});
    }
    Status st = [&] {
      py::gil_scoped_release release;
      return stager_->Start(std::move(copies));
    }();
    if (!st.ok() && engine_->first_device_error() != WS_DEVICE_OK) {
      RaiseDevice(DeviceStatus{st, engine_->first_device_error()});
    }
    OkOrRaise(st);
  }

  // The id of the next copy on the device, or None when all are. Ctrl-C
  // stops the copies (after the queued ones finished) and raises.
  py::object Next() {
    std::lock_guard<std::mutex> lock(mu_);
    Check();
    StatusOr<std::optional<size_t>> next = [&] {
      py::gil_scoped_release release;
      return stager_->Next();
    }();
    if (PyErr_CheckSignals() != 0) {
      CloseLocked();
      throw py::error_already_set();
    }
    if (!next.ok() && engine_->first_device_error() != WS_DEVICE_OK) {
      RaiseDevice(DeviceStatus{next.status(), engine_->first_device_error()});
    }
    std::optional<size_t> id = ValueOrRaise(std::move(next));
    if (!id) return py::none();
    return py::int_(*id);
  }

  // Waits for every copy; returns how many completed.
  size_t Drain() {
    size_t n = 0;
    while (!Next().is_none()) ++n;
    return n;
  }

  py::dict Stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    py::dict d;
    if (stager_) {
      d["slots"] = stager_->slots();
      d["slot_bytes"] = stager_->slot_bytes();
      d["peak_slots_in_use"] = stager_->peak_slots_in_use();
    }
    return d;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    CloseLocked();
  }

 private:
  void Check() const {
    if (!stager_)
      RaiseStatus(InvalidArgumentError("the device stream is closed"));
  }
  void CloseLocked() {
    py::gil_scoped_release release;
    stager_.reset();  // waits for queued copies
    engine_.reset();
  }

  mutable std::mutex mu_;
  std::unique_ptr<PluginCopyEngine> engine_;
  std::unique_ptr<DeviceStager> stager_;
};

}  // namespace

void RegisterDevice(py::module_& m) {
  m.attr("DEVICE_PLUGIN_ABI_VERSION") = WS_DEVICE_PLUGIN_ABI_VERSION;
  py::class_<PyDevicePlugin, std::shared_ptr<PyDevicePlugin>>(m, "DevicePlugin")
      .def(py::init(&PyDevicePlugin::Load), py::arg("path"))
      .def_property_readonly(
          "name", [](const PyDevicePlugin& p) { return p.plugin()->name(); })
      .def_property_readonly(
          "version",
          [](const PyDevicePlugin& p) { return p.plugin()->version(); })
      .def_property_readonly(
          "path", [](const PyDevicePlugin& p) { return p.plugin()->path(); })
      .def_property_readonly(
          "driver_version",
          [](const PyDevicePlugin& p) { return p.plugin()->driver_version(); })
      .def_property_readonly(
          "runtime_version",
          [](const PyDevicePlugin& p) { return p.plugin()->runtime_version(); })
      .def("device_count", &PyDevicePlugin::DeviceCount)
      .def("device_info", &PyDevicePlugin::Info, py::arg("device"))
      .def("mem_info", &PyDevicePlugin::MemInfo, py::arg("device"))
      .def("alloc", &PyDevicePlugin::Alloc, py::arg("device"), py::arg("bytes"))
      .def("free", &PyDevicePlugin::Free, py::arg("device"), py::arg("address"))
      .def("copy_to_host", &PyDevicePlugin::CopyToHost, py::arg("device"),
           py::arg("address"), py::arg("bytes"));

  py::class_<PyDeviceStream>(m, "DeviceStream")
      .def(py::init<const PyDevicePlugin&, int, int, uint64_t, int, int>(),
           py::arg("plugin"), py::arg("device"), py::arg("threads") = 0,
           py::arg("slot_bytes") = 0, py::arg("slots") = 0,
           py::arg("streams") = 4)
      .def("start", &PyDeviceStream::Start, py::arg("sources"),
           py::arg("items"))
      .def("next", &PyDeviceStream::Next)
      .def("drain", &PyDeviceStream::Drain)
      .def("stats", &PyDeviceStream::Stats)
      .def("close", &PyDeviceStream::Close);
}

}  // namespace weightstream::python
