// SHA-256, computed by OpenSSL's libcrypto (linked statically).
#ifndef WEIGHTSTREAM_SHA256_H_
#define WEIGHTSTREAM_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace weightstream {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t length);
  // Ends the computation; the object must not be updated afterwards.
  Digest Finish();

  // Lower-case hex, as sha256sum and hashlib print it.
  static std::string Hex(const Digest& digest);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_SHA256_H_
