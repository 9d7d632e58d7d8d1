#include "cli/settings.hpp"

#include "core/config_file.hpp"
#include "core/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace hs::cli {

const std::vector<SettingSpec>& setting_specs() {
    static const std::vector<SettingSpec> specs{
        {"db", "$STATE/hydra-status/index.sqlite", "HYDRA_STATUS_DB", "the index file"},
        {"url", "https://hydra.nixos.org", "HYDRA_STATUS_URL", "the Hydra instance"},
        {"jobsets", "", nullptr, "jobsets to sync, space-separated PROJECT:JOBSET"},
        {"max-evals", "1", nullptr, "newest evals ingested on a jobset's first sync"},
        {"max-requests", "10000", nullptr, "request budget of one sync run"},
        {"min-interval", "1s", nullptr, "least time between request starts"},
        {"max-in-flight", "2", nullptr, "most requests in flight (requests are sequential)"},
        {"max-tries", "6", nullptr, "tries of one request on transient errors"},
        {"backoff-ceiling", "5m", nullptr, "longest backoff between tries"},
        {"connect-timeout", "30s", nullptr, "connection timeout"},
        {"timeout", "15m", nullptr, "total timeout of one request"},
        {"by-id-max", "100", nullptr,
         "most builds of an eval fetched one by one before using /eval/<id>/builds"},
        {"recheck-interval", "24h", nullptr, "how often the newest eval is re-read for restarts"},
        {"local-ttl", "7d", nullptr, "how long a local failure record counts"},
        {"policy", "fail", nullptr, "gate policy: fail or warn"},
        {"insecure", "false", nullptr, "do not verify TLS certificates (warns on every use)"},
        {"max-body", "4GiB", nullptr, "largest answer accepted, after decompression"},
        {"stale-after", "48h", nullptr,
         "lookups warn when a jobset's last sync is older than this (0: never)"},
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

const SettingSpec* find_spec(const std::string& key) {
    for (const auto& spec : setting_specs()) {
        if (key == spec.key) {
            return &spec;
        }
    }
    return nullptr;
}

} // namespace

int64_t parse_millis(const std::string& text, const std::string& what) {
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
        throw UsageError(what + ": invalid duration " + quote(text) +
                         " (expected e.g. 90, 90s, 500ms, 15m, 24h, 7d)");
    }
    return static_cast<int64_t>(number * factor);
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
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value < min || value > max) {
        throw UsageError(origin(key) + ": " + key + ": expected a number from " +
                         std::to_string(min) + " to " + std::to_string(max) + ", got " +
                         quote(text));
    }
    return value;
}

int64_t Settings::get_millis(const std::string& key) const {
    return parse_millis(get(key), origin(key) + ": " + key);
}

bool Settings::get_bool(const std::string& key) const {
    const auto& text = get(key);
    if (text == "true" || text == "yes" || text == "1") {
        return true;
    }
    if (text == "false" || text == "no" || text == "0") {
        return false;
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
