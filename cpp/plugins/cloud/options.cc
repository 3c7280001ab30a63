#include "cpp/plugins/cloud/options.h"

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace weightstream::cloud {
namespace {

using Json = nlohmann::json;
using Setter = std::function<Status(const std::string&, const Json&, Options&)>;

Status TypeError(const std::string& key, const char* want) {
  return InvalidArgumentError("options: " + QuoteUntrusted(key) + " must be " +
                              want);
}

Setter String(std::optional<std::string> Options::*field) {
  return [field](const std::string& key, const Json& v, Options& o) {
    if (!v.is_string()) return TypeError(key, "a string");
    o.*field = v.get<std::string>();
    return Status::Ok();
  };
}

Setter Bool(bool Options::*field) {
  return [field](const std::string& key, const Json& v, Options& o) {
    if (!v.is_boolean()) return TypeError(key, "true or false");
    o.*field = v.get<bool>();
    return Status::Ok();
  };
}

Setter Int(int Options::*field, int lo, int hi) {
  return [=](const std::string& key, const Json& v, Options& o) {
    if (!v.is_number_integer()) return TypeError(key, "an integer");
    const long long n = v.get<long long>();
    if (n < lo || n > hi) {
      return TypeError(
          key, ("between " + std::to_string(lo) + " and " + std::to_string(hi))
                   .c_str());
    }
    o.*field = static_cast<int>(n);
    return Status::Ok();
  };
}

Setter Seconds(double Options::*field) {
  return [field](const std::string& key, const Json& v, Options& o) {
    if (!v.is_number()) return TypeError(key, "a number of seconds");
    const double s = v.get<double>();
    // More than a day per request is a mistake, not a setting.
    if (!std::isfinite(s) || s <= 0 || s > 86400) {
      return TypeError(key, "a number of seconds in (0, 86400]");
    }
    o.*field = s;
    return Status::Ok();
  };
}

const std::map<std::string, Setter>& Setters() {
  static const auto* setters = new std::map<std::string, Setter>{
      {"endpoint_url", String(&Options::endpoint_url)},
      {"region", String(&Options::region)},
      {"profile", String(&Options::profile)},
      {"ca_bundle", String(&Options::ca_bundle)},
      {"anonymous", Bool(&Options::anonymous)},
      {"access_key_id", String(&Options::access_key_id)},
      {"secret_access_key", String(&Options::secret_access_key)},
      {"session_token", String(&Options::session_token)},
      {"credentials_file", String(&Options::credentials_file)},
      {"token", String(&Options::token)},
      {"connection_string", String(&Options::connection_string)},
      {"account_name", String(&Options::account_name)},
      {"account_key", String(&Options::account_key)},
      {"sas_token", String(&Options::sas_token)},
      {"max_retries", Int(&Options::max_retries, 0, 100)},
      {"connect_timeout_s", Seconds(&Options::connect_timeout_s)},
      {"request_timeout_s", Seconds(&Options::request_timeout_s)},
  };
  return *setters;
}

}  // namespace

StatusOr<Options> ParseOptions(std::string_view json) {
  Json doc = Json::parse(json.begin(), json.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return InvalidArgumentError("options: not valid JSON");
  }
  if (!doc.is_object()) {
    return InvalidArgumentError("options: must be a JSON object");
  }
  Options options;
  for (const auto& [key, value] : doc.items()) {
    auto it = Setters().find(key);
    if (it == Setters().end()) {
      return InvalidArgumentError("options: unknown key " +
                                  QuoteUntrusted(key));
    }
    if (value.is_null()) continue;
    WS_RETURN_IF_ERROR(it->second(key, value, options));
  }
  return options;
}

}  // namespace weightstream::cloud
