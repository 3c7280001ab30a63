// Byte-wise ASCII helpers for protocol text (header names, hosts, connection
// string keys). Unlike std::tolower/isspace they ignore the process locale,
// which the host application (e.g. Python) may have set.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_ASCII_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_ASCII_H_

#include <string>
#include <string_view>

namespace weightstream::cloud {

// `s` with A-Z mapped to a-z; every other byte unchanged.
std::string AsciiLower(std::string_view s);

// `s` without leading and trailing spaces and tabs (RFC 9110's OWS).
std::string_view TrimOws(std::string_view s);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_ASCII_H_
