#include "snapshot/publish.hpp"

#include "core/error.hpp"
#include "core/file.hpp"
#include "index/index.hpp"
#include "snapshot/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>

namespace hs::snapshot {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_tmp_prefix = ".tmp-";

// flock on DIR/.lock for as long as it lives.
class DirLock {
public:
    explicit DirLock(const std::string& dir) {
        const std::string path = dir + "/.lock";
        m_fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!m_fd.valid()) {
            throw Error(path + ": " + errno_text(errno));
        }
        if (::flock(m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
            throw Error(dir + ": another snapshot publish is writing here", ExitCode::locked);
        }
    }

private:
    Fd m_fd;
};

// Removes a file when it goes, unless kept.
class TempFile {
public:
    explicit TempFile(std::string path) : m_path(std::move(path)) { std::remove(m_path.c_str()); }
    ~TempFile() { std::remove(m_path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

// Compresses the raw snapshot file into DIR under its content name.
SnapshotFile store(const std::string& dir, const std::string& kind, const std::string& raw,
                   int level, const index::ReplicaInfo& info) {
    const TempFile packed(dir + "/" + k_tmp_prefix + kind + ".zst");
    SnapshotFile file;
    file.raw_size = fs::file_size(raw);
    compress_file(raw, packed.path(), level);
    const auto digest = digest_file(packed.path());
    file.size = digest.size;
    file.sha256 = digest.sha256;
    file.file = content_name(kind, digest.sha256);
    file.from = info.from;
    file.to = info.to;
    const std::string target = dir + "/" + file.file;
    if (std::rename(packed.path().c_str(), target.c_str()) != 0) {
        throw Error(target + ": cannot rename: " + errno_text(errno));
    }
    return file;
}

std::optional<Manifest> read_old_manifest(const std::string& path) {
    auto text = read_whole_file(path);
    if (!text) {
        if (text.error_code() == ENOENT) {
            return std::nullopt;
        }
        throw Error(path + ": " + text.error());
    }
    auto parsed = parse_manifest(*text);
    if (!parsed) {
        throw Error(path + ": " + parsed.error() +
                    " (not a manifest this hydra-status wrote; publish into an empty directory)");
    }
    return parsed->manifest;
}

std::set<std::string> names_of(const Manifest& manifest) {
    std::set<std::string> names{manifest.base.file};
    for (const auto& delta : manifest.deltas) {
        names.insert(delta.file);
    }
    return names;
}

} // namespace

std::string content_name(const std::string& kind, const std::string& sha256) {
    return kind + "-" + sha256.substr(0, 32) + ".sqlite.zst";
}

namespace {

// The publish directory, made if missing; the index must exist.
void check_places(const PublishOptions& options) {
    struct stat st {};
    if (::stat(options.index_path.c_str(), &st) != 0) {
        throw Error("no index at " + options.index_path + " (run 'hydra-status sync' first)",
                    ExitCode::no_index);
    }
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    if (ec || !fs::is_directory(options.dir)) {
        throw Error(options.dir + ": cannot create the directory" +
                    (ec ? ": " + ec.message() : std::string()));
    }
}

// The delta boundaries after `from` up to `upto`: one delta per eval
// committed, ending at its change; the changes after the last one (the
// sync's closing jobset state, re-checks) go with it, or make a delta of
// their own (evals: []) when no eval was committed since the last publish.
using Ranges = std::vector<std::pair<int64_t, std::vector<int64_t>>>;
Ranges delta_ranges(index::IndexReader& reader, int64_t from, int64_t upto) {
    Ranges out;
    for (const auto& change : reader.eval_changes(from, upto)) {
        if (out.empty() || out.back().first != change.seq) {
            out.push_back({change.seq, {}});
        }
        out.back().second.push_back(change.eval_id);
    }
    if (upto > from) {
        if (out.empty()) {
            out.push_back({upto, {}});
        } else {
            out.back().first = upto;
        }
    }
    return out;
}

// The manifest's own fields, once its files are listed.
void describe(Manifest& m, const PublishOptions& options, index::IndexReader& reader) {
    const auto keep = static_cast<size_t>(std::max<int64_t>(options.keep_deltas, 2));
    if (m.deltas.size() > keep) {
        m.deltas.erase(m.deltas.begin(), m.deltas.end() - static_cast<std::ptrdiff_t>(keep));
    }
    m.format = k_manifest_format;
    m.schema = index::k_schema_version;
    m.created = options.now;
    m.seq = m.deltas.empty() ? m.base.to : std::max(m.base.to, m.deltas.back().to);
    m.hydra = options.hydra_url;
    m.jobsets.clear();
    for (const auto& info : reader.jobsets()) {
        m.jobsets.push_back(info.state.project + ":" + info.state.name);
    }
}

// Removes what neither this manifest nor the one before names (a client
// that read the old manifest a moment ago still finds its files), and
// leftover temporary files.
std::vector<std::string> prune(const std::string& dir, const Manifest& m,
                               const std::optional<Manifest>& old) {
    auto named = names_of(m);
    if (old) {
        const auto before = names_of(*old);
        named.insert(before.begin(), before.end());
    }
    std::vector<std::string> pruned;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        const bool ours = (name.starts_with("base-") || name.starts_with("delta-")) &&
                          name.ends_with(".sqlite.zst");
        if ((ours && !named.contains(name)) || name.starts_with(k_tmp_prefix)) {
            fs::remove(entry.path(), ec);
            if (ours && !ec) {
                pruned.push_back(name);
            }
        }
    }
    return pruned;
}

} // namespace

PublishResult publish(const PublishOptions& options) {
    check_places(options);
    const DirLock lock(options.dir);
    // The writer migrates an older index, and is the last to close (it keeps
    // the -wal and -shm for readers who may not create them).
    auto writer = index::IndexWriter::open(options.index_path);
    auto& reader = writer.reader();

    const std::string manifest_path = options.dir + "/" + k_manifest_name;
    const auto old = read_old_manifest(manifest_path);
    int64_t current = reader.change_seq();
    const bool continues = old && old->schema == index::k_schema_version && old->seq <= current;

    PublishResult result;
    Manifest& m = result.manifest;
    if (continues) {
        m = *old;
    }
    const int64_t from = continues ? old->seq : 0;
    size_t after_base = 0;
    if (continues) {
        for (const auto& delta : m.deltas) {
            after_base += delta.from >= m.base.to ? 1 : 0;
        }
    }
    auto ranges = delta_ranges(reader, from, current);
    const int64_t half = std::max<int64_t>(1, options.keep_deltas / 2);
    result.new_base = !continues || static_cast<int64_t>(after_base + ranges.size()) >= half;
    if (continues && ranges.empty()) {
        return result; // nothing new: the manifest (and its ETag) stays
    }
    if (result.new_base) {
        const TempFile raw(options.dir + "/" + k_tmp_prefix + "base.sqlite");
        const auto info = index::write_base(options.index_path, raw.path());
        // A sync may have committed since `current` was read: the base holds
        // it, and so do the deltas.
        current = std::max(current, info.to);
        m.base = store(options.dir, "base", raw.path(), options.level, info);
        ranges = continues ? delta_ranges(reader, from, current) : Ranges{};
    }
    int64_t at = from;
    for (const auto& [to, evals] : ranges) {
        const TempFile raw(options.dir + "/" + k_tmp_prefix + "delta.sqlite");
        const auto info = index::write_delta(options.index_path, raw.path(), at, to);
        auto file = store(options.dir, "delta", raw.path(), options.level, info);
        file.evals = evals;
        m.deltas.push_back(file);
        result.new_deltas.push_back(std::move(file));
        at = to;
    }
    if (!continues) {
        m.deltas.clear();
    }
    describe(m, options, reader);
    write_file_atomically(manifest_path, render_manifest(m, options.key));
    result.changed = true;
    result.pruned = prune(options.dir, m, old);
    return result;
}

} // namespace hs::snapshot
