#pragma once

// sync --from: brings the index up to a published snapshot. The transport is
// a Fetcher: file:// here (FileFetcher), http(s):// in sync/ (the only layer
// with libcurl).

#include "index/index.hpp"
#include "snapshot/keys.hpp"
#include "snapshot/manifest.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hs::snapshot {

struct ManifestFetch {
    bool not_modified = false; // the validators sent still hold
    std::string body;
    std::string etag;
    std::string last_modified;
};

class Fetcher {
public:
    virtual ~Fetcher() = default;
    // The manifest; conditional on the validators of the last pull (empty:
    // none). Throws hs::Error naming the URL.
    virtual ManifestFetch fetch_manifest(const std::string& etag,
                                         const std::string& last_modified) = 0;
    // Copies the file `name` of the snapshot into dest (created or
    // truncated), refusing more than max_bytes. Throws hs::Error.
    virtual void fetch_file(const std::string& name, const std::string& dest,
                            uint64_t max_bytes) = 0;
    virtual uint64_t requests() const = 0;
    virtual uint64_t bytes() const = 0;
};

// A snapshot directory on this machine (file:///path).
class FileFetcher : public Fetcher {
public:
    explicit FileFetcher(std::string dir) : m_dir(std::move(dir)) {}
    ManifestFetch fetch_manifest(const std::string& etag,
                                 const std::string& last_modified) override;
    void fetch_file(const std::string& name, const std::string& dest, uint64_t max_bytes) override;
    uint64_t requests() const override { return m_requests; }
    uint64_t bytes() const override { return m_bytes; }

private:
    std::string m_dir;
    uint64_t m_requests = 0;
    uint64_t m_bytes = 0;
};

// The directory of a file:// URL ("file:///srv/snap" -> "/srv/snap"); why
// it is not one otherwise.
Expected<std::string> file_url_path(const std::string& url);

// What a pull downloads: nothing, or the base and the deltas after it, or
// only deltas. `have` is the sequence the index reached from this source
// (nullopt: it holds no data from it).
struct PullPlan {
    bool nothing = false;
    bool base = false;
    std::vector<size_t> deltas; // indexes into manifest.deltas, in order
};
PullPlan plan_pull(const Manifest& manifest, std::optional<int64_t> have);

// Where a pull stops for a test (HYDRA_STATUS_TEST_KILL_AT): "downloaded"
// (every file verified, nothing applied) and "applying" (inside the
// transaction, before the commit).
using PullHook = std::function<void(const char* point)>;

struct PullOptions {
    std::string url; // as stored and shown: without credentials
    std::vector<PublicKey> trusted;
    bool verify = true; // false only for file:// (--no-verify)
    int64_t now = 0;
    PullHook hook;
};

struct PullResult {
    bool changed = false;
    bool base = false;
    size_t deltas = 0;
    std::vector<int64_t> evals;
    int64_t seq = 0;
    int64_t created = 0;
    std::string signed_by;
};

// Fetches the manifest, verifies its signature, downloads what plan_pull
// says into files beside the index, checks each one's size and sha256 and
// what it says it holds, then applies them in one transaction (local
// failure records stay). Anything wrong throws hs::Error and changes
// nothing.
PullResult pull(index::IndexWriter& index, Fetcher& fetcher, const PullOptions& options);

} // namespace hs::snapshot
