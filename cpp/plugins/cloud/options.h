// Parses the C ABI's options_json into Options (provider.h).
//
// The JSON must be an object. Every key must be one Options knows; a value
// of the wrong type, or a number out of range, is an error naming the key.
// Values are never echoed in messages: they may be secrets. null means
// "unset" (the environment or the default applies), so callers can pass
// optional settings through without filtering them.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_OPTIONS_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_OPTIONS_H_

#include <string_view>

#include "cpp/plugins/cloud/provider.h"
#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

// Errors: kInvalidArgument ("options: ..."), naming the offending key.
StatusOr<Options> ParseOptions(std::string_view json);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_OPTIONS_H_
