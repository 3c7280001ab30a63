// A Source over a local file, read with positional reads (pread).
#ifndef WEIGHTSTREAM_LOCAL_FILE_H_
#define WEIGHTSTREAM_LOCAL_FILE_H_

#include <memory>
#include <string>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// Opens `path` for reading. Errors: kNotFound (no such file),
// kPermissionDenied, kInvalidArgument (a directory or not a regular file), kIo
// otherwise.
StatusOr<std::shared_ptr<Source>> OpenLocalFile(const std::string& path);

}  // namespace weightstream

#endif  // WEIGHTSTREAM_LOCAL_FILE_H_
