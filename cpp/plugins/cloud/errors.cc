#include "cpp/plugins/cloud/errors.h"

#include <cerrno>

namespace weightstream::cloud {

Status ChangedError(std::string message) {
  Status s(StatusCode::kIo, std::move(message));
  s.set_os_errno(ESTALE);
  return s;
}

bool IsChanged(const Status& status) {
  return status.code() == StatusCode::kIo && status.os_errno() == ESTALE;
}

Status HttpStatusError(long http_status, std::string message) {
  Status s;
  if (http_status == 404) {
    s = NotFoundError(std::move(message));
  } else if (http_status == 401 || http_status == 403) {
    s = Status(StatusCode::kPermissionDenied, std::move(message));
  } else if (http_status == 412) {
    s = ChangedError(std::move(message));
  } else if (http_status >= 400 && http_status < 500 && http_status != 408 &&
             http_status != 429) {
    s = InvalidArgumentError(std::move(message));
  } else {
    s = IoError(std::move(message));
  }
  s.set_http_status(static_cast<int>(http_status));
  return s;
}

std::string RangeText(uint64_t offset, uint64_t length) {
  if (length == 0) return "bytes " + std::to_string(offset) + "-(empty)";
  return "bytes " + std::to_string(offset) + "-" +
         std::to_string(offset + length - 1);
}

}  // namespace weightstream::cloud
