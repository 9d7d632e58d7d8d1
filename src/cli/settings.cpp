#include "cli/settings.hpp"

#include "core/config_file.hpp"
#include "core/error.hpp"
#include "core/url.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace hs::cli {

const std::vector<SettingSpec>& setting_specs() {
    using enum SettingKind;
    static const std::vector<SettingSpec> specs{
        {"db", "$STATE/hydra-status/index.sqlite", "HYDRA_STATUS_DB", "the index file", path},
        {"url", "https://hydra.nixos.org", "HYDRA_STATUS_URL", "the Hydra instance", url},
        {"jobsets", "", nullptr, "jobsets to sync, space-separated PROJECT:JOBSET", jobsets},
        {"max-evals", "1", nullptr, "newest evals ingested on a jobset's first sync", count, 1,
         1000},
        {"max-requests", "10000", nullptr, "request budget of one sync run", count, 1, 100'000'000},
        {"min-interval", "1s", nullptr, "least time between request starts", duration},
        // The client sends one request at a time (sync/http.cpp); 2 is the
        // most the contract's politeness allows and is accepted.
        {"max-in-flight", "1", nullptr,
         "most requests in flight to one host, 1 or 2 (the client sends one at a time)", count, 1,
         2},
        {"max-tries", "6", nullptr, "tries of one request on transient errors", count, 1, 100},
        {"backoff-ceiling", "5m", nullptr, "longest backoff between tries", duration},
        {"connect-timeout", "30s", nullptr, "connection timeout", duration},
        {"timeout", "15m", nullptr, "total timeout of one request", duration},
        {"by-id-max", "100", nullptr,
         "most builds of an eval fetched one by one before using /eval/<id>/builds", count, 0,
         100'000},
        {"recheck-interval", "24h", nullptr, "how often the newest eval is re-read for restarts",
         duration},
        {"local-ttl", "7d", nullptr, "how long a local failure record counts", duration},
        {"policy", "fail", nullptr, "gate policy: fail or warn", policy},
        {"insecure", "false", nullptr, "do not verify TLS certificates (warns on every use)",
         boolean},
        {"max-body", "4GiB", nullptr, "largest answer accepted, after decompression", size},
        {"stale-after", "48h", nullptr,
         "lookups warn when a jobset's last sync is older than this (0: never)", duration},
    };
    return specs;
}

namespace {

std::string xdg_dir(const char* var, const char* fallback) {
    if (const char* value = std::getenv(var); value && *value == '/') {
        return value;
    }
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/") + "/" + fallback;
}

std::string expand_default(std::string value) {
    if (value.starts_with("$STATE")) {
        return xdg_dir("XDG_STATE_HOME", ".local/state") + value.substr(6);
    }
    if (value.starts_with("$CONFIG")) {
        return xdg_dir("XDG_CONFIG_HOME", ".config") + value.substr(7);
    }
    return value;
}

// Reads a whole file; returns 0 or the errno that stopped it (EISDIR for a
// directory).
int read_whole_file(const std::string& path, std::string& out) {
    struct Fd {
        int fd;
        ~Fd() {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    } file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) {
        return errno;
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        return errno;
    }
    if (S_ISDIR(st.st_mode)) {
        return EISDIR;
    }
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(file.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        if (n == 0) {
            return 0;
        }
        out.append(buf, static_cast<size_t>(n));
    }
}

std::string duration_problem(const std::string& text) {
    return "invalid duration " + quote(text) + " (expected e.g. 90, 90s, 500ms, 15m, 24h, 7d)";
}

std::string count_problem(const std::string& text, int64_t min, int64_t max) {
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value < min || value > max) {
        return "expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got " + quote(text);
    }
    return "";
}

std::optional<bool> parse_bool(const std::string& text) {
    if (text == "true" || text == "yes" || text == "1") {
        return true;
    }
    if (text == "false" || text == "no" || text == "0") {
        return false;
    }
    return std::nullopt;
}

// As sync_cmd.cpp's normalize_url: trailing slashes are dropped.
std::string url_problem(std::string url) {
    while (url.ends_with('/')) {
        url.pop_back();
    }
    if (!url.starts_with("https://") && !url.starts_with("http://")) {
        return "expected http:// or https://, got " + quote(core::redact_url(url));
    }
    if (url.find_first_of(" \t\r\n?#") != std::string::npos) {
        return "invalid URL " + quote(core::redact_url(url)) + " (no query, fragment or blanks)";
    }
    return "";
}

// As sync_cmd.cpp's parse_jobset: PROJECT:JOBSET, each of [A-Za-z0-9_.-].
bool is_jobset(const std::string& text) {
    const auto is_name = [](std::string_view name) {
        if (name.empty() || name.size() > 200 || name == "." || name == "..") {
            return false;
        }
        return std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || c == '.';
        });
    };
    const auto colon = text.find(':');
    return colon != std::string::npos && is_name(std::string_view(text).substr(0, colon)) &&
           is_name(std::string_view(text).substr(colon + 1));
}

// As sync_cmd.cpp's parse_size: "1000000", "64KiB", "4GiB", "64MB", ...;
// at least one byte, at most 2^50.
bool size_ok(const std::string& text) {
    uint64_t number = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
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
    return ec == std::errc{} && ptr != text.data() && factor != 0 && number != 0 &&
           number <= k_max / factor;
}

const SettingSpec* find_spec(const std::string& key) {
    for (const auto& spec : setting_specs()) {
        if (key == spec.key) {
            return &spec;
        }
    }
    return nullptr;
}

} // namespace

std::optional<int64_t> try_parse_millis(const std::string& text) {
    double number = 0;
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, number);
    const std::string unit(ptr, end);
    double factor = 0;
    if (unit.empty() || unit == "s") {
        factor = 1000;
    } else if (unit == "ms") {
        factor = 1;
    } else if (unit == "m") {
        factor = 60'000;
    } else if (unit == "h") {
        factor = 3'600'000;
    } else if (unit == "d") {
        factor = 86'400'000;
    }
    if (ec != std::errc{} || ptr == begin || factor == 0 || number < 0 || number > 1e9) {
        return std::nullopt;
    }
    return static_cast<int64_t>(number * factor);
}

int64_t parse_millis(const std::string& text, const std::string& what) {
    const auto millis = try_parse_millis(text);
    if (!millis) {
        throw UsageError(what + ": " + duration_problem(text));
    }
    return *millis;
}

std::string setting_problem(const std::string& key, const std::string& value) {
    const auto* spec = find_spec(key);
    if (!spec) {
        return "unknown key";
    }
    switch (spec->kind) {
    case SettingKind::path:
        return value.empty() ? "the path is empty" : "";
    case SettingKind::url:
        return url_problem(value);
    case SettingKind::jobsets: {
        std::istringstream words(value);
        for (std::string word; words >> word;) {
            if (!is_jobset(word)) {
                return "invalid jobset " + quote(word) +
                       " (expected PROJECT:JOBSET of [A-Za-z0-9_.-])";
            }
        }
        return "";
    }
    case SettingKind::count:
        return count_problem(value, spec->min, spec->max);
    case SettingKind::duration:
        return try_parse_millis(value) ? "" : duration_problem(value);
    case SettingKind::size:
        return size_ok(value)
                   ? ""
                   : "invalid size " + quote(value) + " (expected e.g. 1000000, 64MiB, 4GiB)";
    case SettingKind::boolean:
        return parse_bool(value) ? "" : "expected true or false, got " + quote(value);
    case SettingKind::policy:
        return value == "warn" || value == "fail" ? ""
                                                  : "expected warn or fail, got " + quote(value);
    }
    return "";
}

Settings Settings::load(const std::map<std::string, std::string>& command_line,
                        const std::string& config_from_command_line) {
    Settings settings;
    for (const auto& spec : setting_specs()) {
        settings.set(spec.key, expand_default(spec.default_value), "default",
                     OriginKind::default_value);
    }
    const char* system_env = std::getenv(k_system_config_env);
    settings.read_file(system_env && *system_env ? system_env : k_system_config,
                       OriginKind::system_file, false);

    std::string config = config_from_command_line;
    bool named = !config.empty();
    if (!named) {
        if (const char* env = std::getenv("HYDRA_STATUS_CONFIG"); env && *env) {
            config = env;
            named = true;
        } else {
            config = expand_default("$CONFIG/hydra-status/config");
        }
    }
    settings.m_config_path = config;
    settings.read_file(config, OriginKind::user_file, named);

    for (const auto& spec : setting_specs()) {
        if (spec.env) {
            if (const char* value = std::getenv(spec.env); value && *value) {
                settings.set(spec.key, value, std::string("environment ") + spec.env,
                             OriginKind::environment);
            }
        }
    }
    for (const auto& [key, value] : command_line) {
        settings.set(key, value, "command line", OriginKind::command_line);
    }
    if (settings.get("db").empty()) {
        throw UsageError(settings.origin("db") + ": --db (db): the index path is empty");
    }
    return settings;
}

// A file that does not exist is skipped unless it was named; any other
// failure to read it (a directory, no permission) is an error, so that a
// broken config never goes unnoticed.
void Settings::read_file(const std::string& path, OriginKind kind, bool must_exist) {
    std::string text;
    if (const int error = read_whole_file(path, text); error != 0) {
        if (!must_exist && (error == ENOENT || error == ENOTDIR)) {
            m_files.push_back({path, kind, false});
            return;
        }
        throw UsageError(path + ": cannot read config file: " + std::strerror(error));
    }
    m_files.push_back({path, kind, true});
    for (const auto& entry : core::parse_config(text, path)) {
        if (!find_spec(entry.key)) {
            throw UsageError(path + ":" + std::to_string(entry.line) + ": unknown key " +
                             quote(entry.key));
        }
        set(entry.key, entry.value, path + ":" + std::to_string(entry.line), kind);
    }
}

void Settings::set(const std::string& key, const std::string& value, const std::string& origin,
                   OriginKind kind) {
    m_values[key] = Value{value, origin, kind};
}

const std::string& Settings::get(const std::string& key) const {
    return m_values.at(key).value;
}

const std::string& Settings::origin(const std::string& key) const {
    return m_values.at(key).origin;
}

OriginKind Settings::origin_kind(const std::string& key) const {
    return m_values.at(key).kind;
}

const char* origin_kind_name(OriginKind kind) {
    switch (kind) {
    case OriginKind::default_value:
        return "default";
    case OriginKind::system_file:
        return "system-file";
    case OriginKind::user_file:
        return "user-file";
    case OriginKind::environment:
        return "environment";
    case OriginKind::command_line:
        break;
    }
    return "command-line";
}

int64_t Settings::get_int(const std::string& key, int64_t min, int64_t max) const {
    const auto& text = get(key);
    if (const auto problem = count_problem(text, min, max); !problem.empty()) {
        throw UsageError(origin(key) + ": " + key + ": " + problem);
    }
    int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

int64_t Settings::get_millis(const std::string& key) const {
    return parse_millis(get(key), origin(key) + ": " + key);
}

bool Settings::get_bool(const std::string& key) const {
    const auto& text = get(key);
    if (const auto value = parse_bool(text)) {
        return *value;
    }
    throw UsageError(origin(key) + ": " + key + ": expected true or false, got " + quote(text));
}

std::vector<std::string> Settings::get_list(const std::string& key) const {
    std::vector<std::string> out;
    std::istringstream words(get(key));
    for (std::string word; words >> word;) {
        out.push_back(word);
    }
    return out;
}

} // namespace hs::cli
