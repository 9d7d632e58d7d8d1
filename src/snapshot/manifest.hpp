#pragma once

// manifest.json of a snapshot directory: what it holds, signed.
//
//   {"signed": {"format": 1, "schema": 6, "created": 1733390000, "seq": 42,
//               "hydra": "https://hydra.nixos.org", "jobsets": ["nixpkgs:trunk"],
//               "base": {"file": "base-<sha256>.sqlite.zst", "size": N,
//                        "sha256": "<hex>", "raw_size": N, "from": 0, "to": 40},
//               "deltas": [{"file": "delta-<sha256>.sqlite.zst", ..., "from": 40,
//                           "to": 41, "evals": [1812345]}, ...]},
//    "signatures": ["NAME:BASE64"]}
//
// Each signature is over k_signature_prefix followed by the exact bytes of
// the "signed" value. "from"/"to" are the publisher's change sequences: a
// delta holds the rows the changes in (from, to] wrote; deltas are in order,
// each starting where the one before ends; the base holds everything up to
// its "to"; "seq" is where the newest file ends.

#include "core/expected.hpp"
#include "snapshot/keys.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hs::snapshot {

inline constexpr int k_manifest_format = 1;
inline constexpr std::string_view k_signature_prefix = "hydra-status-snapshot-manifest-1\n";
inline constexpr const char* k_manifest_name = "manifest.json";

struct SnapshotFile {
    std::string file; // a name in the directory: [a-z0-9.-], content-addressed
    uint64_t size = 0;
    std::string sha256;    // of the compressed file, lowercase hex
    uint64_t raw_size = 0; // decompressed
    int64_t from = 0;
    int64_t to = 0;
    std::vector<int64_t> evals; // Hydra eval ids a delta covers (none for a base)
};

struct Manifest {
    int format = k_manifest_format;
    int schema = 0;
    int64_t created = 0;
    int64_t seq = 0;
    std::string hydra;
    std::vector<std::string> jobsets;
    SnapshotFile base;
    std::vector<SnapshotFile> deltas;
};

// The "signed" value's text.
std::string render_signed(const Manifest& manifest);
// The whole manifest.json, signed by key.
std::string render_manifest(const Manifest& manifest, const SecretKey& key);

struct SignedManifest {
    Manifest manifest;
    std::string signed_text; // the exact bytes the signatures are over
    std::vector<std::string> signatures;
};

// Parses manifest.json and checks its shape (format, names, ranges in
// order); why it is not a valid manifest otherwise.
Expected<SignedManifest> parse_manifest(std::string_view text);

// The name of the first trusted key with a valid signature of the manifest,
// or why there is none: "manifest ... is signed by 'a', 'b', which
// trusted-keys does not list" / "... has no valid signature by 'k'".
Expected<std::string> verify_manifest(const SignedManifest& manifest,
                                      const std::vector<PublicKey>& trusted);

// Whether `name` may name a file of a snapshot directory.
bool valid_file_name(std::string_view name);

} // namespace hs::snapshot
