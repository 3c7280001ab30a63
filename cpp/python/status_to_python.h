// Raises the Python exception that matches a Status (see weightstream.errors).
#ifndef WEIGHTSTREAM_PYTHON_STATUS_TO_PYTHON_H_
#define WEIGHTSTREAM_PYTHON_STATUS_TO_PYTHON_H_

#include "cpp/weightstream/status.h"

namespace weightstream::python {

// Sets the Python error for `status` (which must not be OK) and throws
// pybind11::error_already_set. Requires the GIL.
[[noreturn]] void RaiseStatus(const Status& status);

// Returns the value or raises.
template <typename T>
T ValueOrRaise(StatusOr<T> s) {
  if (!s.ok()) RaiseStatus(s.status());
  return std::move(s).value();
}

inline void OkOrRaise(const Status& s) {
  if (!s.ok()) RaiseStatus(s);
}

}  // namespace weightstream::python

#endif  // WEIGHTSTREAM_PYTHON_STATUS_TO_PYTHON_H_
