// SHA-256, HMAC-SHA256 (OpenSSL libcrypto) and lower-case hex: the
// primitives both request signers use (SigV4, Azure Shared Key).
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_DIGEST_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_DIGEST_H_

#include <string>
#include <string_view>

namespace weightstream::cloud {

// Lower-case hex, two characters a byte.
std::string HexEncode(std::string_view bytes);

// The SHA-256 of `data` in lower-case hex.
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256 of `data` under `key`; the raw 32-byte digest.
std::string HmacSha256(std::string_view key, std::string_view data);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_DIGEST_H_
