#include "cpp/plugins/cloud/azure_connection_string.h"

#include "cpp/plugins/cloud/ascii.h"

namespace weightstream::cloud {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' ||
                        s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

StatusOr<AzureConnectionString> ParseAzureConnectionString(
    std::string_view text) {
  AzureConnectionString out;
  bool development = false;
  bool any = false;
  size_t position = 0;
  while (!text.empty()) {
    size_t semi = text.find(';');
    std::string_view item = Trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view()
                                          : text.substr(semi + 1);
    ++position;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgumentError("Azure connection string: segment " +
                                  std::to_string(position) +
                                  " is not Key=Value");
    }
    std::string key = AsciiLower(Trim(item.substr(0, eq)));
    std::string value(Trim(item.substr(eq + 1)));
    any = true;
    if (key == "accountname") {
      out.account_name = value;
    } else if (key == "accountkey") {
      out.account_key = value;
    } else if (key == "blobendpoint") {
      while (!value.empty() && value.back() == '/') value.pop_back();
      out.blob_endpoint = value;
    } else if (key == "sharedaccesssignature") {
      if (!value.empty() && value.front() == '?') value.erase(0, 1);
      out.shared_access_signature = value;
    } else if (key == "defaultendpointsprotocol") {
      std::string p = AsciiLower(value);
      if (p != "http" && p != "https") {
        return InvalidArgumentError(
            "Azure connection string: DefaultEndpointsProtocol must be http "
            "or https");
      }
      out.protocol = p;
    } else if (key == "endpointsuffix") {
      out.endpoint_suffix = value;
    } else if (key == "usedevelopmentstorage") {
      development = AsciiLower(value) == "true";
    }
  }
  if (!any) return InvalidArgumentError("Azure connection string is empty");
  if (development) {
    if (out.account_name.empty()) out.account_name = kAzuriteAccount;
    if (out.account_key.empty()) out.account_key = kAzuriteKey;
    if (out.blob_endpoint.empty()) {
      out.blob_endpoint = "http://127.0.0.1:10000/" + out.account_name;
    }
  }
  if (out.account_name.empty() && out.blob_endpoint.empty()) {
    return InvalidArgumentError(
        "Azure connection string names neither AccountName nor BlobEndpoint");
  }
  return out;
}

}  // namespace weightstream::cloud
