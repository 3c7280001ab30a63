// Error values used across the core: no exceptions cross the C++ API.
//
// A Status carries a code and a message that names what went wrong, in which
// file and at which offset. StatusOr<T> holds either a value or an error.
#ifndef WEIGHTSTREAM_STATUS_H_
#define WEIGHTSTREAM_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace weightstream {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // A caller passed something unusable.
  kNotFound,           // A file or tensor does not exist.
  kPermissionDenied,   // The OS refused access.
  kFormat,             // The bytes do not form a valid file of the format.
  kIo,                 // A read failed or came back short.
  kResourceExhausted,  // Out of memory or over a limit.
  kCancelled,          // The operation was stopped by its owner.
  kInternal,           // A bug in weightstream.
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The OS error number behind a kIo/kNotFound/kPermissionDenied, or 0.
  int os_errno() const { return os_errno_; }
  Status& set_os_errno(int e) {
    os_errno_ = e;
    return *this;
  }
  // The HTTP status behind an error of a remote source (404, 403, ...), or 0.
  int http_status() const { return http_status_; }
  Status& set_http_status(int s) {
    http_status_ = s;
    return *this;
  }

  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int os_errno_ = 0;
  int http_status_ = 0;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) {
  return Status(StatusCode::kNotFound, std::move(m));
}
inline Status FormatError(std::string m) {
  return Status(StatusCode::kFormat, std::move(m));
}
inline Status IoError(std::string m) {
  return Status(StatusCode::kIo, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status CancelledError(std::string m) {
  return Status(StatusCode::kCancelled, std::move(m));
}
inline Status InternalError(std::string m) {
  return Status(StatusCode::kInternal, std::move(m));
}

// An error from an OS call: picks the code from errno (ENOENT -> kNotFound,
// EACCES/EPERM -> kPermissionDenied, else kIo) and appends strerror.
Status OsError(int err, const std::string& what);

// Quotes bytes taken from an untrusted file for a message: control bytes as
// \xNN and at most 200 bytes, so hostile names stay printable and bounded.
std::string QuoteUntrusted(std::string_view s);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok());
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace weightstream

#define WS_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::weightstream::Status _ws_st = (expr); \
    if (!_ws_st.ok()) return _ws_st;        \
  } while (0)

#define WS_CONCAT_INNER(a, b) a##b
#define WS_CONCAT(a, b) WS_CONCAT_INNER(a, b)
#define WS_ASSIGN_OR_RETURN(lhs, expr) \
  WS_ASSIGN_OR_RETURN_IMPL(WS_CONCAT(_ws_or_, __LINE__), lhs, expr)
#define WS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

#endif  // WEIGHTSTREAM_STATUS_H_
