#include "cpp/plugins/cloud/aws_config.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxIniBytes = 1 << 20;

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

std::string HomePath(const EnvLookup& env, const char* rest) {
  auto home = env("HOME");
  return (home ? *home : std::string()) + rest;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

IniFile ParseIni(std::string_view text) {
  IniFile ini;
  std::string section;
  bool in_section = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    const bool indented =
        !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(std::string_view(line).substr(1, line.size() - 2));
      in_section = true;
      ini[section];
      continue;
    }
    if (!in_section || indented) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(std::string_view(line).substr(0, eq));
    for (char& c : key) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    ini[section][key] = Trim(std::string_view(line).substr(eq + 1));
  }
  return ini;
}

StatusOr<std::optional<IniFile>> ReadIniFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<IniFile>();
    return OsError(errno, "cannot read AWS config file " + path);
  }
  std::string text(kMaxIniBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return IoError("cannot read AWS config file " + path);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxIniBytes) {
    return InvalidArgumentError("AWS config file " + path + " is over " +
                                std::to_string(kMaxIniBytes) + " bytes");
  }
  return std::optional<IniFile>(ParseIni(text));
}

StatusOr<S3Settings> ResolveS3Settings(const Options& options,
                                       const EnvLookup& env) {
  S3Settings s;
  s.anonymous_requested = options.anonymous;

  std::string profile = "default";
  bool profile_named = false;
  if (options.profile) {
    profile = *options.profile;
    profile_named = true;
  } else if (auto p = env("AWS_PROFILE")) {
    profile = *p;
    profile_named = true;
  }
  const std::string credentials_path =
      env("AWS_SHARED_CREDENTIALS_FILE")
          .value_or(HomePath(env, "/.aws/credentials"));
  const std::string config_path =
      env("AWS_CONFIG_FILE").value_or(HomePath(env, "/.aws/config"));
  WS_ASSIGN_OR_RETURN(std::optional<IniFile> credentials_file,
                      ReadIniFile(credentials_path));
  WS_ASSIGN_OR_RETURN(std::optional<IniFile> config_file,
                      ReadIniFile(config_path));
  const std::map<std::string, std::string>* cred_section = nullptr;
  const std::map<std::string, std::string>* config_section = nullptr;
  if (credentials_file) {
    auto it = credentials_file->find(profile);
    if (it != credentials_file->end()) cred_section = &it->second;
  }
  if (config_file) {
    auto it = config_file->find(profile == "default" ? profile
                                                     : "profile " + profile);
    if (it != config_file->end()) config_section = &it->second;
  }
  if (profile_named && cred_section == nullptr && config_section == nullptr &&
      !options.anonymous) {
    return InvalidArgumentError("AWS profile " + QuoteUntrusted(profile) +
                                " is not in " + credentials_path + " or " +
                                config_path);
  }

  // Credentials.
  auto lookup = [](const std::map<std::string, std::string>* section,
                   const char* key) -> std::optional<std::string> {
    if (section == nullptr) return std::nullopt;
    auto it = section->find(key);
    if (it == section->end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
  if (options.anonymous) {
    s.credentials_source = "anonymous (requested)";
  } else if (options.access_key_id || options.secret_access_key) {
    if (!options.access_key_id || !options.secret_access_key) {
      return InvalidArgumentError(
          "options: access_key_id and secret_access_key must be given "
          "together");
    }
    s.credentials =
        AwsCredentials{*options.access_key_id, *options.secret_access_key,
                       options.session_token.value_or("")};
    s.credentials_source = "options";
  } else if (auto id = env("AWS_ACCESS_KEY_ID"),
             secret = env("AWS_SECRET_ACCESS_KEY");
             id && secret) {
    s.credentials =
        AwsCredentials{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
    s.credentials_source = "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
  } else {
    for (const auto* section : {cred_section, config_section}) {
      auto id = lookup(section, "aws_access_key_id");
      auto secret = lookup(section, "aws_secret_access_key");
      if (id && secret) {
        s.credentials = AwsCredentials{
            *id, *secret, lookup(section, "aws_session_token").value_or("")};
        s.credentials_source =
            "profile " + QuoteUntrusted(profile) + " in " +
            (section == cred_section ? credentials_path : config_path);
        break;
      }
    }
    if (!s.credentials) {
      s.credentials_source =
          "options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile " +
          QuoteUntrusted(profile) + " in " + credentials_path + " and " +
          config_path;
    }
  }

  // Region.
  if (options.region) {
    s.region = *options.region;
  } else if (auto r = env("AWS_REGION")) {
    s.region = *r;
  } else if (auto r2 = env("AWS_DEFAULT_REGION")) {
    s.region = *r2;
  } else if (auto r3 = lookup(config_section, "region")) {
    s.region = *r3;
  } else {
    s.region = "us-east-1";
  }
  for (char c : s.region) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return InvalidArgumentError("S3 region " + QuoteUntrusted(s.region) +
                                  " is not a region name");
    }
  }

  // Endpoint.
  if (options.endpoint_url) {
    s.endpoint_url = *options.endpoint_url;
  } else if (auto e = env("AWS_ENDPOINT_URL_S3")) {
    s.endpoint_url = *e;
  } else if (auto e2 = env("AWS_ENDPOINT_URL")) {
    s.endpoint_url = *e2;
  }
  return s;
}

}  // namespace weightstream::cloud
