// URL handling for every provider and the transport: splitting, redacting
// for messages, and RFC 3986 percent-encoding (SigV4's UriEncode, GCS object
// names, Azure blob paths, query values).
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_URL_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_URL_H_

#include <optional>
#include <string>
#include <string_view>

namespace weightstream::cloud {

struct ParsedUrl {
  std::string scheme;  // Lower-cased.
  bool has_userinfo = false;
  std::string host;   // As written; IPv6 literals keep their brackets.
  std::string port;   // Empty if none.
  std::string path;   // Raw (still encoded); "" or starts with '/'.
  std::string query;  // Raw, without '?'; fragment dropped.

  // host[:port], for a Host header.
  std::string Authority() const {
    return port.empty() ? host : host + ":" + port;
  }
};

// Splits "scheme://[userinfo@]host[:port][/path][?query][#fragment]".
// nullopt if there is no scheme or host, the port is not 1-65535, or any
// byte is a control character or space.
std::optional<ParsedUrl> ParseUrl(std::string_view url);

// scheme://host[:port]/path with no userinfo, query or fragment: safe to
// put in a message whatever the URL carried (passwords, SAS signatures,
// presigned-URL signatures). "(unparsable URL)" when ParseUrl fails, so a
// malformed URL is never echoed either.
std::string RedactUrl(std::string_view url);

// Percent-encodes every byte outside RFC 3986's unreserved set
// (A-Z a-z 0-9 - . _ ~, tested as ASCII ranges so the C locale cannot widen
// it), upper-case hex: AWS SigV4's UriEncode. '/' is kept when `keep_slash`
// (object names used as URL paths) and encoded otherwise (one path segment,
// query names and values).
std::string PercentEncode(std::string_view s, bool keep_slash);

// Decodes %XX escapes (either hex case) and nothing else: '+' stays '+'.
// nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s);

// Whether `host` is an IP literal or "localhost" (S3 then uses path-style
// addressing, as boto3 does for custom endpoints).
bool IsIpOrLocalhost(std::string_view host);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_URL_H_
