// Where S3 credentials, region and endpoint come from, in the order the AWS
// SDKs use:
//   credentials: options (access_key_id + secret_access_key [+
//     session_token]); AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+
//     AWS_SESSION_TOKEN]; the profile (options.profile, AWS_PROFILE, else
//     "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), then
//     in AWS_CONFIG_FILE (~/.aws/config); else none (anonymous requests).
//     options.anonymous skips all of it.
//   region: options, AWS_REGION, AWS_DEFAULT_REGION, the profile's region in
//     the config file, else us-east-1.
//   endpoint: options.endpoint_url, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
//     else AWS (empty here).
// Instance metadata / SSO / credential_process are not consulted.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_AWS_CONFIG_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_AWS_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cpp/plugins/cloud/provider.h"
#include "cpp/plugins/cloud/sigv4.h"
#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment (empty values count as unset).
EnvLookup ProcessEnv();

struct S3Settings {
  std::optional<AwsCredentials> credentials;  // nullopt: anonymous.
  std::string region;
  std::string endpoint_url;  // Empty: AWS.
  // Where the credentials came from, or (when there are none and anonymous
  // was not asked for) every place that was searched. No secret in either.
  std::string credentials_source;
  bool anonymous_requested = false;
};

// Errors: kInvalidArgument for half-given credentials or a named profile
// that exists in neither file; kIo if a file exists but cannot be read.
StatusOr<S3Settings> ResolveS3Settings(const Options& options,
                                       const EnvLookup& env);

// An INI file as the AWS CLI writes them: section -> key -> value, keys
// lower-cased. Comments (# ;) and blank lines skipped; nested (indented)
// keys ignored. nullopt if the file does not exist.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
StatusOr<std::optional<IniFile>> ReadIniFile(const std::string& path);
IniFile ParseIni(std::string_view text);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_AWS_CONFIG_H_
