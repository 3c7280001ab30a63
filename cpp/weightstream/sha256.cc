// OpenSSL 3 marks the low-level SHA256_* functions deprecated in favour of EVP.
// EVP would statically link the whole provider machinery (megabytes) into the
// extension for one hash; the low-level functions are the same vetted,
// CPU-accelerated (SHA-NI, AVX2) code.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "cpp/weightstream/sha256.h"

#include <openssl/sha.h>

namespace weightstream {

struct Sha256::State {
  SHA256_CTX ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  SHA256_Init(&state_->ctx);
}

Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t length) {
  SHA256_Update(&state_->ctx, data, length);
}

Sha256::Digest Sha256::Finish() {
  Digest d;
  SHA256_Final(d.data(), &state_->ctx);
  return d;
}

std::string Sha256::Hex(const Digest& digest) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace weightstream
