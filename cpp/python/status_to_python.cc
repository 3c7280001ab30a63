#include "cpp/python/status_to_python.h"

#include <pybind11/pybind11.h>

#include <cerrno>

namespace py = pybind11;

namespace weightstream::python {
namespace {

py::object ErrorClass(const char* name) {
  return py::module_::import("weightstream.errors").attr(name);
}

py::object BuiltinClass(const char* name) {
  return py::module_::import("builtins").attr(name);
}

}  // namespace

void RaiseStatus(const Status& status) {
  py::object cls;
  bool os_style = false;
  int err = status.os_errno();
  switch (status.code()) {
    case StatusCode::kFormat:
      cls = ErrorClass("FormatError");
      break;
    case StatusCode::kNotFound:
      cls = BuiltinClass("FileNotFoundError");
      os_style = true;
      if (err == 0) err = ENOENT;
      break;
    case StatusCode::kPermissionDenied:
      cls = BuiltinClass("PermissionError");
      os_style = true;
      if (err == 0) err = EACCES;
      break;
    case StatusCode::kIo:
      cls = ErrorClass("ReadError");
      os_style = err != 0;
      break;
    case StatusCode::kInvalidArgument:
      cls = BuiltinClass("ValueError");
      break;
    case StatusCode::kResourceExhausted:
      cls = BuiltinClass("MemoryError");
      break;
    case StatusCode::kCancelled:
      cls = ErrorClass("WeightstreamError");
      break;
    default:
      cls = BuiltinClass("RuntimeError");
      break;
  }
  // Messages quote bytes from hostile files: never fail on invalid UTF-8.
  const std::string& m = status.message();
  py::object message = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
      m.data(), static_cast<Py_ssize_t>(m.size()), "backslashreplace"));
  if (!message) throw py::error_already_set();
  // A remote source's 404/403: the HTTP error classes, which are still
  // FileNotFoundError/PermissionError (the URL is filled in by the caller
  // that knows it; the message names it already).
  const int http = status.http_status();
  if (http != 0 && (status.code() == StatusCode::kNotFound ||
                    status.code() == StatusCode::kPermissionDenied)) {
    cls = ErrorClass(status.code() == StatusCode::kNotFound
                         ? "RemoteFileNotFoundError"
                         : "RemotePermissionError");
    py::object exc = cls(message, http, "");
    PyErr_SetObject(cls.ptr(), exc.ptr());
    throw py::error_already_set();
  }
  py::object exc = os_style ? cls(err, message) : cls(message);
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

}  // namespace weightstream::python
