#include "cpp/weightstream/status.h"

#include <cerrno>
#include <cstring>

namespace weightstream {

std::string Status::ToString() const {
  if (ok()) return "OK";
  return message_;
}

Status OsError(int err, const std::string& what) {
  StatusCode code = StatusCode::kIo;
  if (err == ENOENT || err == ENOTDIR) code = StatusCode::kNotFound;
  if (err == EACCES || err == EPERM) code = StatusCode::kPermissionDenied;
  Status s(code, what + ": " + std::strerror(err));
  s.set_os_errno(err);
  return s;
}

}  // namespace weightstream
