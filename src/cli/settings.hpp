#pragma once

#include "core/units.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hs::cli {

// gate's policy on a permanent failure.
enum class Policy { fail, warn };

// Every setting, parsed and checked: what the commands use. Each member is
// declared once, with its key, default and range, in setting_specs().
struct SettingValues {
    std::string db;
    std::string url; // http:// or https://, trailing slashes dropped
    std::vector<core::JobsetName> jobsets;
    int64_t max_evals = 0;
    int64_t max_requests = 0;
    std::chrono::milliseconds min_interval{};
    int64_t max_in_flight = 0;
    int64_t max_tries = 0;
    std::chrono::milliseconds backoff_ceiling{};
    std::chrono::milliseconds connect_timeout{};
    std::chrono::milliseconds timeout{};
    int64_t by_id_max = 0;
    std::chrono::milliseconds recheck_interval{};
    std::chrono::milliseconds eval_builds_retry{};
    std::chrono::milliseconds local_ttl{};
    Policy policy = Policy::fail;
    bool insecure = false;
    uint64_t max_body = 0;
    std::chrono::milliseconds stale_after{};
    // Snapshots (issue 17).
    std::string from;            // sync --from: http(s):// or file:// ("" = Hydra)
    std::string trusted_keys;    // space-separated NAME:BASE64 public keys
    std::string secret_key_file; // snapshot publish's signing key
    std::string publish;         // sync --publish DIR ("" = none)
    int64_t snapshot_deltas = 0;
};

// What a setting's text must look like, and the member it is parsed into.
enum class SettingKind {
    path,          // any non-empty text                    -> std::string
    url,           // http:// or https://, no query, ...    -> std::string
    jobsets,       // space-separated PROJECT:JOBSET        -> std::vector<core::JobsetName>
    count,         // a whole number from min to max        -> int64_t
    duration,      // "90", "90s", "500ms", "15m", "24h", "7d" -> std::chrono::milliseconds
    size,          // "1000000", "64KiB", "4GiB", "64MB"    -> uint64_t (bytes)
    boolean,       // true/yes/1 or false/no/0              -> bool
    policy,        // warn or fail                          -> Policy
    source,        // "" or http://, https://, file:///     -> std::string
    keys,          // space-separated NAME:BASE64 ed25519   -> std::string
    optional_path, // "" (none) or a path               -> std::string
};

using SettingField =
    std::variant<std::string SettingValues::*, std::vector<core::JobsetName> SettingValues::*,
                 int64_t SettingValues::*, std::chrono::milliseconds SettingValues::*,
                 uint64_t SettingValues::*, bool SettingValues::*, Policy SettingValues::*>;

// The commands that take a setting as an option of their own (a bit set).
// Every setting is also a config key, whichever commands take it.
namespace option_of {
inline constexpr unsigned none = 0;
inline constexpr unsigned global = 1; // every command: --db, --url
inline constexpr unsigned lookup = 2;
inline constexpr unsigned sync = 4;
inline constexpr unsigned gate = 8;
inline constexpr unsigned snapshot = 16; // snapshot publish
} // namespace option_of

// One setting, declared once: its config key (also its long option name),
// how its text is parsed and where to, its default, environment variable,
// the commands that take it as an option, and its help. The fields are in
// the order the table's designated initialisers read best, not packed: the
// table has one entry per key, so 8 bytes of padding each do not matter.
struct SettingSpec { // NOLINT(clang-analyzer-optin.performance.Padding)
    const char* key;
    SettingKind kind;
    SettingField field;
    const char* default_value; // "" = none; "$STATE" / "$CONFIG" expand to XDG dirs
    const char* env = nullptr; // environment variable, or nullptr
    unsigned options = option_of::none;
    const char* help = "";
    int64_t min = 0; // the range of a count
    int64_t max = 0;
};

// Every setting, in the order `config show` lists them.
std::span<const SettingSpec> setting_specs();
const SettingSpec* find_setting(std::string_view key);

// The help of a setting's option: its help, environment variable and
// default ("the index (env HYDRA_STATUS_DB; default $XDG_STATE_HOME/...)").
std::string option_help(const SettingSpec& spec);
// The option's value name in --help: FILE, URL, N, DURATION, SIZE, warn|fail.
const char* option_value_name(const SettingSpec& spec);

// Parses `text` as the setting's value into `out`; why it is not valid
// otherwise ("expected a number from 1 to 1000, got 'abc'").
Expected<void> parse_setting(const SettingSpec& spec, const std::string& text, SettingValues& out);

// The system-wide config file: $HYDRA_STATUS_SYSTEM_CONFIG if set, else
// /etc/hydra-status/config.
inline constexpr const char* k_system_config = "/etc/hydra-status/config";
inline constexpr const char* k_system_config_env = "HYDRA_STATUS_SYSTEM_CONFIG";

// Where a setting's value came from, lowest layer first.
enum class OriginKind { default_value, system_file, user_file, environment, command_line };

// A config file layer as Settings::load saw it.
struct ConfigFileLayer {
    std::string path;
    OriginKind kind = OriginKind::user_file; // system_file or user_file
    bool read = false;                       // false: the file does not exist
};

// Settings resolved with the contract's precedence: command line >
// environment > user config file > system config file > default, then
// parsed: values() holds every valid value, problems() says why the others
// are not valid (their member keeps its default).
class Settings {
public:
    // Reads the system config file (a missing one is fine), then the user
    // config file named by --config, $HYDRA_STATUS_CONFIG or the XDG default
    // (a missing default file is fine, a missing named one is not), then the
    // environment, then the given command-line values. An unknown key or an
    // unreadable file throws UsageError; a value that is not valid does not
    // (see require_valid).
    static Settings load(const std::map<std::string, std::string>& command_line,
                         const std::string& config_from_command_line);

    // Throws UsageError "ORIGIN: KEY: why" for the first setting (in table
    // order) whose value is not valid. Every command but `config` calls it
    // before it runs, so that a bad value fails whatever the command.
    void require_valid() const;

    const SettingValues& values() const { return m_parsed; }
    // Key -> why its value is not valid.
    const std::map<std::string, std::string>& problems() const { return m_problems; }

    // The value as given (config show, config get).
    const std::string& text(std::string_view key) const;
    // "default", "<file>:<line>", "environment <VAR>" or "command line".
    const std::string& origin(std::string_view key) const;
    OriginKind origin_kind(std::string_view key) const;
    // The user config file (whether or not it exists).
    const std::string& config_path() const { return m_config_path; }
    // The config files consulted, system first.
    const std::vector<ConfigFileLayer>& config_files() const { return m_files; }

private:
    struct Value {
        std::string text;
        std::string origin;
        OriginKind kind = OriginKind::default_value;
    };
    void read_file(const std::string& path, OriginKind kind, bool must_exist);
    void set(const std::string& key, const std::string& text, const std::string& origin,
             OriginKind kind);
    void parse_all();
    const Value& value(std::string_view key) const;

    std::map<std::string, Value, std::less<>> m_values;
    SettingValues m_parsed;
    std::map<std::string, std::string> m_problems;
    std::string m_config_path;
    std::vector<ConfigFileLayer> m_files;
};

// "origin kind" as a word for machines: default, system-file, user-file,
// environment, command-line.
const char* origin_kind_name(OriginKind kind);

} // namespace hs::cli
