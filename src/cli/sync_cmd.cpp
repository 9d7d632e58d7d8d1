#include "cli/commands.hpp"
#include "core/error.hpp"
#include "index/index.hpp"
#include "index/lock.hpp"
#include "sync/syncer.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>

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
    action.sa_flags = 0; // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

std::string human_bytes(uint64_t bytes) {
    char buf[32];
    if (bytes < 1024) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    } else if (bytes < 1024 * 1024) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024 * 1024));
    }
    return buf;
}

// Progress on stderr: a redrawn line on a TTY, one plain line per eval
// otherwise (cron, systemd: journald-friendly), nothing with --quiet.
class Progress : public sync::SyncObserver {
public:
    Progress(bool quiet, bool tty) : m_quiet(quiet), m_tty(tty) {}

    void on_jobset_start(const std::string& jobset, size_t new_evals) override {
        if (!m_quiet && !m_tty) {
            std::fprintf(stderr, "%s: %zu new eval%s\n", jobset.c_str(), new_evals,
                         new_evals == 1 ? "" : "s");
        }
    }

    void on_progress(const std::string& jobset, size_t eval_index, size_t eval_count,
                     uint64_t builds, uint64_t bytes, uint64_t requests) override {
        if (m_quiet || !m_tty) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - m_last_draw < std::chrono::milliseconds(100)) {
            return;
        }
        m_last_draw = now;
        const double seconds = std::chrono::duration<double>(now - m_start).count();
        const std::string evals =
            eval_count ? "eval " + std::to_string(eval_index + 1) + "/" + std::to_string(eval_count)
                       : std::string("re-check");
        std::fprintf(stderr, "\r\x1b[K%s: %s, %llu builds, %s, %llu requests, %.0f builds/s",
                     jobset.c_str(), evals.c_str(), static_cast<unsigned long long>(builds),
                     human_bytes(bytes).c_str(), static_cast<unsigned long long>(requests),
                     seconds > 0 ? static_cast<double>(builds) / seconds : 0.0);
        m_drawn = true;
    }

    void on_eval_done(const std::string& jobset, int64_t eval_id, uint64_t builds,
                      const std::string& method) override {
        if (m_quiet) {
            return;
        }
        clear_line();
        std::fprintf(stderr, "%s: eval %lld: %llu builds (%s)\n", jobset.c_str(),
                     static_cast<long long>(eval_id), static_cast<unsigned long long>(builds),
                     method.c_str());
    }

    void on_warning(const std::string& message) override {
        clear_line();
        print_warning(message);
    }

    void clear_line() {
        if (m_drawn) {
            std::fputs("\r\x1b[K", stderr);
            m_drawn = false;
        }
    }

private:
    bool m_quiet;
    bool m_tty;
    bool m_drawn = false;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point m_last_draw{};
};

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
        throw UsageError(origin + ": url: expected http:// or https://, got " + quote(url));
    }
    if (url.find_first_of(" \t\r\n?#") != std::string::npos) {
        throw UsageError(origin + ": url: invalid URL " + quote(url));
    }
    return url;
}

} // namespace

void sync_options(po::options_description& desc) {
    desc.add_options() //
        ("jobset", po::value<std::vector<std::string>>()->value_name("PROJECT:JOBSET"),
         "a jobset to sync; repeatable (default: config key 'jobsets')") //
        ("quiet,q", "no progress or summary on stderr");
    for (const auto& spec : setting_specs()) {
        const std::string key = spec.key;
        if (key == "db" || key == "url" || key == "jobsets" || key == "local-ttl" ||
            key == "policy") {
            continue;
        }
        if (key == "insecure") {
            desc.add_options()(spec.key, po::bool_switch(), spec.help);
        } else {
            desc.add_options()(spec.key, po::value<std::string>()->value_name("VALUE"), spec.help);
        }
    }
}

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
        options.jobsets.push_back(parse_jobset(name));
    }
    options.url = normalize_url(s.get("url"), s.origin("url"));
    options.max_evals = static_cast<int>(s.get_int("max-evals", 1, 1000));
    options.recheck_interval = s.get_seconds("recheck-interval");
    options.by_id_max = static_cast<size_t>(s.get_int("by-id-max", 0, 100'000));

    sync::HttpOptions http_options;
    http_options.user_agent =
        std::string("hydra-status/") + HS_VERSION + " (+" + HS_PROJECT_URL + ")";
    http_options.min_interval = std::chrono::milliseconds(s.get_millis("min-interval"));
    http_options.max_in_flight = static_cast<int>(s.get_int("max-in-flight", 1, 2));
    http_options.max_tries = static_cast<int>(s.get_int("max-tries", 1, 100));
    http_options.backoff_ceiling = std::chrono::milliseconds(s.get_millis("backoff-ceiling"));
    http_options.connect_timeout =
        std::chrono::seconds(std::max<int64_t>(1, s.get_seconds("connect-timeout")));
    http_options.total_timeout =
        std::chrono::seconds(std::max<int64_t>(1, s.get_seconds("timeout")));
    http_options.max_requests = static_cast<uint64_t>(s.get_int("max-requests", 1, 100'000'000));
    http_options.insecure = s.get_bool("insecure");
    http_options.stop = &g_stop;
    if (http_options.insecure) {
        print_warning("TLS certificate verification is off ('insecure' from " +
                      s.origin("insecure") + ")");
    }

    const std::string db = s.get("db");
    if (s.origin("db") == "default") {
        std::filesystem::create_directories(std::filesystem::path(db).parent_path());
    } else if (const auto dir = std::filesystem::path(db).parent_path();
               !dir.empty() && !std::filesystem::is_directory(dir)) {
        throw Error("cannot create index " + db + ": directory " + dir.string() +
                    " does not exist");
    }
    index::SyncLock lock(db);
    auto index = index::Index::open_read_write(db);
    install_signal_handlers();

    const bool quiet = ctx.options.count("quiet") > 0;
    Progress progress(quiet, ::isatty(STDERR_FILENO) == 1);
    sync::HttpClient http(http_options);
    const auto start = std::chrono::steady_clock::now();
    const auto summary = sync::run_sync(index, http, options, progress);
    progress.clear_line();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    size_t evals = 0;
    uint64_t builds = 0;
    for (const auto& outcome : summary.jobsets) {
        evals += outcome.evals;
        builds += outcome.builds + outcome.rechecked;
        if (!outcome.ok) {
            print_error(outcome.jobset + ": " + outcome.error);
        }
    }
    if (!quiet) {
        std::fprintf(
            stderr,
            "synced %zu of %zu jobsets: %zu evals, %llu builds; %llu requests, %s in "
            "%.1f s\n",
            static_cast<size_t>(std::count_if(summary.jobsets.begin(), summary.jobsets.end(),
                                              [](const auto& j) { return j.ok; })) -
                (summary.stopped != sync::StopReason::none ? 1 : 0),
            options.jobsets.size(), evals, static_cast<unsigned long long>(builds),
            static_cast<unsigned long long>(summary.requests), human_bytes(summary.bytes).c_str(),
            seconds);
    }
    if (summary.stopped == sync::StopReason::budget) {
        std::fprintf(stderr,
                     "hydra-status: note: request budget of %llu spent; the next sync continues\n",
                     static_cast<unsigned long long>(http_options.max_requests));
        return summary.all_ok() ? 0 : static_cast<int>(ExitCode::failure);
    }
    if (summary.stopped == sync::StopReason::signal) {
        std::fprintf(stderr, "hydra-status: interrupted; the current eval was rolled back\n");
        return 128 + g_signal.load();
    }
    return summary.all_ok() ? 0 : static_cast<int>(ExitCode::failure);
}

} // namespace hs::cli
