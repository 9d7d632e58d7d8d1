#include "snapshot/pull.hpp"

#include "core/error.hpp"
#include "core/file.hpp"
#include "snapshot/files.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace hs::snapshot {

namespace fs = std::filesystem;

namespace {

// The pull's files beside the index, removed when the pull ends (and at the
// start of the next one, after a kill).
class PullFiles {
public:
    explicit PullFiles(const std::string& index_path) : m_prefix(index_path + ".pull-") { clean(); }
    ~PullFiles() { clean(); }
    PullFiles(const PullFiles&) = delete;
    PullFiles& operator=(const PullFiles&) = delete;
    std::string path(size_t n, const char* ext) const { return m_prefix + std::to_string(n) + ext; }

private:
    void clean() const {
        const fs::path prefix(m_prefix);
        const auto dir = prefix.parent_path().empty() ? fs::path(".") : prefix.parent_path();
        const std::string start = prefix.filename().string();
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            if (it->path().filename().string().starts_with(start)) {
                fs::remove(it->path(), ec);
            }
        }
    }
    std::string m_prefix;
};

void check(bool ok, const std::string& what, const std::string& why) {
    if (!ok) {
        throw Error(what + ": " + why + "; nothing was changed");
    }
}

} // namespace

Expected<std::string> file_url_path(const std::string& url) {
    if (!url.starts_with("file://")) {
        return Unexpected{"not a file:// URL: " + quote(url)};
    }
    std::string path = url.substr(7);
    if (path.starts_with("localhost/")) {
        path = path.substr(9);
    }
    if (!path.starts_with("/")) {
        return Unexpected{"a file:// URL needs an absolute path (file:///dir), got " + quote(url)};
    }
    while (path.size() > 1 && path.ends_with('/')) {
        path.pop_back();
    }
    return path;
}

ManifestFetch FileFetcher::fetch_manifest(const std::string& /*etag*/,
                                          const std::string& /*last_modified*/) {
    const std::string path = m_dir + "/" + k_manifest_name;
    ++m_requests;
    auto text = read_whole_file(path);
    if (!text) {
        throw Error(path + ": " + text.error());
    }
    m_bytes += text->size();
    ManifestFetch out;
    out.body = std::move(*text);
    return out;
}

void FileFetcher::fetch_file(const std::string& name, const std::string& dest, uint64_t max_bytes) {
    const std::string path = m_dir + "/" + name;
    ++m_requests;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) {
        throw Error(path + ": " + ec.message());
    }
    if (size > max_bytes) {
        throw Error(path + ": larger than the manifest says (" + std::to_string(size) + " bytes)");
    }
    fs::copy_file(path, dest, fs::copy_options::overwrite_existing, ec);
    if (ec) {
        throw Error(path + ": cannot copy to " + dest + ": " + ec.message());
    }
    m_bytes += size;
}

PullPlan plan_pull(const Manifest& manifest, std::optional<int64_t> have) {
    PullPlan plan;
    if (have && *have == manifest.seq) {
        plan.nothing = true;
        return plan;
    }
    if (have && *have < manifest.seq) {
        for (size_t i = 0; i < manifest.deltas.size(); ++i) {
            if (manifest.deltas[i].from == *have) {
                for (size_t j = i; j < manifest.deltas.size(); ++j) {
                    plan.deltas.push_back(j);
                }
                return plan;
            }
        }
    }
    plan.base = true;
    for (size_t i = 0; i < manifest.deltas.size(); ++i) {
        if (manifest.deltas[i].from >= manifest.base.to) {
            plan.deltas.push_back(i);
        }
    }
    return plan;
}

namespace {

// The manifest's signature (unless not verified) and schema; the signer.
std::string check_manifest(const SignedManifest& parsed, const PullOptions& options,
                           const std::string& where) {
    std::string signed_by;
    if (options.verify) {
        auto signer = verify_manifest(parsed, options.trusted);
        if (!signer) {
            throw Error(where + ": " + signer.error() + "; nothing was changed");
        }
        signed_by = *signer;
    }
    const int64_t schema = parsed.manifest.schema;
    if (schema != index::k_schema_version) {
        throw Error(where + ": the snapshot has index schema " + std::to_string(schema) +
                    ", this hydra-status uses " + std::to_string(index::k_schema_version) +
                    (schema > index::k_schema_version ? "; upgrade hydra-status"
                                                      : "; the publisher must upgrade"));
    }
    return signed_by;
}

// Downloads the n-th file of a pull and checks it against the manifest:
// size and sha256 as sent, size decompressed, and the changes it holds.
// Returns the path of the decompressed file.
std::string download_checked(Fetcher& fetcher, const PullFiles& temp, size_t n,
                             const SnapshotFile& file, bool is_base, const std::string& url) {
    const std::string what = url + "/" + file.file;
    const std::string packed = temp.path(n, ".zst");
    std::string raw = temp.path(n, ".sqlite");
    fetcher.fetch_file(file.file, packed, file.size);
    const auto digest = digest_file(packed);
    check(digest.size == file.size, what,
          std::to_string(digest.size) + " bytes, the manifest says " + std::to_string(file.size) +
              " (truncated?)");
    check(digest.sha256 == file.sha256, what,
          "sha256 " + digest.sha256 + " does not match the manifest's " + file.sha256);
    std::remove(raw.c_str());
    const uint64_t raw_size =
        decompress_file(packed, raw, file.raw_size, what + " (nothing was changed)");
    check(raw_size == file.raw_size, what,
          "decompressed to " + std::to_string(raw_size) + " bytes, the manifest says " +
              std::to_string(file.raw_size));
    std::remove(packed.c_str());
    const auto info = index::read_replica_info(raw);
    check(info.base == is_base && info.from == file.from && info.to == file.to, what,
          "holds other changes than the manifest says");
    return raw;
}

// Downloads and checks the plan's files (the base first, if any) and merges
// them into one file of changes; returns its path.
std::string download_merged(Fetcher& fetcher, const PullFiles& temp, const Manifest& m,
                            const PullPlan& plan, const std::string& url) {
    std::vector<const SnapshotFile*> files;
    if (plan.base) {
        files.push_back(&m.base);
    }
    for (const size_t i : plan.deltas) {
        files.push_back(&m.deltas[i]);
    }
    std::string merged;
    for (size_t n = 0; n < files.size(); ++n) {
        const std::string raw =
            download_checked(fetcher, temp, n, *files[n], plan.base && n == 0, url);
        if (merged.empty()) {
            merged = raw;
        } else {
            index::merge_replica(merged, raw);
            std::remove(raw.c_str());
        }
    }
    return merged;
}

} // namespace

PullResult pull(index::IndexWriter& index, Fetcher& fetcher, const PullOptions& options) {
    const auto source = index.reader().replica_source();
    const bool same_source = source && source->url == options.url;
    const auto fetched =
        fetcher.fetch_manifest(same_source ? source->etag : std::string(),
                               same_source ? source->last_modified : std::string());
    const std::string where = options.url + "/" + k_manifest_name;
    PullResult result;
    index::ReplicaSource now_source;
    if (same_source) {
        now_source = *source;
    }
    now_source.url = options.url;
    now_source.pulled_at = options.now;
    if (fetched.not_modified) {
        check(same_source, where, "answered 304 Not Modified to a first request");
        index.set_replica_source(now_source);
        result.seq = source->seq;
        result.created = source->created;
        result.signed_by = source->signed_by;
        return result;
    }
    auto parsed = parse_manifest(fetched.body);
    check(parsed.has_value(), where, parsed.error());
    const Manifest& m = parsed->manifest;
    result.signed_by = check_manifest(*parsed, options, where);
    now_source.seq = m.seq;
    now_source.created = m.created;
    now_source.signed_by = result.signed_by;
    now_source.etag = fetched.etag;
    now_source.last_modified = fetched.last_modified;
    now_source.manifest_sha256 = sha256_hex(fetched.body);
    result.seq = m.seq;
    result.created = m.created;

    const auto plan =
        plan_pull(m, same_source ? std::optional<int64_t>(source->seq) : std::nullopt);
    if (plan.nothing) {
        index.set_replica_source(now_source);
        return result;
    }
    for (const size_t i : plan.deltas) {
        result.evals.insert(result.evals.end(), m.deltas[i].evals.begin(), m.deltas[i].evals.end());
    }
    const PullFiles temp(index.path());
    const auto merged = download_merged(fetcher, temp, m, plan, options.url);
    check(index::read_replica_info(merged).to == m.seq, where, "its files do not reach its 'seq'");
    if (options.hook) {
        options.hook("downloaded");
    }
    index.apply_replica(merged, now_source, [&] {
        if (options.hook) {
            options.hook("applying");
        }
    });
    result.changed = true;
    result.base = plan.base;
    result.deltas = plan.deltas.size();
    return result;
}

} // namespace hs::snapshot
