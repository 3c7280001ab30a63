#include "cpp/plugins/cloud/url.h"

#include <arpa/inet.h>

namespace weightstream::cloud {

std::optional<ParsedUrl> ParseUrl(std::string_view url) {
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) return std::nullopt;
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  ParsedUrl out;
  // ASCII ranges, not std::isalnum/tolower: the locale must not widen them.
  for (char c : url.substr(0, sep)) {
    const char lower = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    if (!((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
          lower == '+' || lower == '-' || lower == '.')) {
      return std::nullopt;
    }
    out.scheme += lower;
  }
  std::string_view rest = url.substr(sep + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) {
    rest = rest.substr(0, hash);
  }
  const size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  rest = auth_end == std::string_view::npos ? std::string_view()
                                            : rest.substr(auth_end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  if (!port.empty() || authority.back() == ':') {
    if (port.empty() || port.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
  }
  out.host = std::string(host);
  out.port = std::string(port);
  const size_t q = rest.find('?');
  out.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(rest.substr(q + 1));
  return out;
}

std::string RedactUrl(std::string_view url) {
  auto parsed = ParseUrl(url);
  if (!parsed) return "(unparsable URL)";
  return parsed->scheme + "://" + parsed->Authority() + parsed->path;
}

std::string PercentEncode(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                            c == '_' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool IsIpOrLocalhost(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') return true;
  std::string h(host);
  in_addr addr;
  return inet_pton(AF_INET, h.c_str(), &addr) == 1;
}

}  // namespace weightstream::cloud
