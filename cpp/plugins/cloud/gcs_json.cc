#include "cpp/plugins/cloud/gcs_json.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "cpp/plugins/cloud/decimal.h"

namespace weightstream::cloud {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxName = 1024;
constexpr size_t kMaxItems = 100000;
constexpr int kMaxDepth = 64;

// nlohmann/json recurses per nesting level in places; a hostile "[[[[..."
// must fail before it reaches the parser.
bool NestingWithin(std::string_view body, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Json Parse(std::string_view body) {
  if (!NestingWithin(body, kMaxDepth)) return Json(Json::value_t::discarded);
  return Json::parse(body, nullptr, /*allow_exceptions=*/false);
}

// GCS encodes int64/uint64 fields as decimal strings; emulators sometimes
// send numbers. Accepts both, nothing else.
std::optional<uint64_t> Decimal(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) return std::nullopt;
    return static_cast<uint64_t>(v);
  }
  if (!value.is_string()) return std::nullopt;
  return ParseDecimalU64(value.get_ref<const std::string&>());
}

StatusOr<GcsObject> ObjectFrom(const Json& json) {
  if (!json.is_object())
    return FormatError("object resource is not a JSON object");
  GcsObject out;
  auto name = json.find("name");
  if (name != json.end()) {
    if (!name->is_string()) return FormatError("object name is not a string");
    out.name = name->get<std::string>();
    if (out.name.size() > kMaxName) {
      return FormatError("object name longer than 1024 bytes: " +
                         QuoteUntrusted(out.name));
    }
  }
  auto size = json.find("size");
  std::optional<uint64_t> parsed;
  if (size != json.end()) parsed = Decimal(*size);
  if (!parsed) {
    return FormatError(
        "object " + QuoteUntrusted(out.name) + " has no decimal size" +
        (size == json.end() ? std::string()
                            : ": " + QuoteUntrusted(size->dump())));
  }
  out.size = *parsed;
  auto generation = json.find("generation");
  if (generation != json.end() && !generation->is_null()) {
    auto g = Decimal(*generation);
    if (!g) {
      return FormatError("object " + QuoteUntrusted(out.name) +
                         " has a generation that is not decimal: " +
                         QuoteUntrusted(generation->dump()));
    }
    out.generation = std::to_string(*g);
  }
  return out;
}

}  // namespace

StatusOr<GcsObject> ParseGcsObject(std::string_view body) {
  Json json = Parse(body);
  if (json.is_discarded()) return FormatError("object resource is not JSON");
  return ObjectFrom(json);
}

StatusOr<GcsListPage> ParseGcsListPage(std::string_view body) {
  Json json = Parse(body);
  if (json.is_discarded() || !json.is_object()) {
    return FormatError("listing page is not a JSON object");
  }
  GcsListPage page;
  auto items = json.find("items");
  if (items != json.end() && !items->is_null()) {
    if (!items->is_array())
      return FormatError("listing 'items' is not an array");
    if (items->size() > kMaxItems) {
      return FormatError("listing page holds more than 100000 items");
    }
    for (const Json& item : *items) {
      WS_ASSIGN_OR_RETURN(GcsObject object, ObjectFrom(item));
      if (object.name.empty())
        return FormatError("listed object without a name");
      page.items.push_back(std::move(object));
    }
  }
  auto token = json.find("nextPageToken");
  if (token != json.end() && !token->is_null()) {
    if (!token->is_string())
      return FormatError("nextPageToken is not a string");
    page.next_page_token = token->get<std::string>();
    if (page.next_page_token.size() > 4096) {
      return FormatError("nextPageToken longer than 4096 bytes");
    }
  }
  return page;
}

GcsErrorBody ParseGcsError(std::string_view body) {
  GcsErrorBody out;
  Json json = Parse(body);
  if (json.is_discarded() || !json.is_object()) return out;
  auto error = json.find("error");
  if (error == json.end() || !error->is_object()) return out;
  auto message = error->find("message");
  if (message != error->end() && message->is_string()) {
    out.message = message->get<std::string>();
  }
  auto errors = error->find("errors");
  if (errors != error->end() && errors->is_array() && !errors->empty() &&
      (*errors)[0].is_object()) {
    auto reason = (*errors)[0].find("reason");
    if (reason != (*errors)[0].end() && reason->is_string()) {
      out.reason = reason->get<std::string>();
    }
  }
  if (out.reason.empty()) {
    auto status = error->find("status");
    if (status != error->end() && status->is_string()) {
      out.reason = status->get<std::string>();
    }
  }
  return out;
}

}  // namespace weightstream::cloud
