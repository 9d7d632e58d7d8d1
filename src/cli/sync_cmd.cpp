#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/url.hpp"
#include "index/index.hpp"
#include "index/lock.hpp"
#include "sync/hydra_json.hpp"
#include "sync/syncer.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace hs::cli {

namespace {

// The body size limit: a sync option, and a config key once settings.cpp
// declares it (then it comes through Settings like every other key).
constexpr const char* k_max_body_key = "max-body";
constexpr const char* k_max_body_default = "4GiB";

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int signo) {
    g_signal.store(signo);
    g_stop.store(true);
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: a blocked read returns EINTR. SA_RESETHAND: a second
    // signal ends the process at once (what it wrote is safe: every eval is
    // one transaction).
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

const char* signal_name(int signo) {
    switch (signo) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    default:
        return "a signal";
    }
}

std::string human_bytes(uint64_t bytes) {
    char buf[32];
    if (bytes < 1024) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    } else if (bytes < uint64_t{1024} * 1024) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
    } else if (bytes < 1024ULL * 1024 * 1024) {
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024 * 1024));
    } else {
        std::snprintf(buf, sizeof buf, "%.2f GiB",
                      static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
    }
    return buf;
}

// "1000000", "64KiB", "64MiB", "4GiB" (1024-based; K, M, G alike), "64kB",
// "64MB", "4GB" (1000-based); a trailing "B" alone means bytes.
uint64_t parse_size(const std::string& text, const std::string& what) {
    uint64_t number = 0;
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, number);
    const std::string unit(ptr, end);
    uint64_t factor = 0;
    if (unit.empty() || unit == "B") {
        factor = 1;
    } else if (unit == "K" || unit == "KiB" || unit == "k") {
        factor = 1ULL << 10;
    } else if (unit == "M" || unit == "MiB") {
        factor = 1ULL << 20;
    } else if (unit == "G" || unit == "GiB") {
        factor = 1ULL << 30;
    } else if (unit == "kB" || unit == "KB") {
        factor = 1000;
    } else if (unit == "MB") {
        factor = uint64_t{1000} * 1000;
    } else if (unit == "GB") {
        factor = uint64_t{1000} * 1000 * 1000;
    }
    constexpr uint64_t k_max = 1ULL << 50;
    if (ec != std::errc{} || ptr == begin || factor == 0 || number == 0 ||
        number > k_max / factor) {
        throw UsageError(what + ": invalid size " + quote(text) +
                         " (expected e.g. 1000000, 64MiB, 4GiB)");
    }
    return number * factor;
}

bool settings_know(const char* key) {
    const auto& specs = setting_specs();
    return std::any_of(specs.begin(), specs.end(),
                       [&](const SettingSpec& spec) { return std::strcmp(spec.key, key) == 0; });
}

// Progress on stderr. On a terminal: one line redrawn in place (cut to the
// terminal's width, so that no half-line stays behind), showing the eval in
// progress, its builds so far and waits before a retry, then one line per
// jobset. Otherwise (cron, systemd: journald-friendly) plain lines: one per
// eval and one per jobset, and with -v one per wait. With --quiet nothing but
// errors.
class Progress : public sync::SyncObserver {
public:
    Progress(bool quiet, bool terminal, bool verbose)
        : m_quiet(quiet), m_terminal(terminal), m_verbose(verbose) {}

    void on_jobset_start(const std::string& jobset, size_t /*new_evals*/) override {
        m_jobset = jobset;
        m_eval_start = std::chrono::steady_clock::now();
    }

    void on_progress(const std::string& jobset, size_t eval_index, size_t eval_count,
                     uint64_t builds, uint64_t bytes, uint64_t requests) override {
        m_jobset = jobset;
        m_eval = eval_count
                     ? "eval " + std::to_string(eval_index + 1) + "/" + std::to_string(eval_count)
                     : std::string("re-check");
        m_builds = builds;
        m_bytes = bytes;
        m_requests = requests;
        m_has_progress = true;
        draw(false);
    }

    void on_eval_done(const std::string& jobset, int64_t eval_id, uint64_t builds,
                      const std::string& method) override {
        if (m_quiet) {
            return;
        }
        if (m_terminal) {
            // The line shows the eval's final count until the next one starts.
            m_builds = builds;
            draw(true);
        } else {
            std::fprintf(stderr, "%s: eval %lld: %s (%s)\n", jobset.c_str(),
                         static_cast<long long>(eval_id), plural(builds, "build").c_str(),
                         method.c_str());
        }
        m_eval_start = std::chrono::steady_clock::now();
    }

    void on_jobset_done(const sync::JobsetOutcome& outcome) override {
        clear_line();
        m_has_progress = false;
        if (!outcome.ok) {
            print_error(outcome.jobset + ": " + outcome.error);
            return;
        }
        if (m_quiet || !outcome.completed) {
            return;
        }
        std::string what;
        if (outcome.evals == 0) {
            what = outcome.not_modified ? "not modified" : "no new eval";
        } else {
            what = plural(outcome.evals, "new eval") + ", " + plural(outcome.builds, "build");
        }
        if (outcome.rechecked > 0) {
            what += ", " + std::to_string(outcome.rechecked) + " re-checked";
        }
        std::fprintf(stderr, "%s: %s; %s, %s\n", outcome.jobset.c_str(), what.c_str(),
                     plural(outcome.requests, "request").c_str(),
                     human_bytes(outcome.bytes).c_str());
    }

    void on_warning(const std::string& message) override {
        if (m_quiet) {
            return;
        }
        clear_line();
        print_warning(message);
        draw(true);
    }

    // From the HTTP client: a wait before a retry.
    void on_retry_wait(const sync::RetryWait& wait) {
        if (m_quiet) {
            return;
        }
        const std::string why = wait.server_asked ? "Hydra asked to retry later" : wait.reason;
        if (!m_terminal) {
            if (m_verbose && wait.remaining == wait.delay) { // once per wait
                std::fprintf(stderr, "waiting %s: %s (try %d of %d)\n",
                             wait_text(wait.delay).c_str(), why.c_str(), wait.next_try,
                             wait.max_tries);
            }
            return;
        }
        m_wait = wait.remaining.count() > 0 ? "waiting " + wait_text(wait.remaining) + ": " + why
                                            : std::string();
        draw(true);
    }

    void clear_line() {
        if (m_drawn) {
            std::fputs("\r\x1b[K", stderr);
            std::fflush(stderr);
            m_drawn = false;
        }
    }

private:
    // "3 s", rounded up: a wait of 0.2 s is "1 s", not "0 s".
    static std::string wait_text(std::chrono::milliseconds duration) {
        return std::to_string((duration.count() + 999) / 1000) + " s";
    }

    std::string line() const {
        if (!m_wait.empty()) {
            return m_wait;
        }
        if (!m_has_progress) {
            return {};
        }
        // What changes most comes first: a narrow terminal cuts the end.
        std::string text = m_jobset + ": " + m_eval + ", " + plural(m_builds, "build");
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - m_eval_start).count();
        if (seconds >= 1 && m_builds > 0) {
            char rate[32];
            std::snprintf(rate, sizeof rate, ", %.0f builds/s",
                          static_cast<double>(m_builds) / seconds);
            text += rate;
        }
        return text + ", " + plural(m_requests, "request") + ", " + human_bytes(m_bytes);
    }

    // Redraws the line: at most every 100 ms unless forced.
    void draw(bool force) {
        if (m_quiet || !m_terminal) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - m_last_draw < std::chrono::milliseconds(100)) {
            return;
        }
        m_last_draw = now;
        const std::string text = line();
        if (text.empty()) {
            clear_line();
            return;
        }
        // One column short of the width: a line that fills the last column
        // wraps on some terminals, and "\r" then goes back to the wrong row.
        const size_t width = terminal_columns(STDERR_FILENO).value_or(80);
        std::fprintf(stderr, "\r\x1b[K%s", cut_end(text, width > 1 ? width - 1 : 1).c_str());
        std::fflush(stderr);
        m_drawn = true;
    }

    bool m_quiet;
    bool m_terminal;
    bool m_verbose;
    bool m_drawn = false;
    bool m_has_progress = false; // since the jobset started
    std::string m_jobset;
    std::string m_eval;
    uint64_t m_builds = 0;
    uint64_t m_bytes = 0;
    uint64_t m_requests = 0;
    std::string m_wait; // while waiting to retry
    std::chrono::steady_clock::time_point m_eval_start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point m_last_draw{};
};

// Whether stderr is a terminal that a redrawn line works on (not TERM=dumb).
bool stderr_is_terminal() {
    const char* term = std::getenv("TERM");
    return ::isatty(STDERR_FILENO) == 1 && !(term != nullptr && std::string_view(term) == "dumb");
}

bool is_jobset_name(std::string_view name) {
    if (name.empty() || name.size() > 200) {
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return name != "." && name != "..";
}

std::pair<std::string, std::string> parse_jobset(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos || !is_jobset_name(text.substr(0, colon)) ||
        !is_jobset_name(text.substr(colon + 1))) {
        throw UsageError("invalid jobset " + quote(text) +
                         " (expected PROJECT:JOBSET of [A-Za-z0-9_.-])");
    }
    return {text.substr(0, colon), text.substr(colon + 1)};
}

std::string normalize_url(std::string url, const std::string& origin) {
    while (url.ends_with('/')) {
        url.pop_back();
    }
    if (!url.starts_with("https://") && !url.starts_with("http://")) {
        throw UsageError(origin + ": url: expected http:// or https://, got " +
                         quote(core::redact_url(url)));
    }
    if (url.find_first_of(" \t\r\n?#") != std::string::npos) {
        throw UsageError(origin + ": url: invalid URL " + quote(core::redact_url(url)) +
                         " (no query, fragment or blanks)");
    }
    return url;
}

std::string millis_text(std::chrono::milliseconds value) {
    return std::to_string(value.count()) + " ms";
}

// -v: what the HTTP client and the syncer were given, and from where.
void print_effective(const Settings& s, const sync::HttpOptions& http,
                     const sync::SyncOptions& sync, const std::string& max_body_origin) {
    const auto line = [](const char* key, const std::string& value, const std::string& origin) {
        std::fprintf(stderr, "hydra-status: sync: %s = %s (%s)\n", key, value.c_str(),
                     origin.c_str());
    };
    line("url", core::redact_url(sync.url), s.origin("url"));
    line("user-agent", http.user_agent, "built in");
    line("min-interval", millis_text(http.min_interval), s.origin("min-interval"));
    line("max-in-flight", std::to_string(http.max_in_flight), s.origin("max-in-flight"));
    line("max-tries", std::to_string(http.max_tries), s.origin("max-tries"));
    line("backoff-ceiling", millis_text(http.backoff_ceiling), s.origin("backoff-ceiling"));
    line("connect-timeout", std::to_string(http.connect_timeout.count()) + " s",
         s.origin("connect-timeout"));
    line("timeout", std::to_string(http.total_timeout.count()) + " s", s.origin("timeout"));
    line("max-requests", std::to_string(sync.max_requests), s.origin("max-requests"));
    line("max-body", std::to_string(http.max_body_bytes) + " bytes", max_body_origin);
    line("by-id-max", std::to_string(sync.by_id_max), s.origin("by-id-max"));
    line("recheck-interval", std::to_string(sync.recheck_interval) + " s",
         s.origin("recheck-interval"));
    line("max-evals", std::to_string(sync.max_evals), s.origin("max-evals"));
}

} // namespace

int sync_command(Context& ctx) {
    if (!ctx.args.empty()) {
        throw UsageError("sync takes no arguments (got " + quote(ctx.args.front()) + ")");
    }
    const auto& s = ctx.settings;
    std::vector<std::string> names;
    if (ctx.options.count("jobset")) {
        names = ctx.options["jobset"].as<std::vector<std::string>>();
    } else {
        names = s.get_list("jobsets");
    }
    if (names.empty()) {
        throw UsageError("no jobsets to sync: give --jobset PROJECT:JOBSET or set 'jobsets' in " +
                         s.config_path());
    }
    sync::SyncOptions options;
    for (const auto& name : names) {
        auto jobset = parse_jobset(name);
        if (std::find(options.jobsets.begin(), options.jobsets.end(), jobset) ==
            options.jobsets.end()) {
            options.jobsets.push_back(std::move(jobset));
        }
    }
    options.url = normalize_url(s.get("url"), s.origin("url"));
    options.max_evals = static_cast<int>(s.get_int("max-evals", 1, 1000));
    options.recheck_interval = s.get_seconds("recheck-interval");
    options.by_id_max = static_cast<size_t>(s.get_int("by-id-max", 0, 100'000));
    options.max_requests = static_cast<uint64_t>(s.get_int("max-requests", 1, 100'000'000));
    options.stop = &g_stop;

    sync::HttpOptions http_options;
    http_options.user_agent =
        std::string("hydra-status/") + HS_VERSION + " (+" + HS_PROJECT_URL + ")";
    http_options.read_error_body = sync::parse_error_body;
    http_options.min_interval = std::chrono::milliseconds(s.get_millis("min-interval"));
    http_options.max_in_flight = static_cast<int>(s.get_int("max-in-flight", 1, 2));
    http_options.max_tries = static_cast<int>(s.get_int("max-tries", 1, 100));
    http_options.backoff_ceiling = std::chrono::milliseconds(s.get_millis("backoff-ceiling"));
    // The first retry waits up to a second, or up to the ceiling if lower.
    http_options.backoff_base = std::min(http_options.backoff_base, http_options.backoff_ceiling);
    http_options.connect_timeout =
        std::chrono::seconds(std::max<int64_t>(1, s.get_seconds("connect-timeout")));
    http_options.total_timeout =
        std::chrono::seconds(std::max<int64_t>(1, s.get_seconds("timeout")));
    http_options.max_requests =
        sync::request_cap(options.max_requests, options.by_id_max, http_options.max_tries);
    std::string max_body_origin = "default";
    if (settings_know(k_max_body_key)) {
        http_options.max_body_bytes =
            parse_size(s.get(k_max_body_key), s.origin(k_max_body_key) + ": max-body");
        max_body_origin = s.origin(k_max_body_key);
    } else if (ctx.options.count(k_max_body_key)) {
        http_options.max_body_bytes =
            parse_size(ctx.options[k_max_body_key].as<std::string>(), "command line: max-body");
        max_body_origin = "command line";
    } else {
        http_options.max_body_bytes = parse_size(k_max_body_default, "max-body");
    }
    http_options.insecure = s.get_bool("insecure");
    http_options.stop = &g_stop;
    if (http_options.insecure) {
        print_warning("TLS certificate verification is off ('insecure' from " +
                      s.origin("insecure") + ")");
    }
    if (ctx.verbose > 0) {
        print_effective(s, http_options, options, max_body_origin);
    }

    const std::string db = s.get("db");
    if (s.origin("db") == "default") {
        std::filesystem::create_directories(std::filesystem::path(db).parent_path());
    } else if (const auto dir = std::filesystem::path(db).parent_path();
               !dir.empty() && !std::filesystem::is_directory(dir)) {
        std::error_code ec;
        const bool exists = std::filesystem::exists(dir, ec);
        throw Error("cannot create index " + db + ": " + dir.string() +
                    (exists ? " is not a directory" : " does not exist"));
    }
    index::SyncLock lock(db);
    auto index = index::IndexWriter::open(db);
    install_signal_handlers();

    const bool quiet = ctx.options.count("quiet") > 0;
    Progress progress(quiet, stderr_is_terminal(), ctx.verbose > 0);
    http_options.on_retry_wait = [&progress](const sync::RetryWait& wait) {
        progress.on_retry_wait(wait);
    };
    sync::HttpClient http(http_options);
    const auto start = std::chrono::steady_clock::now();
    const auto summary = sync::run_sync(index, http, options, progress);
    progress.clear_line();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    size_t evals = 0;
    size_t completed = 0;
    size_t failed = 0;
    uint64_t builds = 0;
    uint64_t rechecked = 0;
    bool blocked = false;
    for (const auto& outcome : summary.jobsets) {
        evals += outcome.evals;
        builds += outcome.builds;
        rechecked += outcome.rechecked;
        completed += outcome.completed ? 1 : 0;
        failed += outcome.ok ? 0 : 1;
        blocked = blocked || outcome.failure == sync::Failure::blocked;
    }
    if (!quiet) {
        const std::string failures =
            failed > 0 ? " (" + std::to_string(failed) + " failed)" : std::string();
        const std::string rechecks =
            rechecked > 0 ? ", " + std::to_string(rechecked) + " re-checked" : std::string();
        std::fprintf(stderr, "synced %zu of %s%s: %s, %s%s; %s, %s in %.1f s\n", completed,
                     plural(options.jobsets.size(), "jobset").c_str(), failures.c_str(),
                     plural(evals, "eval").c_str(), plural(builds, "build").c_str(),
                     rechecks.c_str(), plural(summary.requests, "request").c_str(),
                     human_bytes(summary.bytes).c_str(), seconds);
    }
    if (blocked) {
        std::fprintf(stderr,
                     "hydra-status: hint: %s answered with an HTML page instead of JSON, which is "
                     "how the bot filter in front of hydra.nixos.org turns away clients it "
                     "dislikes; nothing of it was ingested. This client identifies itself as "
                     "'%s'; if this persists, check --url and ask the Hydra operators\n",
                     core::redact_url(options.url).c_str(), http_options.user_agent.c_str());
    }
    if (summary.stopped == sync::StopReason::signal || g_stop.load()) {
        const int signo = g_signal.load();
        std::fprintf(stderr,
                     "hydra-status: interrupted by %s; the eval in progress was rolled back, "
                     "every eval committed before it is kept\n",
                     signal_name(signo));
        return 128 + (signo > 0 ? signo : SIGINT);
    }
    if (summary.stopped == sync::StopReason::budget) {
        std::fprintf(stderr,
                     "hydra-status: note: request budget of %llu spent (%llu requests); stopped "
                     "after the current eval, the next sync continues\n",
                     static_cast<unsigned long long>(options.max_requests),
                     static_cast<unsigned long long>(summary.requests));
    }
    return summary.all_ok() ? 0 : static_cast<int>(ExitCode::failure);
}

// This is hydra-status-sync: sync runs here.
void sync_handoff(char** /*argv*/) {}

} // namespace hs::cli
