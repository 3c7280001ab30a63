// Where a GCS request's "Authorization: Bearer" comes from, first found:
//   1. options anonymous       -> none
//   2. options token           -> that OAuth2 access token, as is
//   3. options credentials_file
//   4. STORAGE_EMULATOR_HOST set (and nothing above) -> none: the emulator
//      needs no token, and real credentials must not go to it
//   5. GOOGLE_APPLICATION_CREDENTIALS
//   6. gcloud's application-default file
//      ($CLOUDSDK_CONFIG or
//      ~/.config/gcloud)/application_default_credentials.json
//   7. none (public buckets); a 401/403 then says nothing was found
// A credentials file is "service_account" (RS256 JWT exchanged at its
// token_uri, gcs_jwt.h) or "authorized_user" (refresh token exchanged at
// https://oauth2.googleapis.com/token). Access tokens are cached and renewed
// five minutes before they expire; Authorization() is thread-safe and
// callers wait while one of them renews. Credentials loaded from the same
// file (same path and contents) are shared process-wide, so opening the
// shards of one checkpoint exchanges one grant, not one per shard.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_GCS_CREDENTIALS_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_GCS_CREDENTIALS_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "cpp/plugins/cloud/provider.h"
#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

class GcsCredentials {
 public:
  enum class Kind { kAnonymous, kToken, kServiceAccount, kAuthorizedUser };

  // Resolves per the order above. A named file that is missing, unreadable,
  // not JSON, of an unknown type or without its fields is an error naming
  // the file (never its contents).
  static StatusOr<std::shared_ptr<GcsCredentials>> Resolve(
      const Options& options);

  // Loads a credentials JSON file (service_account or authorized_user).
  static StatusOr<std::shared_ptr<GcsCredentials>> FromFile(
      const std::string& path);

  Kind kind() const { return kind_; }

  // "Bearer TOKEN", or "" for anonymous. Exchanges a grant through
  // `transport` when no cached token has five minutes left.
  StatusOr<std::string> Authorization(HttpTransport& transport);

  // For error messages: "service account a@b from /path", never a secret.
  std::string Describe() const;

 private:
  GcsCredentials() = default;
  static StatusOr<std::shared_ptr<GcsCredentials>> Parse(
      const std::string& path, const std::string& text);
  Status Refresh(HttpTransport& transport);

  Kind kind_ = Kind::kAnonymous;
  std::string source_;  // Where it came from, for Describe().
  std::string client_email_;
  std::string private_key_;
  std::string private_key_id_;
  std::string client_id_;
  std::string client_secret_;
  std::string refresh_token_;
  std::string token_uri_;

  std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point renew_at_{};
};

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_GCS_CREDENTIALS_H_
