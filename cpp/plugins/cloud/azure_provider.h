// Azure Blob Storage provider (MakeAzureProvider in provider.h).
//
// URLs:
//   az://CONTAINER/BLOB                      account and endpoint from the
//                                            options / connection string /
//                                            environment (below)
//   https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB[?SAS]
//                                            (also the sovereign-cloud
//                                            suffixes)
//   ENDPOINT/CONTAINER/BLOB[?SAS]            any URL under the configured
//                                            blob endpoint, e.g. Azurite's
//                                            http://127.0.0.1:PORT/devstoreaccount1
//
// Resolution, first found wins:
//   endpoint: options endpoint_url, connection string BlobEndpoint
//     (UseDevelopmentStorage=true -> http://127.0.0.1:10000/devstoreaccount1),
//     else PROTOCOL://ACCOUNT.blob.SUFFIX from the connection string
//     (https, core.windows.net by default).
//   connection string: options connection_string, else
//     AZURE_STORAGE_CONNECTION_STRING.
//   account: the host of an https://ACCOUNT.blob... URL, options
//     account_name, the connection string's AccountName,
//     AZURE_STORAGE_ACCOUNT.
//   credential: options anonymous -> none; a SAS in the URL; options
//     sas_token; options account_key; the connection string's AccountKey,
//     then its SharedAccessSignature; AZURE_STORAGE_KEY (or
//     AZURE_STORAGE_ACCESS_KEY); AZURE_STORAGE_SAS_TOKEN; else anonymous
//     (public containers). An account key is Shared Key authorization
//     (azure_shared_key.h), signed per request.
//
// Reads: Get Blob Properties (HEAD) for size and ETag at open, then Get Blob
// with x-ms-range and If-Match: ETag, so a replaced blob answers 412 instead
// of mixing bytes. Listing: List Blobs with prefix and marker. A SAS never
// appears in DisplayName() or in errors; listed URLs carry the SAS of the
// listed URL (they must open with it), so print DisplayName()s, not them.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_PROVIDER_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_PROVIDER_H_

#include <string_view>

#include "cpp/plugins/cloud/provider.h"

namespace weightstream::cloud {

// True when `url` is an http(s) URL the Azure provider should serve rather
// than the plain HTTP one: a *.blob.core.windows.net-style host, or a URL
// under the blob endpoint configured through `options` (endpoint_url or
// connection_string) or AZURE_STORAGE_CONNECTION_STRING's BlobEndpoint.
// az:// URLs are always Azure; this is for routing http/https.
bool IsAzureBlobUrl(std::string_view url, const Options& options);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_PROVIDER_H_
