#include "cpp/plugins/cloud/gcs_credentials.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cpp/plugins/cloud/gcs_azure_encoding.h"
#include "cpp/plugins/cloud/gcs_jwt.h"

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxCredentialsFile = 1u << 20;
constexpr size_t kMaxTokenBody = 64u << 10;
constexpr char kDefaultTokenUri[] = "https://oauth2.googleapis.com/token";

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

bool FileExists(const std::string& path) {
  std::ifstream in(path);
  return in.good();
}

// The token endpoint receives a signed assertion or a refresh token: only
// https, or http to this machine (test token servers).
bool AcceptableTokenUri(const std::string& uri) {
  auto parts = SplitUrl(uri);
  if (!parts) return false;
  if (parts->scheme == "https") return true;
  if (parts->scheme != "http") return false;
  std::string host = parts->authority.substr(0, parts->authority.rfind(':'));
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

std::string StringField(const nlohmann::json& json, const char* name) {
  auto it = json.find(name);
  if (it == json.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

StatusOr<std::shared_ptr<GcsCredentials>> GcsCredentials::Resolve(
    const Options& options) {
  std::shared_ptr<GcsCredentials> out(new GcsCredentials());
  if (options.anonymous) return out;
  if (options.token) {
    if (options.token->empty() ||
        options.token->find_first_of("\r\n") != std::string::npos) {
      return InvalidArgumentError(
          "the token option must be a non-empty single-line OAuth2 token");
    }
    out->kind_ = Kind::kToken;
    out->source_ = "the token option";
    out->token_ = *options.token;
    out->renew_at_ = std::chrono::steady_clock::time_point::max();
    return out;
  }
  if (options.credentials_file) return FromFile(*options.credentials_file);
  if (Env("STORAGE_EMULATOR_HOST")) return out;
  if (auto path = Env("GOOGLE_APPLICATION_CREDENTIALS")) {
    auto loaded = FromFile(*path);
    if (!loaded.ok()) {
      return Status(loaded.status().code(),
                    loaded.status().message() +
                        " (named by GOOGLE_APPLICATION_CREDENTIALS)");
    }
    return loaded;
  }
  std::string gcloud;
  if (auto dir = Env("CLOUDSDK_CONFIG")) {
    gcloud = *dir;
  } else if (auto home = Env("HOME")) {
    gcloud = *home + "/.config/gcloud";
  }
  if (!gcloud.empty()) {
    std::string adc = gcloud + "/application_default_credentials.json";
    if (FileExists(adc)) return FromFile(adc);
  }
  return out;
}

StatusOr<std::shared_ptr<GcsCredentials>> GcsCredentials::FromFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFoundError("cannot open the GCS credentials file " +
                         QuoteUntrusted(path));
  }
  std::string text;
  text.resize(kMaxCredentialsFile + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxCredentialsFile) {
    return InvalidArgumentError("the GCS credentials file " +
                                QuoteUntrusted(path) + " is larger than 1 MiB");
  }
  // Kept (not weakly referenced) so that the opens of one checkpoint's
  // shards, which come one after another, share a token. Keyed by path and
  // contents: a rewritten file is a new credential. A handful of files at
  // most in practice; the bound only keeps a misuse from growing it.
  static std::mutex cache_mu;
  static auto* cache =
      new std::map<std::string, std::shared_ptr<GcsCredentials>>();
  std::string cache_key = path + '\0' + text;
  std::lock_guard<std::mutex> lock(cache_mu);
  if (auto it = cache->find(cache_key); it != cache->end()) return it->second;
  WS_ASSIGN_OR_RETURN(std::shared_ptr<GcsCredentials> parsed,
                      Parse(path, text));
  if (cache->size() >= 16) cache->clear();
  (*cache)[cache_key] = parsed;
  return parsed;
}

StatusOr<std::shared_ptr<GcsCredentials>> GcsCredentials::Parse(
    const std::string& path, const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) {
    return InvalidArgumentError("the GCS credentials file " +
                                QuoteUntrusted(path) + " is not a JSON object");
  }
  std::shared_ptr<GcsCredentials> out(new GcsCredentials());
  std::string type = StringField(json, "type");
  auto missing = [&](const char* field) {
    return InvalidArgumentError("the GCS credentials file " +
                                QuoteUntrusted(path) + " (" + type +
                                ") has no string field '" + field + "'");
  };
  if (type == "service_account") {
    out->kind_ = Kind::kServiceAccount;
    out->client_email_ = StringField(json, "client_email");
    out->private_key_ = StringField(json, "private_key");
    out->private_key_id_ = StringField(json, "private_key_id");
    out->token_uri_ = StringField(json, "token_uri");
    if (out->client_email_.empty()) return missing("client_email");
    if (out->private_key_.empty()) return missing("private_key");
    if (out->token_uri_.empty()) out->token_uri_ = kDefaultTokenUri;
    out->source_ = "service account " + QuoteUntrusted(out->client_email_) +
                   " from " + QuoteUntrusted(path);
  } else if (type == "authorized_user") {
    out->kind_ = Kind::kAuthorizedUser;
    out->client_id_ = StringField(json, "client_id");
    out->client_secret_ = StringField(json, "client_secret");
    out->refresh_token_ = StringField(json, "refresh_token");
    out->token_uri_ = StringField(json, "token_uri");
    if (out->client_id_.empty()) return missing("client_id");
    if (out->client_secret_.empty()) return missing("client_secret");
    if (out->refresh_token_.empty()) return missing("refresh_token");
    if (out->token_uri_.empty()) out->token_uri_ = kDefaultTokenUri;
    out->source_ = "authorized user credentials from " + QuoteUntrusted(path);
  } else {
    return InvalidArgumentError(
        "the GCS credentials file " + QuoteUntrusted(path) + " has type " +
        QuoteUntrusted(type) + "; supported: service_account, authorized_user");
  }
  if (!AcceptableTokenUri(out->token_uri_)) {
    return InvalidArgumentError("the GCS credentials file " +
                                QuoteUntrusted(path) +
                                " has a token_uri that is not https: " +
                                QuoteUntrusted(out->token_uri_));
  }
  return out;
}

StatusOr<std::string> GcsCredentials::Authorization(HttpTransport& transport) {
  if (kind_ == Kind::kAnonymous) return std::string();
  std::lock_guard<std::mutex> lock(mu_);
  if (kind_ != Kind::kToken &&
      (token_.empty() || std::chrono::steady_clock::now() >= renew_at_)) {
    WS_RETURN_IF_ERROR(Refresh(transport));
  }
  return "Bearer " + token_;
}

Status GcsCredentials::Refresh(HttpTransport& transport) {
  HttpRequest request;
  request.method = "POST";
  request.url = token_uri_;
  request.headers.emplace_back("Content-Type",
                               "application/x-www-form-urlencoded");
  if (kind_ == Kind::kServiceAccount) {
    ServiceAccountClaims claims;
    claims.client_email = client_email_;
    claims.private_key_id = private_key_id_;
    claims.token_uri = token_uri_;
    claims.issued_at = static_cast<int64_t>(std::time(nullptr));
    auto jwt = SignServiceAccountJwt(claims, private_key_);
    if (!jwt.ok()) {
      return Status(jwt.status().code(),
                    Describe() + ": " + jwt.status().message());
    }
    request.body = JwtBearerGrantBody(*jwt);
  } else {
    request.body =
        RefreshTokenGrantBody(client_id_, client_secret_, refresh_token_);
  }
  auto started = std::chrono::steady_clock::now();
  WS_ASSIGN_OR_RETURN(HttpResponse response,
                      transport.Fetch(request, kMaxTokenBody));
  if (response.status < 200 || response.status >= 300) {
    // OAuth2 errors (RFC 6749 5.2) name the problem without secrets.
    nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
    std::string detail;
    if (json.is_object()) {
      std::string error = StringField(json, "error");
      std::string description = StringField(json, "error_description");
      if (!error.empty()) detail += " " + QuoteUntrusted(error);
      if (!description.empty()) detail += ": " + QuoteUntrusted(description);
    }
    Status status(response.status >= 500 ? StatusCode::kIo
                                         : StatusCode::kPermissionDenied,
                  "getting a GCS access token for " + Describe() + " at " +
                      QuoteUntrusted(token_uri_) + " failed: HTTP " +
                      std::to_string(response.status) + detail);
    status.set_http_status(static_cast<int>(response.status));
    return status;
  }
  auto token = ParseTokenResponse(response.body);
  if (!token.ok()) {
    return FormatError("getting a GCS access token for " + Describe() + ": " +
                       token.status().message());
  }
  token_ = token->token;
  // Renew five minutes early, or halfway through a short-lived token.
  std::chrono::seconds life(token->expires_in_s);
  std::chrono::seconds margin =
      life > std::chrono::seconds(600) ? std::chrono::seconds(300) : life / 2;
  renew_at_ = started + life - margin;
  return Status::Ok();
}

std::string GcsCredentials::Describe() const {
  switch (kind_) {
    case Kind::kAnonymous:
      return "no credentials";
    case Kind::kToken:
    case Kind::kServiceAccount:
    case Kind::kAuthorizedUser:
      return source_;
  }
  return source_;
}

}  // namespace weightstream::cloud
