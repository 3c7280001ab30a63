// Error helpers shared by the transport and the providers.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_ERRORS_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_ERRORS_H_

#include <string>
#include <string_view>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

// "The object changed while being read" (ETag/size/generation mismatch, or
// 412 on a pinned request). A kIo Status marked with ESTALE, which the
// plugin entry point reports as WS_CHANGED: weightstream::StatusCode has no
// code of its own for it.
Status ChangedError(std::string message);
bool IsChanged(const Status& status);

// The code for an HTTP error status: 404 -> kNotFound, 401/403 ->
// kPermissionDenied, 412 -> changed, 416 / other 4xx -> kInvalidArgument
// (what was asked for is wrong), the rest kIo.
Status HttpStatusError(long http_status, std::string message);

// "bytes A-B" (inclusive, as HTTP writes ranges) for messages.
std::string RangeText(uint64_t offset, uint64_t length);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_ERRORS_H_
