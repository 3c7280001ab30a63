#include "cpp/plugins/cloud/provider.h"

namespace weightstream::cloud {

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

}  // namespace weightstream::cloud
