#include "sync/snapshot_fetch.hpp"

#include "core/error.hpp"
#include "core/file.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>

namespace hs::sync {

namespace {

// Writes the body into a file, truncated at every try; at most `limit`
// bytes.
class FileSink : public BodySink {
public:
    FileSink(std::string path, uint64_t limit) : m_path(std::move(path)), m_limit(limit) {}
    ~FileSink() override {
        if (m_file) {
            std::fclose(m_file);
        }
    }
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;

    void reset() override {
        if (m_file) {
            std::fclose(m_file);
        }
        m_file = std::fopen(m_path.c_str(), "wb");
        m_size = 0;
        m_error = m_file ? "" : m_path + ": " + errno_text(errno);
    }
    bool write(std::string_view chunk) override {
        if (!m_file) {
            return false;
        }
        if (chunk.size() > m_limit || m_size > m_limit - chunk.size()) {
            m_error = "larger than the manifest says (" + std::to_string(m_limit) + " bytes)";
            return false;
        }
        if (std::fwrite(chunk.data(), 1, chunk.size(), m_file) != chunk.size()) {
            m_error = m_path + ": cannot write: " + errno_text(errno);
            return false;
        }
        m_size += chunk.size();
        return true;
    }
    bool finish() override {
        if (!m_file || std::fclose(m_file) != 0) {
            m_file = nullptr;
            m_error = m_path + ": cannot write";
            return false;
        }
        m_file = nullptr;
        return true;
    }
    std::string error() const override { return m_error; }

private:
    std::string m_path;
    uint64_t m_limit;
    std::FILE* m_file = nullptr;
    uint64_t m_size = 0;
    std::string m_error;
};

// A manifest is small: 1 MiB is hundreds of deltas.
constexpr uint64_t k_manifest_limit = 8ULL << 20;

} // namespace

snapshot::ManifestFetch HttpFetcher::fetch_manifest(const std::string& etag,
                                                    const std::string& last_modified) {
    StringSink sink(k_manifest_limit);
    const auto result =
        m_http.get_file(m_base + "/" + snapshot::k_manifest_name, sink, {etag, last_modified});
    if (!result.ok()) {
        throw Error(result.message);
    }
    snapshot::ManifestFetch out;
    out.not_modified = result.not_modified;
    out.body = sink.body();
    out.etag = result.validators.etag;
    out.last_modified = result.validators.last_modified;
    return out;
}

void HttpFetcher::fetch_file(const std::string& name, const std::string& dest, uint64_t max_bytes) {
    FileSink sink(dest, max_bytes);
    const auto result = m_http.get_file(m_base + "/" + name, sink);
    if (!result.ok()) {
        throw Error(result.message + "; nothing was changed");
    }
}

} // namespace hs::sync
