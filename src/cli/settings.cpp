#include "cli/settings.hpp"

#include "core/config_file.hpp"
#include "core/error.hpp"
#include "core/file.hpp"
#include "core/url.hpp"
#include "snapshot/keys.hpp"
#include "snapshot/pull.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace hs::cli {

namespace {

using V = SettingValues;

// Every setting, declared once (as ccache's k_config_key_table): the rest of
// the CLI derives its options, help, config checks and `config show` from
// this table.
constexpr SettingSpec k_settings[] = {
    {.key = "db",
     .kind = SettingKind::path,
     .field = &V::db,
     .default_value = "$STATE/hydra-status/index.sqlite",
     .env = "HYDRA_STATUS_DB",
     .options = option_of::global,
     .help = "the index"},
    {.key = "url",
     .kind = SettingKind::url,
     .field = &V::url,
     .default_value = "https://hydra.nixos.org",
     .env = "HYDRA_STATUS_URL",
     .options = option_of::global,
     .help = "the Hydra instance"},
    // Not an option: sync takes --jobset, repeatable, instead.
    {.key = "jobsets",
     .kind = SettingKind::jobsets,
     .field = &V::jobsets,
     .default_value = "",
     .help = "jobsets to sync, space-separated PROJECT:JOBSET"},
    {.key = "max-evals",
     .kind = SettingKind::count,
     .field = &V::max_evals,
     .default_value = "1",
     .options = option_of::sync,
     .help = "newest evals ingested on a jobset's first sync",
     .min = 1,
     .max = 1000},
    {.key = "max-requests",
     .kind = SettingKind::count,
     .field = &V::max_requests,
     .default_value = "10000",
     .options = option_of::sync,
     .help = "request budget of one sync run",
     .min = 1,
     .max = 100'000'000},
    {.key = "min-interval",
     .kind = SettingKind::duration,
     .field = &V::min_interval,
     .default_value = "1s",
     .options = option_of::sync,
     .help = "least time between request starts"},
    // The client sends one request at a time (sync/http.cpp); 2 is the most
    // the contract's politeness allows and is accepted, with a warning.
    {.key = "max-in-flight",
     .kind = SettingKind::count,
     .field = &V::max_in_flight,
     .default_value = "1",
     .options = option_of::sync,
     .help = "most requests in flight to one host, 1 or 2; the client sends one at a time",
     .min = 1,
     .max = 2},
    {.key = "max-tries",
     .kind = SettingKind::count,
     .field = &V::max_tries,
     .default_value = "6",
     .options = option_of::sync,
     .help = "tries of one request on transient errors",
     .min = 1,
     .max = 100},
    {.key = "backoff-ceiling",
     .kind = SettingKind::duration,
     .field = &V::backoff_ceiling,
     .default_value = "5m",
     .options = option_of::sync,
     .help = "longest backoff between tries"},
    {.key = "connect-timeout",
     .kind = SettingKind::duration,
     .field = &V::connect_timeout,
     .default_value = "30s",
     .options = option_of::sync,
     .help = "connection timeout"},
    {.key = "timeout",
     .kind = SettingKind::duration,
     .field = &V::timeout,
     .default_value = "15m",
     .options = option_of::sync,
     .help = "total timeout of one request"},
    {.key = "by-id-max",
     .kind = SettingKind::count,
     .field = &V::by_id_max,
     .default_value = "10000",
     .options = option_of::sync,
     .help = "most builds of an eval fetched one by one before using /eval/<id>/builds "
             "(a time bound on the cost model)",
     .min = 0,
     .max = 10'000'000},
    {.key = "recheck-interval",
     .kind = SettingKind::duration,
     .field = &V::recheck_interval,
     .default_value = "24h",
     .options = option_of::sync,
     .help = "how often the newest eval is re-read for restarts"},
    {.key = "eval-builds-retry",
     .kind = SettingKind::duration,
     .field = &V::eval_builds_retry,
     .default_value = "7d",
     .options = option_of::sync,
     .help = "how long evals as large as one /eval/<id>/builds failed on are read by id"},
    {.key = "local-ttl",
     .kind = SettingKind::duration,
     .field = &V::local_ttl,
     .default_value = "7d",
     .options = option_of::lookup | option_of::gate,
     .help = "how long a local failure record counts"},
    {.key = "policy",
     .kind = SettingKind::policy,
     .field = &V::policy,
     .default_value = "fail",
     .options = option_of::gate,
     .help = "fail: exit 1 on a permanent failure; warn: report and exit 0"},
    {.key = "insecure",
     .kind = SettingKind::boolean,
     .field = &V::insecure,
     .default_value = "false",
     .options = option_of::sync,
     .help = "do not verify TLS certificates (warns on every use)"},
    {.key = "max-body",
     .kind = SettingKind::size,
     .field = &V::max_body,
     .default_value = "4GiB",
     .options = option_of::sync,
     .help = "largest answer accepted, after decompression"},
    {.key = "stale-after",
     .kind = SettingKind::duration,
     .field = &V::stale_after,
     .default_value = "48h",
     .options = option_of::lookup,
     .help = "warn when a jobset's last sync is older than this; 0: never"},
    {.key = "from",
     .kind = SettingKind::source,
     .field = &V::from,
     .default_value = "",
     .options = option_of::sync,
     .help = "sync from a snapshot (http://, https:// or file:///DIR) instead of Hydra"},
    {.key = "trusted-keys",
     .kind = SettingKind::keys,
     .field = &V::trusted_keys,
     .default_value = "",
     .options = option_of::sync,
     .help = "public keys (NAME:BASE64) whose signed snapshots sync --from accepts"},
    {.key = "publish",
     .kind = SettingKind::optional_path,
     .field = &V::publish,
     .default_value = "",
     .options = option_of::sync,
     .help = "after a sync from Hydra, publish a snapshot into this directory"},
    {.key = "secret-key-file",
     .kind = SettingKind::optional_path,
     .field = &V::secret_key_file,
     .default_value = "",
     .options = option_of::sync | option_of::snapshot,
     .help = "the key that signs published snapshots (snapshot keygen)"},
    {.key = "snapshot-deltas",
     .kind = SettingKind::count,
     .field = &V::snapshot_deltas,
     .default_value = "96",
     .options = option_of::sync | option_of::snapshot,
     .help = "most deltas a published manifest names; a new base at half",
     .min = 2,
     .max = 100'000},
};

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

Expected<bool> parse_bool(const std::string& text) {
    if (text == "true" || text == "yes" || text == "1") {
        return true;
    }
    if (text == "false" || text == "no" || text == "0") {
        return false;
    }
    return Unexpected{"expected true or false, got " + quote(text)};
}

// Trailing slashes are dropped: "<url>/jobset/..." is built from it.
Expected<std::string> parse_url(std::string url) {
    while (url.ends_with('/')) {
        url.pop_back();
    }
    if (!url.starts_with("https://") && !url.starts_with("http://")) {
        return Unexpected{"expected http:// or https://, got " + quote(core::redact_url(url))};
    }
    if (url.find_first_of(" \t\r\n?#") != std::string::npos) {
        return Unexpected{"invalid URL " + quote(core::redact_url(url)) +
                          " (no query, fragment or blanks)"};
    }
    return url;
}

// A snapshot's URL: "" (none), http(s):// as a Hydra URL, or file:///DIR.
Expected<std::string> parse_source(const std::string& text) {
    if (text.empty()) {
        return text;
    }
    if (text.starts_with("file:")) {
        auto dir = snapshot::file_url_path(text);
        if (!dir) {
            return Unexpected{dir.error()};
        }
        return "file://" + *dir;
    }
    return parse_url(text);
}

Expected<std::vector<core::JobsetName>> parse_jobsets(const std::string& text) {
    std::vector<core::JobsetName> out;
    std::istringstream words(text);
    for (std::string word; words >> word;) {
        auto name = core::parse_jobset_name(word);
        if (!name) {
            return Unexpected{name.error()};
        }
        out.push_back(std::move(*name));
    }
    return out;
}

Expected<Policy> parse_policy(const std::string& text) {
    if (text == "fail") {
        return Policy::fail;
    }
    if (text == "warn") {
        return Policy::warn;
    }
    return Unexpected{"expected warn or fail, got " + quote(text)};
}

// The value of one kind of setting, or why the text is none.
template <class T>
Expected<T> parse_as(const SettingSpec& spec, const std::string& text);

template <>
Expected<std::string> parse_as(const SettingSpec& spec, const std::string& text) {
    if (spec.kind == SettingKind::url) {
        return parse_url(text);
    }
    if (spec.kind == SettingKind::source) {
        return parse_source(text);
    }
    if (spec.kind == SettingKind::keys) {
        auto keys = snapshot::parse_public_keys(text);
        if (!keys) {
            return Unexpected{keys.error()};
        }
        return text;
    }
    if (spec.kind == SettingKind::optional_path) {
        return text;
    }
    if (text.empty()) {
        return Unexpected{"the path is empty"};
    }
    return text;
}

template <>
Expected<std::vector<core::JobsetName>> parse_as(const SettingSpec&, const std::string& text) {
    return parse_jobsets(text);
}

template <>
Expected<int64_t> parse_as(const SettingSpec& spec, const std::string& text) {
    return core::parse_count(text, spec.min, spec.max);
}

template <>
Expected<std::chrono::milliseconds> parse_as(const SettingSpec&, const std::string& text) {
    return core::parse_duration(text);
}

template <>
Expected<uint64_t> parse_as(const SettingSpec&, const std::string& text) {
    return core::parse_size(text);
}

template <>
Expected<bool> parse_as(const SettingSpec&, const std::string& text) {
    return parse_bool(text);
}

template <>
Expected<Policy> parse_as(const SettingSpec&, const std::string& text) {
    return parse_policy(text);
}

} // namespace

std::span<const SettingSpec> setting_specs() {
    return k_settings;
}

const SettingSpec* find_setting(std::string_view key) {
    for (const auto& spec : k_settings) {
        if (key == spec.key) {
            return &spec;
        }
    }
    return nullptr;
}

std::string option_help(const SettingSpec& spec) {
    std::string extra;
    if (spec.env) {
        extra = std::string("env ") + spec.env;
    }
    // A switch's default is off; saying so helps nobody.
    if (*spec.default_value && spec.kind != SettingKind::boolean) {
        std::string shown = spec.default_value;
        if (shown.starts_with("$STATE")) {
            shown = "$XDG_STATE_HOME" + shown.substr(6);
        }
        extra += (extra.empty() ? "default " : "; default ") + shown;
    }
    return extra.empty() ? spec.help : std::string(spec.help) + " (" + extra + ")";
}

const char* option_value_name(const SettingSpec& spec) {
    switch (spec.kind) {
    case SettingKind::path:
        return "FILE";
    case SettingKind::optional_path:
        return "PATH";
    case SettingKind::source:
        return "URL";
    case SettingKind::keys:
        return "KEYS";
    case SettingKind::url:
        return "URL";
    case SettingKind::jobsets:
        return "PROJECT:JOBSET...";
    case SettingKind::count:
        return "N";
    case SettingKind::duration:
        return "DURATION";
    case SettingKind::size:
        return "SIZE";
    case SettingKind::boolean:
        return "BOOL";
    case SettingKind::policy:
        break;
    }
    return "warn|fail";
}

Expected<void> parse_setting(const SettingSpec& spec, const std::string& text, SettingValues& out) {
    return std::visit(
        [&](auto member) -> Expected<void> {
            using T = std::remove_reference_t<decltype(out.*member)>;
            auto value = parse_as<T>(spec, text);
            if (!value) {
                return Unexpected{value.error()};
            }
            out.*member = std::move(*value);
            return {};
        },
        spec.field);
}

Settings Settings::load(const std::map<std::string, std::string>& command_line,
                        const std::string& config_from_command_line) {
    Settings settings;
    for (const auto& spec : k_settings) {
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

    for (const auto& spec : k_settings) {
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
    if (settings.text("db").empty()) {
        throw UsageError(settings.origin("db") + ": --db (db): the index path is empty");
    }
    settings.parse_all();
    return settings;
}

void Settings::parse_all() {
    for (const auto& spec : k_settings) {
        if (auto parsed = parse_setting(spec, text(spec.key), m_parsed); !parsed) {
            m_problems.emplace(spec.key, parsed.error());
            // The member keeps the default (which always parses).
            (void)parse_setting(spec, expand_default(spec.default_value), m_parsed);
        }
    }
}

void Settings::require_valid() const {
    for (const auto& spec : k_settings) {
        if (const auto found = m_problems.find(spec.key); found != m_problems.end()) {
            throw UsageError(origin(spec.key) + ": " + spec.key + ": " + found->second);
        }
    }
}

// A file that does not exist is skipped unless it was named; any other
// failure to read it (a directory, no permission) is an error, so that a
// broken config never goes unnoticed.
void Settings::read_file(const std::string& path, OriginKind kind, bool must_exist) {
    const auto text = read_whole_file(path);
    if (!text) {
        const int error = text.error_code();
        if (!must_exist && (error == ENOENT || error == ENOTDIR)) {
            m_files.push_back({path, kind, false});
            return;
        }
        throw UsageError(path + ": cannot read config file: " + text.error());
    }
    m_files.push_back({path, kind, true});
    for (const auto& entry : core::parse_config(*text, path)) {
        if (!find_setting(entry.key)) {
            throw UsageError(path + ":" + std::to_string(entry.line) + ": unknown key " +
                             quote(entry.key));
        }
        set(entry.key, entry.value, path + ":" + std::to_string(entry.line), kind);
    }
}

void Settings::set(const std::string& key, const std::string& text, const std::string& origin,
                   OriginKind kind) {
    m_values.insert_or_assign(key, Value{text, origin, kind});
}

const Settings::Value& Settings::value(std::string_view key) const {
    const auto found = m_values.find(key);
    if (found == m_values.end()) {
        throw Error("no setting " + quote(key)); // a bug: keys come from the table
    }
    return found->second;
}

const std::string& Settings::text(std::string_view key) const {
    return value(key).text;
}

const std::string& Settings::origin(std::string_view key) const {
    return value(key).origin;
}

OriginKind Settings::origin_kind(std::string_view key) const {
    return value(key).kind;
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

} // namespace hs::cli
