#pragma once

// The files of a snapshot: zstd compression, SHA-256 of a file, and writes
// that are whole or absent (temp file, fsync, rename).

#include <cstdint>
#include <string>
#include <string_view>

namespace hs::snapshot {

// Compresses `in` into `out` (created or truncated) with zstd at `level`.
// Returns the compressed size. Throws hs::Error naming the file.
uint64_t compress_file(const std::string& in, const std::string& out, int level);

// Decompresses the zstd file `in` into `out` (created or truncated),
// refusing more than max_bytes of output and a truncated or corrupt
// input. Returns the decompressed size. Throws hs::Error naming `shown`
// (default: `in`).
uint64_t decompress_file(const std::string& in, const std::string& out, uint64_t max_bytes,
                         const std::string& shown = {});

// Lowercase hex SHA-256 of the file's bytes, and its size.
struct FileDigest {
    std::string sha256;
    uint64_t size = 0;
};
FileDigest digest_file(const std::string& path);
std::string sha256_hex(std::string_view data);

// Writes data to path atomically: path.tmp, fsync, rename, fsync of the
// directory. Throws hs::Error naming the file.
void write_file_atomically(const std::string& path, std::string_view data);

// fsyncs a file or directory (throws hs::Error naming it).
void sync_path(const std::string& path);

} // namespace hs::snapshot
