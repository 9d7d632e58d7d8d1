#include "sync/http.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

namespace hs::sync {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// How much of an error body is read for its {"error": ...} message.
constexpr size_t k_max_error_body = size_t{64} * 1024;
// How much of Hydra's error text goes into a message.
constexpr size_t k_max_error_text = 300;
// Sleeps are cut into steps of this length so that a stop request is seen.
constexpr milliseconds k_sleep_step{50};
// A Retry-After longer than this is not waited for: the request gives up.
constexpr milliseconds k_max_retry_after = std::chrono::hours{1};

struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init() {
    // Thread-safe once; never cleaned up (other libraries may still use curl).
    static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        throw Error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
    }
}

// "application/json", optionally with parameters ("; charset=utf-8").
bool is_json_content_type(std::string_view content_type) {
    const size_t semicolon = content_type.find(';');
    return iequals(trim(content_type.substr(0, semicolon)), "application/json");
}

bool is_html_content_type(std::string_view content_type) {
    const size_t semicolon = content_type.find(';');
    return iequals(trim(content_type.substr(0, semicolon)), "text/html");
}

// Text from a server, made safe for a one-line message: C0 controls and DEL
// become spaces (a line break reads as one), C1 controls and bytes that are
// not UTF-8 are escaped, and the length is bounded.
std::string one_line(std::string_view text) {
    return printable(text, k_max_error_text, Controls::space);
}

std::string seconds_text(milliseconds duration) {
    return std::to_string((duration.count() + 999) / 1000) + " s";
}

} // namespace

std::string_view failure_name(Failure failure) {
    switch (failure) {
    case Failure::none:
        return "none";
    case Failure::not_found:
        return "not-found";
    case Failure::unauthorized:
        return "unauthorized";
    case Failure::blocked:
        return "blocked";
    case Failure::transient:
        return "transient";
    case Failure::malformed:
        return "malformed";
    case Failure::cancelled:
        return "cancelled";
    case Failure::other:
        return "other";
    }
    return "other";
}

Failure classify(long http_status, int curl_code) {
    if (curl_code == CURLE_ABORTED_BY_CALLBACK) {
        return Failure::cancelled;
    }
    // A complete error status says more than a transfer problem while
    // reading its body.
    if (curl_code != CURLE_OK && http_status < 400) {
        switch (static_cast<CURLcode>(curl_code)) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_PARTIAL_FILE:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SSL_CONNECT_ERROR: // mostly a connection reset during the handshake
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
        case CURLE_QUIC_CONNECT_ERROR:
            return Failure::transient;
        case CURLE_WRITE_ERROR:          // the body sink refused the data
        case CURLE_FILESIZE_EXCEEDED:    // larger than allowed
        case CURLE_BAD_CONTENT_ENCODING: // a corrupt compressed body
            return Failure::malformed;
        default:
            return Failure::other; // TLS verification, redirect loops, bad URLs, ...
        }
    }
    if (http_status >= 200 && http_status < 300) {
        return Failure::none;
    }
    switch (http_status) {
    case 404:
    case 410:
        return Failure::not_found;
    case 401:
    case 403:
        return Failure::unauthorized;
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return Failure::transient;
    default:
        return Failure::other;
    }
}

milliseconds backoff_delay(int attempt, milliseconds base, milliseconds ceiling,
                           std::optional<milliseconds> retry_after, std::mt19937_64& rng) {
    const int64_t ceiling_ms = std::max<int64_t>(0, ceiling.count());
    int64_t cap = std::min<int64_t>(std::max<int64_t>(0, base.count()), ceiling_ms);
    for (int i = 1; i < attempt && cap < ceiling_ms; ++i) {
        cap = (cap > ceiling_ms / 2) ? ceiling_ms : cap * 2;
    }
    std::uniform_int_distribution<int64_t> jitter(0, cap);
    const milliseconds delay{jitter(rng)};
    if (retry_after && *retry_after > delay) {
        return *retry_after;
    }
    return delay;
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
    value = trim(value);
    if (value.empty()) {
        return std::nullopt;
    }
    if (value.front() >= '0' && value.front() <= '9') {
        // delta-seconds: digits only.
        uint64_t seconds = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        constexpr uint64_t k_max_seconds = std::numeric_limits<int64_t>::max() / 1000;
        if (ec != std::errc() || end != value.data() + value.size() || seconds > k_max_seconds) {
            return std::nullopt;
        }
        return milliseconds{static_cast<int64_t>(seconds) * 1000};
    }
    // An HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", or the obsolete RFC 850
    // and asctime forms): a month name and a time of day, which also keeps
    // curl_getdate's lenient parser away from garbage and signed numbers.
    const bool has_letter = std::any_of(value.begin(), value.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    });
    if (!has_letter || value.find(':') == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string text(value);
    const time_t date = curl_getdate(text.c_str(), nullptr);
    if (date < 0) {
        return std::nullopt;
    }
    const auto when = std::chrono::system_clock::from_time_t(date);
    if (when <= now) {
        return milliseconds{0};
    }
    return std::chrono::duration_cast<milliseconds>(when - now);
}

bool StringSink::write(std::string_view chunk) {
    if (chunk.size() > m_limit || m_body.size() > m_limit - chunk.size()) {
        m_error = "answer larger than " + std::to_string(m_limit) + " bytes";
        return false;
    }
    m_body.append(chunk);
    return true;
}

// The state of the one curl handle, and of the try in progress. Its rng is
// seeded by HttpClient's constructor.
// NOLINTNEXTLINE(cert-msc32-c,cert-msc51-cpp)
struct HttpClient::Impl {
    CurlPtr curl;
    SlistPtr headers;
    SlistPtr html_headers;  // Accept: text/html, for get_html
    SlistPtr any_headers;   // Accept: */*, for get_file
    bool want_html = false; // the request in progress is get_html's
    bool want_any = false;  // the request in progress is get_file's
    char error_buffer[CURL_ERROR_SIZE] = {};
    std::mt19937_64 rng; // seeded by HttpClient's constructor
    std::optional<Clock::time_point> last_start;
    const std::atomic<bool>* stop = nullptr;
    uint64_t max_body_bytes = 0;

    // Reset before every try.
    BodySink* sink = nullptr;
    bool first_chunk = true;
    bool body_for_sink = false;  // a 2xx JSON answer: the body goes to the sink
    bool seen_non_blank = false; // in a body for the sink
    bool blocked = false;
    std::string blocked_reason; // "answered 'text/html' instead of JSON"
    bool too_large = false;
    bool sink_failed = false;
    bool error_body_full = false; // stopped reading an error body on purpose
    std::string content_type;
    std::string error_body;
    std::string retry_after;
    Validators validators;
    uint64_t body_bytes = 0;
    std::exception_ptr sink_exception; // thrown by the sink inside a callback

    bool stop_requested() const { return stop != nullptr && stop->load(); }

    // Waits until deadline in small steps; false if a stop was requested.
    bool sleep_until(Clock::time_point deadline) const {
        while (true) {
            if (stop_requested()) {
                return false;
            }
            const auto now = Clock::now();
            if (now >= deadline) {
                return true;
            }
            std::this_thread::sleep_for(std::min<Clock::duration>(deadline - now, k_sleep_step));
        }
    }

    void start_try(BodySink& body_sink) {
        sink = &body_sink;
        first_chunk = true;
        body_for_sink = false;
        seen_non_blank = false;
        blocked = false;
        blocked_reason.clear();
        too_large = false;
        sink_failed = false;
        error_body_full = false;
        content_type.clear();
        error_body.clear();
        retry_after.clear();
        validators = {};
        body_bytes = 0;
        sink_exception = nullptr;
        error_buffer[0] = '\0';
    }

    long response_code() const {
        long status = 0;
        curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
        return status;
    }

    // Decides where the body of the final answer goes, once its headers are
    // known: false if a 2xx answer is not JSON.
    bool inspect_answer() {
        first_chunk = false;
        const long status = response_code();
        const char* type = nullptr;
        curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_TYPE, &type);
        content_type = type != nullptr ? type : "";
        if (status >= 200 && status < 300) {
            const bool wanted = want_any || (want_html ? is_html_content_type(content_type)
                                                       : is_json_content_type(content_type));
            if (!wanted) {
                const std::string what = want_html ? "HTML" : "JSON";
                blocked = true;
                blocked_reason = content_type.empty()
                                     ? "answered without a Content-Type instead of with " + what
                                     : "answered " + quote(content_type) + " instead of " + what;
                return false;
            }
            body_for_sink = true;
        }
        return true;
    }

    bool on_body(std::string_view chunk) {
        if (first_chunk && !inspect_answer()) {
            return false;
        }
        if (chunk.size() > max_body_bytes || body_bytes > max_body_bytes - chunk.size()) {
            too_large = true;
            return false;
        }
        body_bytes += chunk.size();
        if (body_for_sink) {
            if (!seen_non_blank && !want_html && !want_any) {
                const auto it =
                    std::find_if(chunk.begin(), chunk.end(), [](char c) { return !is_blank(c); });
                if (it != chunk.end()) {
                    seen_non_blank = true;
                    if (*it == '<') {
                        blocked = true;
                        blocked_reason = "answered HTML labelled as JSON";
                        return false;
                    }
                }
            }
            if (!sink->write(chunk)) {
                sink_failed = true;
                return false;
            }
            return true;
        }
        const long status = response_code();
        if (status >= 300 && status < 400) {
            return true; // the body of a redirect: ignored
        }
        const size_t room = k_max_error_body - error_body.size();
        error_body.append(chunk.substr(0, room));
        if (chunk.size() >= room) {
            error_body_full = true;
            return false; // enough for a message; stop downloading
        }
        return true;
    }

    void on_header(std::string_view line) {
        if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
            retry_after.clear(); // a new response (after a redirect or a 1xx)
            validators = {};
            return;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            return;
        }
        const std::string_view name = trim(line.substr(0, colon));
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "retry-after")) {
            retry_after = std::string(value);
        } else if (iequals(name, "etag")) {
            validators.etag = std::string(value);
        } else if (iequals(name, "last-modified")) {
            validators.last_modified = std::string(value);
        }
    }

    static size_t write_callback(char* data, size_t size, size_t count, void* user) {
        auto* self = static_cast<Impl*>(user);
        const size_t length = size * count;
        try {
            return self->on_body(std::string_view(data, length)) ? length : 0;
        } catch (...) {
            // An exception must not cross libcurl's C frames: it is carried
            // over and rethrown once curl_easy_perform has returned.
            self->sink_exception = std::current_exception();
            return 0;
        }
    }

    static size_t header_callback(char* data, size_t size, size_t count, void* user) {
        auto* self = static_cast<Impl*>(user);
        const size_t length = size * count;
        self->on_header(std::string_view(data, length));
        return length;
    }

    static int progress_callback(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        const auto* self = static_cast<const Impl*>(user);
        return self->stop_requested() ? 1 : 0;
    }
};

namespace {

template <typename T>
void set_option(CURL* curl, CURLoption option, T value) {
    const CURLcode code = curl_easy_setopt(curl, option, value);
    if (code != CURLE_OK) {
        throw Error(std::string("cannot configure libcurl: ") + curl_easy_strerror(code));
    }
}

long to_long(std::chrono::seconds duration) {
    return static_cast<long>(
        std::clamp<int64_t>(duration.count(), 0, std::numeric_limits<long>::max()));
}

// A header list of one line.
SlistPtr one_header(const char* line) {
    SlistPtr list(curl_slist_append(nullptr, line));
    if (!list) {
        throw Error("cannot allocate HTTP headers");
    }
    return list;
}

} // namespace

HttpClient::HttpClient(HttpOptions options) : m_options(std::move(options)) {
    if (m_options.user_agent.empty() ||
        m_options.user_agent.find_first_of("\r\n") != std::string::npos) {
        throw Error("the HTTP client needs a one-line User-Agent");
    }
    if (m_options.max_tries < 1 || m_options.max_in_flight < 1) {
        throw Error("the HTTP client needs max_tries and max_in_flight of at least 1");
    }
    global_init();
    m_impl = std::make_unique<Impl>();
    Impl& impl = *m_impl;
    impl.curl.reset(curl_easy_init());
    if (!impl.curl) {
        throw Error("cannot create a libcurl handle");
    }
    impl.stop = m_options.stop;
    impl.max_body_bytes = m_options.max_body_bytes;
    uint64_t seed = m_options.rng_seed;
    if (seed == 0) {
        seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
    }
    impl.rng.seed(seed);

    impl.headers = one_header("Accept: application/json");
    impl.html_headers = one_header("Accept: text/html");
    impl.any_headers = one_header("Accept: */*");

    CURL* curl = impl.curl.get();
    set_option(curl, CURLOPT_ERRORBUFFER, impl.error_buffer);
    set_option(curl, CURLOPT_NOSIGNAL, 1L);
    set_option(curl, CURLOPT_HTTPHEADER, impl.headers.get());
    set_option(curl, CURLOPT_USERAGENT, m_options.user_agent.c_str());
    set_option(curl, CURLOPT_ACCEPT_ENCODING, ""); // every encoding libcurl supports
    set_option(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    set_option(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set_option(curl, CURLOPT_FOLLOWLOCATION, 1L);
    set_option(curl, CURLOPT_MAXREDIRS, m_options.max_redirects);
    set_option(curl, CURLOPT_SSL_VERIFYPEER, m_options.insecure ? 0L : 1L);
    set_option(curl, CURLOPT_SSL_VERIFYHOST, m_options.insecure ? 0L : 2L);
    set_option(curl, CURLOPT_CONNECTTIMEOUT, to_long(m_options.connect_timeout));
    set_option(curl, CURLOPT_TIMEOUT, to_long(m_options.total_timeout));
    set_option(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    set_option(curl, CURLOPT_LOW_SPEED_TIME, to_long(m_options.low_speed_time));
    set_option(curl, CURLOPT_WRITEFUNCTION, &Impl::write_callback);
    set_option(curl, CURLOPT_WRITEDATA, static_cast<void*>(&impl));
    set_option(curl, CURLOPT_HEADERFUNCTION, &Impl::header_callback);
    set_option(curl, CURLOPT_HEADERDATA, static_cast<void*>(&impl));
    set_option(curl, CURLOPT_NOPROGRESS, 0L);
    set_option(curl, CURLOPT_XFERINFOFUNCTION, &Impl::progress_callback);
    set_option(curl, CURLOPT_XFERINFODATA, static_cast<void*>(&impl));
}

HttpClient::~HttpClient() = default;

bool HttpClient::wait_for_retry(RetryWait& wait) {
    const auto start = Clock::now();
    const auto deadline = start + wait.delay;
    if (!m_options.on_retry_wait) {
        return m_impl->sleep_until(deadline);
    }
    // Told once a second, so that a countdown can be shown: the whole delay
    // first, then a second less each time.
    for (auto tell = start; tell < deadline; tell += std::chrono::seconds(1)) {
        wait.remaining = std::chrono::ceil<milliseconds>(deadline - tell);
        m_options.on_retry_wait(wait);
        if (!m_impl->sleep_until(std::min(deadline, tell + std::chrono::seconds(1)))) {
            return false;
        }
    }
    wait.remaining = milliseconds(0);
    m_options.on_retry_wait(wait);
    return true;
}

namespace {

// The header list of a conditional request (null for a plain one):
// Accept, and the validators sent back verbatim; one with a line break is
// dropped.
SlistPtr conditional_header_list(const Validators& conditional,
                                 const char* accept = "Accept: application/json") {
    const auto usable = [](const std::string& value) {
        return !value.empty() && value.find_first_of("\r\n") == std::string::npos;
    };
    SlistPtr headers;
    if (!usable(conditional.etag) && !usable(conditional.last_modified)) {
        return headers;
    }
    std::vector<std::string> lines{accept};
    if (usable(conditional.etag)) {
        lines.push_back("If-None-Match: " + conditional.etag);
    }
    if (usable(conditional.last_modified)) {
        lines.push_back("If-Modified-Since: " + conditional.last_modified);
    }
    for (const auto& line : lines) {
        curl_slist* list = curl_slist_append(headers.get(), line.c_str());
        if (list == nullptr) {
            throw Error("cannot allocate HTTP headers");
        }
        if (!headers) {
            headers.reset(list);
        }
    }
    return headers;
}

// Sends a conditional request's headers for as long as it runs, then the
// normal ones again.
class HeaderScope {
public:
    HeaderScope(CURL* curl, curl_slist* headers, curl_slist* normal)
        : m_curl(curl), m_headers(headers), m_normal(normal) {
        if (m_headers != nullptr) {
            curl_easy_setopt(m_curl, CURLOPT_HTTPHEADER, m_headers);
        }
    }
    ~HeaderScope() {
        if (m_headers != nullptr) {
            curl_easy_setopt(m_curl, CURLOPT_HTTPHEADER, m_normal);
        }
    }
    HeaderScope(const HeaderScope&) = delete;
    HeaderScope& operator=(const HeaderScope&) = delete;

private:
    CURL* m_curl;
    curl_slist* m_headers;
    curl_slist* m_normal;
};

} // namespace

bool gave_up(long http_status, int curl_code) {
    if (http_status == 504) {
        return true;
    }
    if (http_status >= 400) {
        return false; // a complete error status says more than the transfer
    }
    switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OPERATION_TIMEDOUT: // the timeout, or less than 1 byte/s for low_speed_time
    case CURLE_RECV_ERROR:         // reset while receiving
    case CURLE_SEND_ERROR:         // reset while sending
    case CURLE_GOT_NOTHING:        // closed before any answer
    case CURLE_PARTIAL_FILE:       // closed before the whole body
        return true;
    default:
        return false;
    }
}

// One call of get_json: its tries, and the result they make.
struct HttpClient::Request {
    HttpClient& client;
    Impl& impl;
    const HttpOptions& options;
    const std::string& url;
    BodySink& sink;
    SlistPtr conditional_headers; // null for a plain request
    bool html;                    // get_html's request
    bool any = false;             // get_file's request
    std::string prefix;           // of every message
    Retries retries;
    FetchResult result;

    Request(HttpClient& http, const std::string& target, BodySink& body_sink,
            const Validators& conditional, Retries which, bool want_html = false,
            bool want_any = false)
        : client(http), impl(*http.m_impl), options(http.m_options), url(target), sink(body_sink),
          conditional_headers(conditional_header_list(
              conditional, want_any ? "Accept: */*" : "Accept: application/json")),
          html(want_html), any(want_any),
          prefix("unable to download '" + redact_url(target) + "': "), retries(which) {}

    FetchResult run() {
        impl.want_html = html;
        impl.want_any = any;
        curl_slist* headers = conditional_headers.get();
        if (html) {
            headers = impl.html_headers.get();
        } else if (any && !headers) {
            headers = impl.any_headers.get();
        }
        const HeaderScope scope(impl.curl.get(), headers, impl.headers.get());
        set_option(impl.curl.get(), CURLOPT_URL, url.c_str());
        for (int attempt = 1; attempt <= options.max_tries; ++attempt) {
            if (const auto why = wait_for_turn()) {
                return cancelled(*why);
            }
            const CURLcode code = perform(attempt);
            if (auto refused = refusal(code)) {
                return *refused;
            }
            if (result.http_status == 304 && code == CURLE_OK && conditional_headers) {
                result.not_modified = true;
                result.validators = impl.validators;
                return result;
            }
            describe_failure(code);
            if (result.failure == Failure::none) {
                return finish();
            }
            auto wait = next_wait(attempt);
            if (!wait) {
                return result;
            }
            if (!client.wait_for_retry(*wait)) {
                return cancelled("interrupted");
            }
        }
        return result; // not reached: the last try returns above
    }

    FetchResult cancelled(const std::string& why) { return failed(Failure::cancelled, why); }

    FetchResult failed(Failure failure, const std::string& why) {
        result.failure = failure;
        result.message = prefix + why;
        return result;
    }

    // Waits for the next try's turn (pacing between request starts): why
    // it may not be sent (a stop request, the budget), or nullopt.
    std::optional<std::string> wait_for_turn() const {
        if (impl.stop_requested()) {
            return "interrupted";
        }
        if (client.m_requests >= options.max_requests) {
            return "request budget of " + std::to_string(options.max_requests) + " spent";
        }
        if (impl.last_start && !impl.sleep_until(*impl.last_start + options.min_interval)) {
            return "interrupted";
        }
        return std::nullopt;
    }

    // Sends try number `attempt` and receives its answer.
    CURLcode perform(int attempt) {
        sink.reset();
        impl.start_try(sink);
        impl.last_start = Clock::now();
        ++client.m_requests;
        result.tries = attempt;
        const CURLcode code = curl_easy_perform(impl.curl.get());
        if (impl.sink_exception) {
            std::rethrow_exception(std::exchange(impl.sink_exception, nullptr));
        }
        curl_off_t wire_bytes = 0;
        if (curl_easy_getinfo(impl.curl.get(), CURLINFO_SIZE_DOWNLOAD_T, &wire_bytes) == CURLE_OK &&
            wire_bytes > 0) {
            client.m_bytes += static_cast<uint64_t>(wire_bytes);
        }
        result.http_status = impl.response_code();
        result.bytes = impl.body_bytes;
        return code;
    }

    // A try that ended on this side, never tried again: a stop request, or
    // an answer refused (not JSON, too large, rejected by the sink).
    std::optional<FetchResult> refusal(CURLcode code) {
        const long status = result.http_status;
        const bool success_status = status >= 200 && status < 300;
        if (code == CURLE_ABORTED_BY_CALLBACK && impl.stop_requested()) {
            return cancelled("interrupted");
        }
        if (impl.blocked ||
            (success_status && code == CURLE_OK && impl.first_chunk && !impl.inspect_answer())) {
            // A body-less 2xx is inspected here: the write callback never ran.
            return failed(Failure::blocked,
                          "Hydra " + impl.blocked_reason +
                              (html ? std::string()
                                    : " (a bot filter, or a missing Accept: application/json "
                                      "header)"));
        }
        if (impl.too_large) {
            return failed(Failure::malformed, "answer larger than " +
                                                  std::to_string(options.max_body_bytes) +
                                                  " bytes");
        }
        if (impl.sink_failed) {
            return failed(Failure::malformed, sink.error());
        }
        return std::nullopt;
    }

    // Classifies the try, and says what went wrong when it failed.
    void describe_failure(CURLcode code) {
        const long status = result.http_status;
        const int effective_code = impl.error_body_full ? CURLE_OK : code;
        result.failure = classify(status, effective_code);
        result.gave_up = result.failure == Failure::transient && gave_up(status, effective_code);
        if (effective_code != CURLE_OK && status < 400) {
            result.message = prefix + one_line(transfer_error(code));
        } else if (result.failure != Failure::none) {
            result.message = prefix + "HTTP error " + std::to_string(status) + error_body_text();
        }
    }

    // What curl says about a failed transfer.
    std::string transfer_error(CURLcode code) const {
        if (code == CURLE_TOO_MANY_REDIRECTS) {
            return "redirect loop (more than " + std::to_string(options.max_redirects) +
                   " redirects)";
        }
        std::string detail = impl.error_buffer[0] != '\0' ? std::string(impl.error_buffer)
                                                          : std::string(curl_easy_strerror(code));
        if (detail.size() > 1 && ascii_lower(detail[1]) == detail[1]) {
            detail[0] = ascii_lower(detail[0]); // "Failed to ..." but not "URL ..."
        }
        return detail;
    }

    // Hydra's message out of an error body, as " (...)", or "".
    std::string error_body_text() const {
        if (options.read_error_body) {
            if (const auto text = options.read_error_body(impl.error_body);
                text && !text->empty()) {
                return " (" + one_line(*text) + ")";
            }
        }
        return {};
    }

    // A complete 2xx JSON answer: the sink checks it.
    FetchResult finish() {
        result.validators = impl.validators;
        if (!sink.finish()) {
            result.failure = Failure::malformed;
            result.message = prefix + sink.error();
        }
        return result;
    }

    // The wait before the next try of a failed one, or nullopt (the message
    // says why, when it is not obvious) when it is not tried again.
    std::optional<RetryWait> next_wait(int attempt) {
        if (result.failure != Failure::transient) {
            return std::nullopt;
        }
        if (result.gave_up && retries == Retries::unless_server_gave_up) {
            return std::nullopt; // the caller asks for it some other way
        }
        if (attempt == options.max_tries) {
            if (attempt > 1) {
                result.message += " (gave up after " + std::to_string(attempt) + " tries)";
            }
            return std::nullopt;
        }
        const auto retry_after =
            impl.retry_after.empty()
                ? std::nullopt
                : parse_retry_after(impl.retry_after, std::chrono::system_clock::now());
        if (retry_after && *retry_after > k_max_retry_after) {
            result.message += " (the server asks to retry after " + seconds_text(*retry_after) +
                              ", longer than 1 hour: giving up)";
            return std::nullopt;
        }
        const milliseconds delay = backoff_delay(attempt, options.backoff_base,
                                                 options.backoff_ceiling, retry_after, impl.rng);
        return RetryWait{delay,
                         delay,
                         retry_after.has_value(),
                         attempt + 1,
                         options.max_tries,
                         result.message.starts_with(prefix) ? result.message.substr(prefix.size())
                                                            : result.message};
    }
};

FetchResult HttpClient::get_json(const std::string& url, BodySink& sink,
                                 const Validators& conditional, Retries retries) {
    Request request(*this, url, sink, conditional, retries);
    return request.run();
}

FetchResult HttpClient::get_html(const std::string& url, BodySink& sink) {
    Request request(*this, url, sink, {}, Retries::transient, true);
    return request.run();
}

FetchResult HttpClient::get_file(const std::string& url, BodySink& sink,
                                 const Validators& conditional) {
    Request request(*this, url, sink, conditional, Retries::transient, false, true);
    return request.run();
}

} // namespace hs::sync
