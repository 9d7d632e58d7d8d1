#include "cli/sync_cmd.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/snapshot_cmd.hpp"
#include "cli/sync_seam.hpp"
#include "core/error.hpp"
#include "core/url.hpp"
#include "index/index.hpp"
#include "index/lock.hpp"
#include "sync/hydra_json.hpp"
#include "sync/snapshot_fetch.hpp"
#include "sync/syncer.hpp"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>
#include <system_error>

namespace hs::cli {

namespace {

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

// Progress on stderr. On a terminal: one line redrawn in place (cut to the
// terminal's width, so that no half-line stays behind), showing the eval in
// progress, its builds so far and waits before a retry, then one line per
// jobset. Otherwise (cron, systemd: journald-friendly) plain lines: one per
// eval and one per jobset, and with -v one per wait. With --quiet nothing but
// errors.
class Progress : public sync::SyncObserver {
public:
    Progress(bool quiet, bool terminal, bool verbose, std::chrono::milliseconds min_interval)
        : m_quiet(quiet), m_terminal(terminal), m_verbose(verbose), m_min_interval(min_interval) {}

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

    void on_eval_incomplete(const std::string& jobset, int64_t eval_id, uint64_t have,
                            uint64_t members, uint64_t remaining) override {
        if (m_quiet) {
            return;
        }
        clear_line();
        std::fprintf(stderr, "%s\n",
                     incomplete_eval_text(jobset, eval_id, have, members, remaining, m_min_interval)
                         .c_str());
        draw(true);
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
    std::chrono::milliseconds m_min_interval; // the pace of requests, for estimates
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

std::string millis_text(std::chrono::milliseconds value) {
    return std::to_string(value.count()) + " ms";
}

// -v: what the HTTP client and the syncer were given, and from where.
void print_effective(const Settings& s, const sync::HttpOptions& http,
                     const sync::SyncOptions& sync) {
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
    line("max-body", std::to_string(http.max_body_bytes) + " bytes", s.origin("max-body"));
    line("by-id-max", std::to_string(sync.by_id_max), s.origin("by-id-max"));
    line("recheck-interval", std::to_string(sync.recheck_interval) + " s",
         s.origin("recheck-interval"));
    line("eval-builds-retry", std::to_string(sync.eval_builds_retry) + " s",
         s.origin("eval-builds-retry"));
    line("max-evals", std::to_string(sync.max_evals), s.origin("max-evals"));
}

std::vector<std::string> given_jobsets(const Context& ctx) {
    return ctx.options.count("jobset") ? ctx.options["jobset"].as<std::vector<std::string>>()
                                       : std::vector<std::string>{};
}

// Warnings about the settings in use, before anything is sent.
void warn_about_settings(const Settings& settings, bool quiet) {
    if (settings.values().insecure) {
        print_warning("TLS certificate verification is off ('insecure' from " +
                      settings.origin("insecure") + ")");
    }
    if (const auto warning = max_in_flight_warning(settings); !warning.empty() && !quiet) {
        print_warning(warning);
    }
}

// The index's directory: made for the default path, else it must exist.
void prepare_index_dir(const Settings& settings) {
    const auto& db = settings.values().db;
    const auto dir = std::filesystem::path(db).parent_path();
    if (settings.origin_kind("db") == OriginKind::default_value) {
        std::filesystem::create_directories(dir);
    } else if (!dir.empty() && !std::filesystem::is_directory(dir)) {
        std::error_code ec;
        const bool exists = std::filesystem::exists(dir, ec);
        throw Error("cannot create index " + db + ": " + dir.string() +
                    (exists ? " is not a directory" : " does not exist"));
    }
}

void print_blocked_hint(const sync::SyncOptions& options, const sync::HttpOptions& http) {
    std::fprintf(stderr,
                 "hydra-status: hint: %s answered with an HTML page instead of JSON, which is "
                 "how the bot filter in front of hydra.nixos.org turns away clients it "
                 "dislikes; nothing of it was ingested. This client identifies itself as "
                 "'%s'; if this persists, check --url and ask the Hydra operators\n",
                 core::redact_url(options.url).c_str(), http.user_agent.c_str());
}

// The notes after the summary, and the exit code: 128+N after signal N, 1
// when a jobset failed, else 0 (a spent budget too).
int finish_sync(const sync::SyncSummary& summary, const SyncTotals& totals,
                const sync::SyncOptions& options, const sync::HttpOptions& http) {
    if (totals.blocked) {
        print_blocked_hint(options, http);
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
                     "after the current step, the next sync continues\n",
                     static_cast<unsigned long long>(options.max_requests),
                     static_cast<unsigned long long>(summary.requests));
    }
    return summary.all_ok() ? 0 : static_cast<int>(ExitCode::failure);
}

int64_t whole_seconds(std::chrono::milliseconds duration) {
    return std::chrono::duration_cast<std::chrono::seconds>(duration).count();
}

} // namespace

namespace {

// "250,000".
std::string grouped(uint64_t count) {
    std::string digits = std::to_string(count);
    for (size_t at = digits.size(); at > 3; at -= 3) {
        digits.insert(at - 3, ",");
    }
    return digits;
}

// "about 40 minutes", "about 5 hours", "about 3 days".
std::string about(double seconds) {
    const auto rounded = [](double value, std::string_view unit) {
        const auto count = static_cast<uint64_t>(std::max(1.0, std::round(value)));
        return "about " + plural(count, unit);
    };
    if (seconds < 90 * 60) {
        return rounded(seconds / 60, "minute");
    }
    if (seconds < 36 * 3600) {
        return rounded(seconds / 3600, "hour");
    }
    return rounded(seconds / 86'400, "day");
}

// "1 request/s", "2 requests/s", "0.5 requests/s".
std::string pace(std::chrono::milliseconds interval) {
    const double per_second = 1000.0 / static_cast<double>(interval.count());
    char text[48];
    if (per_second == std::floor(per_second)) {
        std::snprintf(text, sizeof text, "%.0f request%s/s", per_second,
                      per_second == 1 ? "" : "s");
    } else {
        std::snprintf(text, sizeof text, "%.2g requests/s", per_second);
    }
    return text;
}

} // namespace

std::string incomplete_eval_text(const std::string& jobset, int64_t eval_id, uint64_t have,
                                 uint64_t members, uint64_t remaining,
                                 std::chrono::milliseconds min_interval) {
    constexpr size_t k_width = 79;
    std::vector<std::string> clauses{jobset + ": eval " + std::to_string(eval_id) + ": " +
                                     grouped(have) + " of " + grouped(members) + " builds"};
    if (min_interval.count() > 0) {
        const double seconds =
            static_cast<double>(remaining) * static_cast<double>(min_interval.count()) / 1000;
        clauses.push_back(about(seconds) + " more at " + pace(min_interval));
    } else {
        clauses.push_back(plural(remaining, "request") + " more");
    }
    clauses.emplace_back("a snapshot from a machine that has synced avoids this");
    std::string out;
    size_t column = 0;
    for (size_t i = 0; i < clauses.size(); ++i) {
        const std::string text = clauses[i] + (i + 1 < clauses.size() ? ";" : "");
        if (i > 0 && column + 1 + text.size() > k_width) {
            out += "\n  ";
            column = 2;
        } else if (i > 0) {
            out += " ";
            ++column;
        }
        out += text;
        column += text.size();
    }
    return out;
}

std::vector<core::JobsetName> jobsets_to_sync(const std::vector<std::string>& given,
                                              const std::vector<core::JobsetName>& configured,
                                              const std::string& config_path) {
    std::vector<core::JobsetName> names;
    const auto add = [&names](core::JobsetName name) {
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(std::move(name));
        }
    };
    for (const auto& text : given) {
        auto name = core::parse_jobset_name(text);
        if (!name) {
            throw UsageError(name.error());
        }
        add(std::move(*name));
    }
    if (given.empty()) {
        for (const auto& name : configured) {
            add(name);
        }
    }
    if (names.empty()) {
        throw UsageError("no jobsets to sync: give --jobset PROJECT:JOBSET or set 'jobsets' in " +
                         config_path);
    }
    return names;
}

sync::SyncOptions make_sync_options(const SettingValues& settings,
                                    const std::vector<core::JobsetName>& jobsets) {
    sync::SyncOptions options;
    for (const auto& name : jobsets) {
        options.jobsets.emplace_back(name.project, name.jobset);
    }
    options.url = settings.url;
    options.max_evals = static_cast<int>(settings.max_evals);
    options.recheck_interval = whole_seconds(settings.recheck_interval);
    options.by_id_max = static_cast<size_t>(settings.by_id_max);
    options.eval_builds_retry = whole_seconds(settings.eval_builds_retry);
    options.max_requests = static_cast<uint64_t>(settings.max_requests);
    return options;
}

sync::HttpOptions make_http_options(const SettingValues& settings,
                                    const sync::SyncOptions& sync_options) {
    sync::HttpOptions http;
    http.user_agent = std::string("hydra-status/") + HS_VERSION + " (+" + HS_PROJECT_URL + ")";
    http.read_error_body = sync::parse_error_body;
    http.min_interval = settings.min_interval;
    http.max_in_flight = static_cast<int>(settings.max_in_flight);
    http.max_tries = static_cast<int>(settings.max_tries);
    http.backoff_ceiling = settings.backoff_ceiling;
    // The first retry waits up to a second, or up to the ceiling if lower.
    http.backoff_base = std::min(http.backoff_base, http.backoff_ceiling);
    // libcurl's timeouts are whole seconds, at least one.
    http.connect_timeout =
        std::chrono::seconds(std::max<int64_t>(1, whole_seconds(settings.connect_timeout)));
    http.total_timeout =
        std::chrono::seconds(std::max<int64_t>(1, whole_seconds(settings.timeout)));
    http.max_requests = sync::request_cap(sync_options.max_requests, http.max_tries);
    http.max_body_bytes = settings.max_body;
    http.insecure = settings.insecure;
    return http;
}

int64_t sync_now(const char* value) {
    if (value == nullptr) {
        return 0;
    }
    const std::string_view text(value);
    int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seconds <= 0) {
        throw UsageError("HYDRA_STATUS_NOW: " + quote(text) +
                         " is not a time in unix seconds (a whole number above 0)");
    }
    return seconds;
}

std::string max_in_flight_warning(const Settings& settings) {
    if (settings.values().max_in_flight <= 1) {
        return "";
    }
    return "max-in-flight = " + settings.text("max-in-flight") + " (" +
           settings.origin("max-in-flight") + "): requests are sent one at a time";
}

SyncTotals sync_totals(const sync::SyncSummary& summary, size_t jobsets) {
    SyncTotals totals;
    totals.jobsets = jobsets;
    for (const auto& outcome : summary.jobsets) {
        totals.evals += outcome.evals;
        totals.builds += outcome.builds;
        totals.rechecked += outcome.rechecked;
        totals.completed += outcome.completed ? 1 : 0;
        totals.failed += outcome.ok ? 0 : 1;
        totals.blocked = totals.blocked || outcome.failure == sync::Failure::blocked;
    }
    return totals;
}

std::string sync_summary_line(const SyncTotals& totals, const sync::SyncSummary& summary,
                              double seconds) {
    const std::string failures =
        totals.failed > 0 ? " (" + std::to_string(totals.failed) + " failed)" : std::string();
    const std::string rechecks = totals.rechecked > 0
                                     ? ", " + std::to_string(totals.rechecked) + " re-checked"
                                     : std::string();
    char time[32];
    std::snprintf(time, sizeof time, " in %.1f s", seconds);
    return "synced " + std::to_string(totals.completed) + " of " +
           plural(totals.jobsets, "jobset") + failures + ": " + plural(totals.evals, "eval") +
           ", " + plural(totals.builds, "build") + rechecks + "; " +
           plural(summary.requests, "request") + ", " + human_bytes(summary.bytes) + time;
}

namespace {

// The hidden HYDRA_STATUS_TEST_KILL_AT=POINT: the pull kills itself with
// SIGKILL at that point (snapshot::PullHook), so that a test stops it there
// deterministically.
snapshot::PullHook test_kill_hook() {
    const char* at = std::getenv("HYDRA_STATUS_TEST_KILL_AT");
    if (!at || !*at) {
        return {};
    }
    const std::string point = at;
    return [point](const char* here) {
        if (point == here) {
            std::raise(SIGKILL);
        }
    };
}

// sync --from: brings the index up to a published snapshot; never contacts
// Hydra.
int pull_command(Context& ctx, bool quiet) {
    const auto& settings = ctx.settings.values();
    const auto source =
        pull_source(settings, ctx.options.count("no-verify") > 0, !given_jobsets(ctx).empty());
    if (!settings.publish.empty()) {
        throw UsageError("--publish and --from do not go together (publish from the machine "
                         "that syncs from Hydra)");
    }
    auto sync_options = make_sync_options(settings, {});
    auto http_options = make_http_options(settings, sync_options);
    http_options.stop = &g_stop;
    warn_about_settings(ctx.settings, quiet);
    prepare_index_dir(ctx.settings);
    index::SyncLock lock(settings.db);
    auto index = index::IndexWriter::open(settings.db);
    install_signal_handlers();
    std::unique_ptr<sync::HttpClient> http;
    std::unique_ptr<snapshot::Fetcher> fetcher;
    if (source.file) {
        fetcher = std::make_unique<snapshot::FileFetcher>(source.dir);
    } else {
        http = std::make_unique<sync::HttpClient>(http_options);
        std::string base = settings.from;
        while (base.ends_with('/')) {
            base.pop_back();
        }
        fetcher = std::make_unique<sync::HttpFetcher>(*http, base);
    }
    snapshot::PullOptions options;
    options.url = source.shown;
    options.trusted = source.trusted;
    options.verify = source.verify;
    const int64_t clock = sync_now(std::getenv("HYDRA_STATUS_NOW"));
    options.now = clock != 0 ? clock : unix_now();
    options.hook = test_kill_hook();
    const auto start = std::chrono::steady_clock::now();
    const auto result = snapshot::pull(index, *fetcher, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!quiet) {
        std::fprintf(stderr, "%s\n",
                     pull_summary_line(result, source.shown, fetcher->bytes(), fetcher->requests(),
                                       seconds, options.now)
                         .c_str());
    }
    return 0;
}

// Blocks of 1 MiB and more (the evals listing's buffers: tens of MB for a
// large eval) are mapped, so that freeing them gives them back rather than
// leave them in the heap for the rest of the sync; glibc's default threshold
// rises to each large block freed. 1M-build first sync: 164 -> 156 MB.
void map_large_blocks() {
    ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

} // namespace

int sync_command(Context& ctx) {
    if (!ctx.args.empty()) {
        throw UsageError("sync takes no arguments (got " + quote(ctx.args.front()) + ")");
    }
    map_large_blocks();
    const auto& settings = ctx.settings.values();
    const bool quiet = ctx.options.count("quiet") > 0;
    if (!settings.from.empty()) {
        return pull_command(ctx, quiet);
    }
    if (ctx.options.count("no-verify") > 0) {
        throw UsageError("--no-verify goes with --from file:///DIR only");
    }
    if (!settings.publish.empty()) {
        load_secret_key(settings); // before a long sync, not after it
    }
    auto options = make_sync_options(settings, jobsets_to_sync(given_jobsets(ctx), settings.jobsets,
                                                               ctx.settings.config_path()));
    // The sync's clock: HYDRA_STATUS_NOW is hidden, for tests and bench/day
    // (a simulated day advances it from run to run); see sync_now().
    options.now = sync_now(std::getenv("HYDRA_STATUS_NOW"));
    options.stop = &g_stop;
    auto http_options = make_http_options(settings, options);
    http_options.stop = &g_stop;
    warn_about_settings(ctx.settings, quiet);
    if (ctx.verbose > 0) {
        print_effective(ctx.settings, http_options, options);
    }
    prepare_index_dir(ctx.settings);
    index::SyncLock lock(settings.db);
    auto index = index::IndexWriter::open(settings.db);
    install_signal_handlers();

    Progress progress(quiet, stderr_is_terminal(), ctx.verbose > 0, http_options.min_interval);
    http_options.on_retry_wait = [&progress](const sync::RetryWait& wait) {
        progress.on_retry_wait(wait);
    };
    sync::HttpClient http(http_options);
    const auto start = std::chrono::steady_clock::now();
    const auto summary = sync::run_sync(index, http, options, progress);
    progress.clear_line();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto totals = sync_totals(summary, options.jobsets.size());
    if (!quiet) {
        std::fprintf(stderr, "%s\n", sync_summary_line(totals, summary, seconds).c_str());
    }
    const int code = finish_sync(summary, totals, options, http_options);
    if (!settings.publish.empty() && code == 0) {
        // What was committed is published; a failed or stopped sync
        // publishes at the next run.
        const std::string line =
            run_publish(settings, settings.publish, options.now != 0 ? options.now : unix_now());
        if (!quiet) {
            std::fprintf(stderr, "%s\n", line.c_str());
        }
    }
    return code;
}

// This is hydra-status-sync: sync runs here.
void sync_handoff(char** /*argv*/) {}

} // namespace hs::cli
