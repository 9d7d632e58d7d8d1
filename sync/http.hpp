#pragma once

#include "core/url.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace hs::sync {

// How a request ended, classified in one place (see classify()).
enum class Failure {
    none,         // 2xx with application/json
    not_found,    // 404, 410
    unauthorized, // 401, 403
    blocked,      // a 200 that is not JSON: Hydra's bot filter (iocaine) or a missing Accept
    transient,    // 408, 429, 500, 502, 503, 504, connection errors, timeouts; retried
    malformed,    // the body sink rejected the data (bad JSON, too large, truncated)
    cancelled,    // stop requested (SIGINT/SIGTERM) or the request budget is spent
    other,        // anything else: other 4xx/5xx, TLS errors, redirect loops
};

std::string_view failure_name(Failure failure);

// Classifies an HTTP status and a curl result code (0 = CURLE_OK).
Failure classify(long http_status, int curl_code);

// Whether a failed try is one where the server, or the proxy in front of
// it, gave up on the answer: a 504, a timeout, or a connection reset or
// closed before the answer was complete. On hydra.nixos.org that is what
// GET /eval/<id>/builds of a large eval gets (nginx gives up; hydra-api.md
// §10), and trying the same request again only costs Hydra the same work
// again. Pure.
bool gave_up(long http_status, int curl_code);

// Which failed tries a request tries again (HttpClient::get_json).
enum class Retries {
    transient,             // every transient failure, up to max_tries (the default)
    unless_server_gave_up, // the same, but never one that gave_up(): 429 and 503
                           // (with their Retry-After) are still tried again
};

// A wait before a request is tried again, told to HttpOptions::on_retry_wait
// (library code never prints: the CLI shows it). Told when the wait starts,
// then once a second while it lasts, and once more with `remaining` 0 when
// it is over.
struct RetryWait {
    std::chrono::milliseconds delay{0};     // the whole wait
    std::chrono::milliseconds remaining{0}; // of it, still to wait
    bool server_asked = false;              // Hydra sent Retry-After
    int next_try = 0;                       // the try after the wait (2: the first retry)
    int max_tries = 0;
    std::string reason; // why the last try failed: "HTTP error 503", "connection reset ..."
};

struct HttpOptions {
    std::string user_agent;                       // "hydra-status/<version> (+<project URL>)"
    std::chrono::milliseconds min_interval{1000}; // between request starts
    int max_in_flight = 1;                        // requests are sequential: 1 <= this
    int max_tries = 6;
    std::chrono::milliseconds backoff_base{1000};
    std::chrono::milliseconds backoff_ceiling{300'000};
    std::chrono::seconds connect_timeout{30};
    std::chrono::seconds total_timeout{900};  // nginx in front of hydra.nixos.org waits 900 s
    std::chrono::seconds low_speed_time{120}; // abort when < 1 byte/s for this long
    uint64_t max_body_bytes = 4ULL << 30;     // after decompression
    long max_redirects = 5;
    uint64_t max_requests = 10'000;          // per-run budget
    bool insecure = false;                   // never silently: the CLI warns
    const std::atomic<bool>* stop = nullptr; // set by SIGINT/SIGTERM handlers
    uint64_t rng_seed = 0;                   // 0: seeded from the clock
    // Reads the message out of an error body ({"error": "..."} on Hydra) to
    // add to the failure's message; unset: the body is not read. The client
    // does not parse JSON itself: the sync passes parse_error_body.
    std::function<std::optional<std::string>(std::string_view body)> read_error_body;
    // Optional: told about waits before a retry (see RetryWait).
    std::function<void(const RetryWait&)> on_retry_wait;
};

// Receives a response body as it arrives. reset() is called before every try,
// so a retried request starts from a clean state.
class BodySink {
public:
    virtual ~BodySink() = default;
    virtual void reset() = 0;
    // Returns false to abort the transfer (the reason goes to error()).
    virtual bool write(std::string_view chunk) = 0;
    // Called once after a complete 2xx JSON body; false if incomplete/invalid.
    virtual bool finish() = 0;
    virtual std::string error() const = 0;
};

// A sink that keeps the whole body (for small answers: evals pages, builds).
class StringSink : public BodySink {
public:
    explicit StringSink(uint64_t limit = 256ULL << 20) : m_limit(limit) {}
    void reset() override { m_body.clear(); }
    bool write(std::string_view chunk) override;
    bool finish() override { return true; }
    std::string error() const override { return m_error; }
    const std::string& body() const { return m_body; }

private:
    uint64_t m_limit;
    std::string m_body;
    std::string m_error;
};

// Validators of an earlier answer, for a conditional request (empty: none).
struct Validators {
    std::string etag;          // the ETag header, verbatim
    std::string last_modified; // the Last-Modified header, verbatim
    bool empty() const { return etag.empty() && last_modified.empty(); }
};

struct FetchResult {
    Failure failure = Failure::none;
    bool not_modified = false; // 304 to a conditional request: ok(), the sink got no body
    Validators validators;     // sent with a 2xx or 304 answer
    long http_status = 0;
    std::string message; // lowercase, names the (redacted) URL: "unable to download '<url>': HTTP
                         // error 503"
    int tries = 0;
    bool gave_up = false; // the last try failed as gave_up() says
    uint64_t bytes = 0;   // body bytes received (after decompression) in the last try
    bool ok() const { return failure == Failure::none; }
};

// Exponential backoff with full jitter for try number `attempt` (1 = first
// retry): uniform in [0, min(ceiling, base * 2^(attempt-1))], but never below
// retry_after when the server sent one. Pure; the RNG is injected.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds ceiling,
                                        std::optional<std::chrono::milliseconds> retry_after,
                                        std::mt19937_64& rng);

// Parses a Retry-After value: delta-seconds or an HTTP-date (relative to now).
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

// Credentials out of URLs in messages; in core, since `config show` prints
// the url too and the CLI's lookup executable does not link this layer.
using core::redact_url;

// One libcurl easy handle reused for every request (keep-alive, one TLS
// session), with the politeness rules of spec/cli.md: pacing between request
// starts, retries with backoff and Retry-After, gzip, a request budget.
class HttpClient {
public:
    explicit HttpClient(HttpOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // GET with Accept: application/json. The body goes to sink only for a 2xx
    // answer whose Content-Type is application/json; error bodies are read
    // for their {"error": ...} message. Non-empty `conditional` validators
    // are sent as If-None-Match / If-Modified-Since, and a 304 answer is then
    // a success with not_modified set (a 304 to a plain request is an error).
    // `retries` says which failed tries are tried again.
    FetchResult get_json(const std::string& url, BodySink& sink, const Validators& conditional = {},
                         Retries retries = Retries::transient);
    // GET with Accept: text/html, for the one page the sync reads as HTML
    // (spec/cli.md "Politeness": the evals listing, to learn what changed,
    // with the JSON listing as the fallback). The body of a 2xx text/html
    // answer goes to sink; another 2xx answer is Failure::blocked. Retries,
    // pacing and the budget as get_json.
    FetchResult get_html(const std::string& url, BodySink& sink);
    // GET with Accept: */*, for a file of a snapshot (sync --from): the body
    // of a 2xx answer goes to sink whatever its Content-Type. Conditional
    // requests, retries, pacing and the budget as get_json.
    FetchResult get_file(const std::string& url, BodySink& sink,
                         const Validators& conditional = {});

    uint64_t requests() const { return m_requests; } // HTTP requests sent, retries included
    uint64_t bytes() const { return m_bytes; }       // body bytes received over the wire
    bool budget_spent() const { return m_requests >= m_options.max_requests; }

private:
    // Sleeps wait.delay, telling on_retry_wait; false if a stop was requested.
    bool wait_for_retry(RetryWait& wait);

    struct Request; // one call of get_json, in steps

    struct Impl;
    std::unique_ptr<Impl> m_impl;
    HttpOptions m_options;
    uint64_t m_requests = 0;
    uint64_t m_bytes = 0;
};

} // namespace hs::sync
