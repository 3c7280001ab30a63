#include "cpp/plugins/cloud/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "cpp/plugins/cloud/content_range.h"
#include "cpp/plugins/cloud/errors.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxHeaderBytes = 256 << 10;
constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxIdleHandles = 256;

void GlobalInit() {
  // A magic static rather than std::call_once, whose thread-local helpers
  // would be exported from the plugin.
  static const bool initialized = [] {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  }();
  (void)initialized;
}

// Idle easy handles. A handle keeps its connection cache across
// curl_easy_reset, so reusing handles reuses connections. Never destroyed:
// requests may still be running on other threads at exit.
class HandlePool {
 public:
  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    GlobalInit();
    return curl_easy_init();
  }
  void Release(CURL* h) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kMaxIdleHandles) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

 private:
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

HandlePool& Pool() {
  static auto* pool = new HandlePool;
  return *pool;
}

class PooledHandle {
 public:
  PooledHandle() : h_(Pool().Acquire()) {}
  ~PooledHandle() {
    if (h_ != nullptr) Pool().Release(h_);
  }
  PooledHandle(const PooledHandle&) = delete;
  PooledHandle& operator=(const PooledHandle&) = delete;
  CURL* get() const { return h_; }

 private:
  CURL* h_;
};

class HeaderList {
 public:
  ~HeaderList() { curl_slist_free_all(list_); }
  bool Add(const std::string& line) {
    curl_slist* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Why a transfer was stopped from inside a callback.
enum class Abort {
  kNone,
  kHeadersTooLarge,
  kBodyTooLarge,
  kOverflow,      // More body than the range asked for.
  kBadRange,      // 206 without the Content-Range asked for.
  kIgnoredRange,  // 200 with the whole object for a partial range.
  kChanged,       // Different size or ETag than at open.
};

struct Transfer {
  CURL* curl = nullptr;
  HttpResponse response;
  size_t header_bytes = 0;
  size_t max_body = 0;  // Fetch.
  bool error_body_truncated = false;
  // Range mode.
  bool range_mode = false;
  char* dst = nullptr;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t object_size = 0;
  std::string_view version;
  uint64_t written = 0;
  bool checked = false;
  Abort abort = Abort::kNone;
  std::string abort_detail;
};

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string_view line = TrimWs(std::string_view(data, len));
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a redirect or 100 Continue) starts over.
    t->response.headers.clear();
    t->header_bytes = 0;
  }
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->abort = Abort::kHeadersTooLarge;
    return 0;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;
  std::string name(TrimWs(line.substr(0, colon)));
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  t->response.headers.emplace_back(std::move(name),
                                   std::string(TrimWs(line.substr(colon + 1))));
  return len;
}

// Validates a 2xx answer to a range GET before its first body byte is
// stored.
Abort CheckRangeAnswer(Transfer& t, long status) {
  if (!t.version.empty()) {
    auto etag = t.response.Header("etag");
    if (etag && *etag != t.version) {
      t.abort_detail = "its ETag changed since it was opened";
      return Abort::kChanged;
    }
  }
  if (status == 206) {
    auto value = t.response.Header("content-range");
    std::optional<ContentRange> range;
    if (value) range = ParseContentRange(*value);
    if (!range) {
      t.abort_detail =
          value ? "a malformed Content-Range " + QuoteUntrusted(*value)
                : "no Content-Range";
      return Abort::kBadRange;
    }
    switch (CheckContentRange(*range, t.offset, t.length, t.object_size)) {
      case RangeCheck::kOk:
        return Abort::kNone;
      case RangeCheck::kChanged:
        t.abort_detail = "its size is now " + std::to_string(*range->complete) +
                         " bytes, not " + std::to_string(t.object_size);
        return Abort::kChanged;
      case RangeCheck::kMismatch:
        t.abort_detail = "Content-Range " + QuoteUntrusted(*value);
        return Abort::kBadRange;
    }
  }
  if (status == 200 && t.offset == 0 && t.length == t.object_size) {
    return Abort::kNone;  // The whole object, as asked; length checked after.
  }
  if (status == 200) return Abort::kIgnoredRange;
  t.abort_detail = "HTTP " + std::to_string(status);
  return Abort::kBadRange;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  const bool success = status >= 200 && status < 300;
  if (!t->range_mode || !success) {
    const size_t cap = success ? t->max_body : kMaxErrorBody;
    std::string& body = t->response.body;
    if (body.size() + len > cap) {
      if (success) {
        t->abort = Abort::kBodyTooLarge;
        return 0;
      }
      // An error document: its beginning explains it; stop reading.
      body.append(data, cap - body.size());
      t->error_body_truncated = true;
      return 0;
    }
    body.append(data, len);
    return len;
  }
  if (!t->checked) {
    t->abort = CheckRangeAnswer(*t, status);
    if (t->abort != Abort::kNone) return 0;
    t->checked = true;
  }
  if (len > t->length - t->written) {
    t->abort = Abort::kOverflow;
    return 0;
  }
  std::memcpy(t->dst + t->written, data, len);
  t->written += len;
  return len;
}

bool IsRetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool IsTlsVerifyCode(CURLcode code) {
  return code == CURLE_PEER_FAILED_VERIFICATION ||
         code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM ||
         code == CURLE_SSL_ISSUER_ERROR;
}

class Sender {
 public:
  Sender(const TransportConfig& config, const HttpRequest& request)
      : config_(config), request_(request) {
    where_ = request.method + " " + RedactUrl(request.url);
  }

  void set_range(uint64_t offset, uint64_t length) {
    where_ += " (" + RangeText(offset, length) + ")";
  }

  // One attempt. Fills `t`; returns the curl result.
  CURLcode Send(CURL* curl, Transfer& t, char* errbuf) {
    curl_easy_reset(curl);
    errbuf[0] = '\0';
    t.curl = curl;
    HeaderList headers;
    for (const auto& [name, value] : request_.headers) {
      if (!headers.Add(name + ": " + value)) return CURLE_OUT_OF_MEMORY;
    }
    // libcurl would otherwise add "Expect: 100-continue" to POSTs.
    if (!headers.Add("Expect:")) return CURLE_OUT_OF_MEMORY;
    curl_easy_setopt(curl, CURLOPT_URL, request_.url.c_str());
    // Object keys may contain "/../" or "/./": send the path as signed, not
    // normalized.
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    const bool https = request_.url.rfind("https://", 0) == 0;
    // Redirects (e.g. a CDN) may not downgrade https to http. libcurl does
    // not forward our Authorization header to another host.
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR,
                     https ? "https" : "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(config_.connect_timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(config_.request_timeout_s * 1000));
    // A connection that stops delivering is retried well before the
    // request timeout: a stalled peer is as good as a reset one.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(
        curl, CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(std::min(30.0, config_.request_timeout_s) + 0.5));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (config_.ca_bundle) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_bundle->c_str());
    }
    if (request_.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request_.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request_.body.size()));
      curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, request_.body.c_str());
    } else if (request_.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request_.method.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.response.status);
    // Don't leave pointers to this frame in a pooled handle.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    return rc;
  }

  std::string CurlFailure(CURLcode rc, const char* errbuf, int attempts) const {
    std::string m = where_ + ": " + curl_easy_strerror(rc);
    if (errbuf[0] != '\0') m += " (" + QuoteUntrusted(errbuf) + ")";
    if (IsTlsVerifyCode(rc)) {
      m += "; the server's TLS certificate could not be verified: pass "
           "ca_bundle (a PEM file) if it is signed by a private CA";
    }
    if (attempts > 1)
      m += "; gave up after " + std::to_string(attempts) + " attempts";
    return m;
  }

  const std::string& where() const { return where_; }

  // Sleeps before retry number `retry`; `answer` is the response that is
  // being retried, if there was one (its Retry-After is honoured).
  void Wait(int retry, const HttpResponse* answer = nullptr) const {
    std::string retry_after;
    if (answer != nullptr) {
      retry_after = answer->Header("retry-after").value_or("");
    }
    std::this_thread::sleep_for(
        RetryWait(config_.backoff, retry, RandomUnit(), retry_after));
  }

 private:
  const TransportConfig& config_;
  const HttpRequest& request_;
  std::string where_;
};

}  // namespace

TransportConfig TransportConfigFrom(const Options& options) {
  TransportConfig c;
  c.ca_bundle = options.ca_bundle;
  c.max_retries = options.max_retries;
  c.connect_timeout_s = options.connect_timeout_s;
  c.request_timeout_s = options.request_timeout_s;
  return c;
}

CurlTransport::CurlTransport(TransportConfig config)
    : config_(std::move(config)) {
  GlobalInit();
}

StatusOr<HttpResponse> CurlTransport::Fetch(const HttpRequest& request,
                                            size_t max_body) {
  Sender sender(config_, request);
  PooledHandle handle;
  if (handle.get() == nullptr) return InternalError("curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE];
  for (int attempt = 0;; ++attempt) {
    Transfer t;
    t.max_body = max_body;
    const CURLcode rc = sender.Send(handle.get(), t, errbuf);
    t.response.attempts = attempt + 1;
    if (t.abort == Abort::kBodyTooLarge) {
      return ResourceExhaustedError(sender.where() + ": the answer is over " +
                                    std::to_string(max_body) + " bytes");
    }
    if (t.abort == Abort::kHeadersTooLarge) {
      return IoError(sender.where() + ": response headers over " +
                     std::to_string(kMaxHeaderBytes) + " bytes");
    }
    const bool answered =
        rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.error_body_truncated);
    const bool retry = answered ? IsRetryableHttpStatus(t.response.status)
                                : IsRetryableCurlCode(rc);
    if (retry && attempt < config_.max_retries) {
      sender.Wait(attempt, answered ? &t.response : nullptr);
      continue;
    }
    if (!answered) return IoError(sender.CurlFailure(rc, errbuf, attempt + 1));
    return std::move(t.response);
  }
}

StatusOr<HttpResponse> CurlTransport::ReadRange(
    const HttpRequest& request, uint64_t offset, uint64_t length,
    uint64_t object_size, std::string_view version, char* dst) {
  Sender sender(config_, request);
  sender.set_range(offset, length);
  PooledHandle handle;
  if (handle.get() == nullptr) return InternalError("curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE];
  std::string last_problem;
  for (int attempt = 0;; ++attempt) {
    Transfer t;
    t.range_mode = true;
    t.dst = dst;
    t.offset = offset;
    t.length = length;
    t.object_size = object_size;
    t.version = version;
    const CURLcode rc = sender.Send(handle.get(), t, errbuf);
    t.response.attempts = attempt + 1;
    switch (t.abort) {
      case Abort::kNone:
      case Abort::kBodyTooLarge:
        break;
      case Abort::kHeadersTooLarge:
        return IoError(sender.where() + ": response headers over " +
                       std::to_string(kMaxHeaderBytes) + " bytes");
      case Abort::kOverflow:
        return IoError(sender.where() + ": the server sent more than the " +
                       std::to_string(length) + " bytes asked for");
      case Abort::kBadRange:
        return IoError(sender.where() + ": the server answered with " +
                       t.abort_detail + ", not the range asked for");
      case Abort::kIgnoredRange:
        return IoError(sender.where() +
                       ": the server ignored the Range header (HTTP 200 with "
                       "the whole object); range requests are required");
      case Abort::kChanged:
        return ChangedError(sender.where() +
                            ": the object changed while it was being read (" +
                            t.abort_detail + ")");
    }
    const bool answered =
        rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.error_body_truncated);
    bool retry = false;
    if (!answered) {
      retry = IsRetryableCurlCode(rc);
      last_problem = sender.CurlFailure(rc, errbuf, attempt + 1);
    } else if (t.response.status >= 200 && t.response.status < 300) {
      if (t.written == length) return std::move(t.response);
      retry = true;
      last_problem = sender.where() + ": short body, " +
                     std::to_string(t.written) + " of " +
                     std::to_string(length) + " bytes; gave up after " +
                     std::to_string(attempt + 1) + " attempts";
    } else {
      retry = IsRetryableHttpStatus(t.response.status);
      if (!retry || attempt >= config_.max_retries) {
        return std::move(t.response);
      }
    }
    if (!retry || attempt >= config_.max_retries) {
      return IoError(last_problem);
    }
    sender.Wait(attempt, answered ? &t.response : nullptr);
  }
}

}  // namespace weightstream::cloud
