#pragma once

// snapshot publish: writes a snapshot of the index into a directory that any
// static web server can serve.

#include "snapshot/keys.hpp"
#include "snapshot/manifest.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hs::snapshot {

struct PublishOptions {
    std::string index_path;
    std::string dir;
    SecretKey key;
    std::string hydra_url; // the publisher's Hydra, for the manifest
    // The most deltas the manifest names; a new base is written when half
    // of them are after the base.
    int64_t keep_deltas = 96;
    int level = 12; // zstd
    int64_t now = 0;
};

struct PublishResult {
    bool changed = false; // false: nothing new, the manifest was left alone
    bool new_base = false;
    std::vector<SnapshotFile> new_deltas;
    Manifest manifest;
    std::vector<std::string> pruned;
};

// Writes a base (when there is none, the schema changed, or half of
// keep_deltas deltas are after it) and one delta per eval committed since
// the last publish (changes after the last eval, such as re-checks and
// jobset state, in one more), then manifest.json (temp + rename), then
// deletes the files that neither it nor the manifest before it names.
// Files are immutable and named by their content. One publish at a time
// per directory (flock on DIR/.lock). Throws hs::Error.
PublishResult publish(const PublishOptions& options);

// "base-<32 hex>.sqlite.zst" / "delta-...": the name of a file by its sha256.
std::string content_name(const std::string& kind, const std::string& sha256);

} // namespace hs::snapshot
