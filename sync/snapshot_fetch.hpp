#pragma once

// The http(s) transport of sync --from (snapshot::Fetcher over HttpClient:
// its User-Agent, pacing, retries and budget; the manifest by a conditional
// request).

#include "snapshot/pull.hpp"
#include "sync/http.hpp"

#include <string>

namespace hs::sync {

class HttpFetcher : public snapshot::Fetcher {
public:
    // base_url: the snapshot directory's URL, without a trailing slash
    // (credentials allowed: only the client sees them).
    HttpFetcher(HttpClient& http, std::string base_url)
        : m_http(http), m_base(std::move(base_url)) {}
    snapshot::ManifestFetch fetch_manifest(const std::string& etag,
                                           const std::string& last_modified) override;
    void fetch_file(const std::string& name, const std::string& dest, uint64_t max_bytes) override;
    uint64_t requests() const override { return m_http.requests(); }
    uint64_t bytes() const override { return m_http.bytes(); }

private:
    HttpClient& m_http;
    std::string m_base;
};

} // namespace hs::sync
