// Google Cloud Storage provider (MakeGcsProvider in provider.h), over the
// JSON API:
//   open:   objects.get  GET /storage/v1/b/BUCKET/o/OBJECT -> size, generation
//   read:   GET /download/storage/v1/b/BUCKET/o/OBJECT?alt=media
//             &ifGenerationMatch=GENERATION with Range: bytes=a-b, so a
//             replaced object answers 412 instead of mixing bytes. The
//             provider keeps the generation itself and leaves
//             ObjectInfo::version empty, because the transport checks a
//             version against each answer's ETag, which for GCS is not the
//             generation.
//   list:   objects.list GET /storage/v1/b/BUCKET/o?prefix=P&pageToken=T
// The JSON API rather than the XML one because one metadata GET gives size
// and generation (the emulator has no HEAD), preconditions are query
// parameters, and listings are JSON, parsed with the project's nlohmann/json.
//
// URL: gs://BUCKET/OBJECT (OBJECT empty or ending in '/' for a prefix).
// Endpoint: options endpoint_url, STORAGE_EMULATOR_HOST ("host:port" or a
// URL), else https://storage.googleapis.com. Credentials: gcs_credentials.h.
//
// The transport given to MakeGcsProvider is kept for renewing access tokens
// from RangeRequest (which has no transport): it must outlive the provider
// and accept calls from any thread (renewals are serialized here).
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_GCS_PROVIDER_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_GCS_PROVIDER_H_

#include "cpp/plugins/cloud/provider.h"

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_GCS_PROVIDER_H_
