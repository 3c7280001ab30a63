// Whole-file SHA-256 through the read engine, in bounded memory.
#ifndef WEIGHTSTREAM_INTEGRITY_H_
#define WEIGHTSTREAM_INTEGRITY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "cpp/weightstream/read_engine.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// The hex SHA-256 of all of `source`. Reads run in parallel (as a load
// would), hashing proceeds in order, and at most about `memory_limit` bytes
// (at least a few chunks) are held at once, whatever the file size.
StatusOr<std::string> Sha256OfSource(std::shared_ptr<Source> source,
                                     const ReadEngineOptions& options,
                                     uint64_t memory_limit = 256ull << 20);

}  // namespace weightstream

#endif  // WEIGHTSTREAM_INTEGRITY_H_
