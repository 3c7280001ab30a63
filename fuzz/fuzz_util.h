// Shared helpers for the fuzz targets in this directory.
//
// A fuzz target must turn every contract violation into a crash, so that
// libFuzzer (and the replay test under Bazel) reports it: WS_FUZZ_CHECK prints
// what was expected and aborts.
#ifndef WEIGHTSTREAM_FUZZ_FUZZ_UTIL_H_
#define WEIGHTSTREAM_FUZZ_FUZZ_UTIL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WS_FUZZ_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WS_FUZZ_HAVE_ASAN 1
#endif
#ifdef WS_FUZZ_HAVE_ASAN
#if __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#else  // gcc ships the runtime but not this header.
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, size_t),
    void (*free_hook)(const volatile void*));
extern "C" size_t __sanitizer_get_allocated_size(const volatile void* p);
#endif
#endif

namespace weightstream::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* cond,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz contract violated: %s\n  %s\n", file, line,
               cond, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace weightstream::fuzz

#define WS_FUZZ_CHECK(cond, detail)                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      ::weightstream::fuzz::Fail(__FILE__, __LINE__, #cond, (detail)); \
    }                                                                  \
  } while (0)

namespace weightstream::fuzz {

// Error messages quote bytes from hostile files (QuoteUntrusted, status.h):
// they must stay printable (no raw control bytes) and bounded.
inline constexpr size_t kMaxMessageBytes = 4096;

// Whether CheckError holds messages to that: `default_on` unless the
// environment says otherwise (WS_FUZZ_STRICT_MESSAGES=1 or 0). A target whose
// parser has a known, reported violation defaults to off until the fix lands,
// so that CI fuzzing does not fail on it at random.
inline bool StrictMessages(bool default_on) {
  const char* env = std::getenv("WS_FUZZ_STRICT_MESSAGES");
  if (env == nullptr || env[0] == '\0') return default_on;
  return env[0] == '1';
}

inline void CheckMessage(const std::string& message, const char* where) {
  WS_FUZZ_CHECK(message.size() <= kMaxMessageBytes,
                std::string(where) + ": a " + std::to_string(message.size()) +
                    "-byte error message: " + message.substr(0, 300) + "...");
  for (size_t i = 0; i < message.size(); ++i) {
    const unsigned char c = message[i];
    WS_FUZZ_CHECK(c >= 0x20 && c != 0x7f,
                  std::string(where) + ": raw control byte " +
                      std::to_string(c) + " at " + std::to_string(i) +
                      " of the error message: " + QuoteUntrusted(message));
  }
}

// Checks that a rejected input produced a well-formed error: the expected
// code, and a message that names the file (and is printable and bounded if
// `strict_message`).
inline void CheckError(const Status& status, StatusCode want,
                       std::string_view file_name, const char* where,
                       bool strict_message = true) {
  WS_FUZZ_CHECK(!status.ok(), std::string(where) + ": expected an error");
  WS_FUZZ_CHECK(status.code() == want,
                std::string(where) + ": status code " +
                    std::to_string(static_cast<int>(status.code())) +
                    ", want " + std::to_string(static_cast<int>(want)) + ": " +
                    status.message());
  WS_FUZZ_CHECK(
      status.message().find(file_name) != std::string::npos,
      std::string(where) +
          ": error message does not name the file: " + status.message());
  if (strict_message) CheckMessage(status.message(), where);
}

// Defined by each fuzz target: whether its parser accepts `bytes` as a file.
// The replay test holds the valid-* and invalid-* seeds to their names with
// it.
bool ParserAccepts(std::string_view bytes);

inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// An in-memory Source over the fuzzer's input (no copy). A read outside the
// source is a parser bug, not an error to report: it aborts. Reads can be
// made to fail from an offset on, to exercise the kIo paths.
class FuzzSource : public Source {
 public:
  FuzzSource(std::string name, std::string_view bytes)
      : name_(std::move(name)), bytes_(bytes) {}

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t length) override {
    WS_FUZZ_CHECK(RangeWithin(offset, length, bytes_.size()),
                  "ReadAt(" + std::to_string(offset) + ", " +
                      std::to_string(length) + ") on a source of " +
                      std::to_string(bytes_.size()) + " bytes");
    bytes_read_ += length;
    if (length > 0 && offset + length > fail_from_) {
      return IoError(name_ + ": injected read failure at offset " +
                     std::to_string(offset));
    }
    if (length > 0) std::memcpy(dst, bytes_.data() + offset, length);
    return Status::Ok();
  }

  // Every read touching [offset, end) fails with kIo from now on.
  void FailFrom(uint64_t offset) { fail_from_ = offset; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  std::string name_;
  std::string_view bytes_;
  uint64_t fail_from_ = ~uint64_t{0};
  std::atomic<uint64_t> bytes_read_{0};
};

// The peak of heap bytes live at once between Start() and Peak(), counted
// through the sanitizer allocator's hooks (so only under ASan; elsewhere
// Peak() is 0). Parsers promise to allocate O(input size): a hostile count
// must not size an allocation before the bytes behind it are known to exist.
class HeapPeak {
 public:
  static void Start() {
#ifdef WS_FUZZ_HAVE_ASAN
    static const bool installed =
        __sanitizer_install_malloc_and_free_hooks(&OnMalloc, &OnFree) != 0;
    (void)installed;
    live_ = 0;
    peak_ = 0;
    active_ = true;
#endif
  }
  static uint64_t Stop() {
    active_ = false;
    return static_cast<uint64_t>(peak_.load() < 0 ? 0 : peak_.load());
  }

 private:
#ifdef WS_FUZZ_HAVE_ASAN
  static void OnMalloc(const volatile void*, size_t size) {
    if (!active_) return;
    int64_t now = live_ += static_cast<int64_t>(size);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
  }
  static void OnFree(const volatile void* p) {
    if (!active_ || p == nullptr) return;
    live_ -= static_cast<int64_t>(__sanitizer_get_allocated_size(p));
  }
#endif
  static inline std::atomic<bool> active_{false};
  static inline std::atomic<int64_t> live_{0};
  static inline std::atomic<int64_t> peak_{0};
};

// How much heap a parse of `input_bytes` may use at its peak: a generous
// constant factor (containers of small C++ objects built from a few bytes
// each, vector growth) plus room for fixed-size read buffers.
inline uint64_t HeapBudget(uint64_t input_bytes) {
  return 256 * input_bytes + (8u << 20);
}

}  // namespace weightstream::fuzz

#endif  // WEIGHTSTREAM_FUZZ_FUZZ_UTIL_H_
