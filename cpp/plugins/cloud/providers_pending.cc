// Placeholders for the GCS and Azure providers until gcs_provider.cc and
// azure_provider.cc are linked in (BUILD.bazel :providers drops this file
// then): gs:// and az:// URLs fail with a clear message meanwhile.
#include "cpp/plugins/cloud/provider.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {

StatusOr<std::unique_ptr<Provider>> MakeGcsProvider(std::string_view url,
                                                    const Options&,
                                                    HttpTransport&) {
  return InvalidArgumentError(RedactUrl(url) +
                              ": gs:// is not implemented in this build of "
                              "weightstream-cloud");
}

StatusOr<std::unique_ptr<Provider>> MakeAzureProvider(std::string_view url,
                                                      const Options&) {
  return InvalidArgumentError(RedactUrl(url) +
                              ": Azure Blob is not implemented in this build "
                              "of weightstream-cloud");
}

}  // namespace weightstream::cloud
