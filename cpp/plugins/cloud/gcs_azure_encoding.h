// Byte encodings the GCS and Azure providers share: base64 (standard and URL
// alphabets), splitting a URL into the parts the signers need, and decoding
// a query (percent-encoding itself lives in url.h). All functions are pure and
// thread-safe; none allocates more than a small multiple of its input.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_GCS_AZURE_ENCODING_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_GCS_AZURE_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weightstream::cloud {

// RFC 4648 section 4, with '=' padding.
std::string Base64Encode(std::string_view bytes);
// RFC 4648 section 5 ('-', '_'), no padding: the JWT form (RFC 7515).
std::string Base64UrlEncode(std::string_view bytes);
// Standard alphabet; padding optional, no whitespace. nullopt on any other
// byte, so a mangled key is reported instead of silently shortened.
std::optional<std::string> Base64Decode(std::string_view text);

struct UrlParts {
  std::string scheme;     // Lower-cased, e.g. "https".
  std::string authority;  // host[:port] as written (no userinfo allowed).
  std::string path;       // Starts with '/' or is empty; still encoded.
  std::string query;      // Without '?'; empty if none.
};
// Splits "scheme://authority/path?query": ParseUrl (url.h) with a fragment
// or userinfo refused. nullopt when there is no "://", no host, a port that
// is not 1-65535, userinfo, a '#', or a control character or space.
std::optional<UrlParts> SplitUrl(std::string_view url);

// "a=1&b=2" -> {{"a","1"},{"b","2"}}, names and values percent-decoded.
// nullopt on a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_GCS_AZURE_ENCODING_H_
