/* macOS stand-in for the part of <openssl/sha.h> that weightstream uses
   (cpp/weightstream/sha256.cc): SHA-256 from Apple's CommonCrypto, which is
   part of libSystem on every macOS (no library to bundle, hardware-accelerated,
   maintained by Apple). Selected by //third_party/openssl on macOS targets,
   where Debian's libcrypto.a (ELF) cannot be linked. */
#ifndef WEIGHTSTREAM_COMMONCRYPTO_OPENSSL_SHA_H_
#define WEIGHTSTREAM_COMMONCRYPTO_OPENSSL_SHA_H_

#include <CommonCrypto/CommonDigest.h>
#include <stddef.h>

#define SHA256_DIGEST_LENGTH CC_SHA256_DIGEST_LENGTH

typedef CC_SHA256_CTX SHA256_CTX;

static inline int SHA256_Init(SHA256_CTX* c) { return CC_SHA256_Init(c); }

/* CommonCrypto takes a 32-bit length (CC_LONG): feed larger buffers in parts. */
static inline int SHA256_Update(SHA256_CTX* c, const void* data, size_t len) {
  const unsigned char* p = (const unsigned char*)data;
  while (len > 0) {
    CC_LONG n = len > 0x40000000u ? 0x40000000u : (CC_LONG)len;
    CC_SHA256_Update(c, p, n);
    p += n;
    len -= n;
  }
  return 1;
}

static inline int SHA256_Final(unsigned char* md, SHA256_CTX* c) { return CC_SHA256_Final(md, c); }

#endif /* WEIGHTSTREAM_COMMONCRYPTO_OPENSSL_SHA_H_ */
