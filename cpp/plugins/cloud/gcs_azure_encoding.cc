#include "cpp/plugins/cloud/gcs_azure_encoding.h"

#include <cstdint>

#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

constexpr char kStd[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) |
                 uint8_t(bytes[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  return Encode(bytes, kStd, /*pad=*/true);
}

std::string Base64UrlEncode(std::string_view bytes) {
  return Encode(bytes, kUrl, /*pad=*/false);
}

std::optional<std::string> Base64Decode(std::string_view text) {
  size_t end = text.size();
  size_t padding = 0;
  while (end > 0 && text[end - 1] == '=' && padding < 2) {
    --end;
    ++padding;
  }
  // With padding the length must be a multiple of 4; one leftover symbol can
  // never encode a whole byte.
  if (padding > 0 && text.size() % 4 != 0) return std::nullopt;
  if (end % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(end / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::optional<UrlParts> SplitUrl(std::string_view url) {
  // ParseUrl drops a fragment and notes userinfo; neither belongs in a URL
  // that is signed or names an endpoint, so both are refused here.
  if (url.find('#') != std::string_view::npos) return std::nullopt;
  auto parsed = ParseUrl(url);
  if (!parsed || parsed->has_userinfo) return std::nullopt;
  return UrlParts{std::move(parsed->scheme), parsed->Authority(),
                  std::move(parsed->path), std::move(parsed->query)};
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    auto name = PercentDecode(item.substr(0, eq));
    auto value =
        PercentDecode(eq == std::string_view::npos ? std::string_view()
                                                   : item.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

}  // namespace weightstream::cloud
