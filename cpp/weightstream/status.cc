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

std::string QuoteUntrusted(std::string_view s) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 200) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

}  // namespace weightstream
