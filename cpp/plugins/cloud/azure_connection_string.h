// Azure Storage connection strings ("AccountName=a;AccountKey=k;...").
//
// Keys are matched case-insensitively (as the Azure SDKs do); values may
// contain '=' (base64 keys, SAS tokens). Keys that do not concern the Blob
// service (QueueEndpoint, TableEndpoint, ...) are ignored.
// "UseDevelopmentStorage=true" expands to Azurite's well-known account on
// http://127.0.0.1:10000. Error messages never quote a value: values are
// secrets.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_CONNECTION_STRING_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_CONNECTION_STRING_H_

#include <string>
#include <string_view>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

// The emulator's documented development account.
inline constexpr char kAzuriteAccount[] = "devstoreaccount1";
inline constexpr char kAzuriteKey[] =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
    "K1SZFPTOtr/KBHBeksoGMGw==";

struct AzureConnectionString {
  std::string account_name;
  std::string account_key;              // Base64 text as written.
  std::string blob_endpoint;            // Without a trailing '/'.
  std::string shared_access_signature;  // Without a leading '?'.
  std::string protocol = "https";       // DefaultEndpointsProtocol.
  std::string endpoint_suffix = "core.windows.net";
};

// Parses `text`. kInvalidArgument names the offending key (or the segment's
// position when it has no '='), never a value.
StatusOr<AzureConnectionString> ParseAzureConnectionString(
    std::string_view text);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_CONNECTION_STRING_H_
