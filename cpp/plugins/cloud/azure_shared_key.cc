#include "cpp/plugins/cloud/azure_shared_key.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <vector>

#include "cpp/plugins/cloud/ascii.h"
#include "cpp/plugins/cloud/digest.h"
#include "cpp/plugins/cloud/gcs_azure_encoding.h"

namespace weightstream::cloud {

StatusOr<std::string> AzureStringToSign(std::string_view account,
                                        const HttpRequest& request) {
  auto parts = SplitUrl(request.url);
  if (!parts) return InvalidArgumentError("cannot sign a malformed URL");
  auto query = ParseQuery(parts->query);
  if (!query) return InvalidArgumentError("cannot sign a malformed query");

  std::map<std::string, std::string> standard;
  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [name, value] : request.headers) {
    std::string lower = AsciiLower(name);
    if (lower.rfind("x-ms-", 0) == 0) {
      ms.emplace_back(lower, std::string(TrimOws(value)));
    } else {
      standard[lower] = value;
    }
  }
  static const char* const kSlots[] = {"content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-md5",
                                       "content-type",
                                       "date",
                                       "if-modified-since",
                                       "if-match",
                                       "if-none-match",
                                       "if-unmodified-since",
                                       "range"};
  std::string sts = request.method + "\n";
  for (const char* slot : kSlots) {
    auto it = standard.find(slot);
    std::string value = it == standard.end() ? "" : it->second;
    if (std::string_view(slot) == "content-length" && value == "0") value = "";
    sts += value + "\n";
  }
  std::stable_sort(ms.begin(), ms.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  for (const auto& [name, value] : ms) sts += name + ":" + value + "\n";

  sts += "/";
  sts += account;
  sts += parts->path.empty() ? "/" : parts->path;
  std::map<std::string, std::vector<std::string>> params;
  for (auto& [name, value] : *query) params[AsciiLower(name)].push_back(value);
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    sts += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) sts += ",";
      sts += values[i];
    }
  }
  return sts;
}

StatusOr<std::string> AzureSharedKeyAuthorization(std::string_view account,
                                                  std::string_view key,
                                                  const HttpRequest& request) {
  WS_ASSIGN_OR_RETURN(std::string sts, AzureStringToSign(account, request));
  std::string auth = "SharedKey ";
  auth += account;
  auth += ":";
  auth += Base64Encode(HmacSha256(key, sts));
  return auth;
}

std::string AzureDateNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  // strftime's %a/%b follow the C locale only if LC_TIME is "C"; spell the
  // names out so the host's locale cannot change the signed string.
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                      "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace weightstream::cloud
