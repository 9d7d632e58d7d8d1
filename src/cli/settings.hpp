#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

// What a setting's value must look like (see setting_problem).
enum class SettingKind {
    path,     // any non-empty text
    url,      // http:// or https://, no query, fragment or blanks
    jobsets,  // space-separated PROJECT:JOBSET
    count,    // a whole number from SettingSpec::min to ::max
    duration, // "90", "90s", "500ms", "15m", "24h", "7d"
    size,     // "1000000", "64KiB", "4GiB", "64MB"
    boolean,  // true/yes/1 or false/no/0
    policy,   // warn or fail
};

// One configurable setting: its config key (also its long option name), its
// default, and where the value in use came from.
struct SettingSpec {
    const char* key;
    const char* default_value; // "" = none; "$STATE" / "$CONFIG" expand to XDG dirs
    const char* env;           // environment variable, or nullptr
    const char* help;
    SettingKind kind = SettingKind::path;
    int64_t min = 0; // the range of a count
    int64_t max = 0;
};

const std::vector<SettingSpec>& setting_specs();

// Why `value` is no valid value of the setting `key` ("expected a number
// from 1 to 1000, got 'abc'"), or "" when it is valid. The same rules as the
// commands that read the setting apply (sync's are in sync_cmd.cpp; the
// integration test test_config_show.py keeps the two in step), so that
// `config show` can flag a value before a command trips over it.
std::string setting_problem(const std::string& key, const std::string& value);

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
// environment > user config file > system config file > default.
class Settings {
public:
    // Reads the system config file (a missing one is fine), then the user
    // config file named by --config, $HYDRA_STATUS_CONFIG or the XDG default
    // (a missing default file is fine, a missing named one is not), then the
    // environment, then the given command-line values.
    static Settings load(const std::map<std::string, std::string>& command_line,
                         const std::string& config_from_command_line);

    const std::string& get(const std::string& key) const;
    // "default", "<file>:<line>", "environment <VAR>" or "command line".
    const std::string& origin(const std::string& key) const;
    OriginKind origin_kind(const std::string& key) const;
    int64_t get_int(const std::string& key, int64_t min, int64_t max) const;
    // "90", "90s", "500ms", "15m", "24h", "7d" -> milliseconds.
    int64_t get_millis(const std::string& key) const;
    int64_t get_seconds(const std::string& key) const { return get_millis(key) / 1000; }
    bool get_bool(const std::string& key) const;
    std::vector<std::string> get_list(const std::string& key) const;
    // The user config file (whether or not it exists).
    const std::string& config_path() const { return m_config_path; }
    // The config files consulted, system first.
    const std::vector<ConfigFileLayer>& config_files() const { return m_files; }

    void set(const std::string& key, const std::string& value, const std::string& origin,
             OriginKind kind = OriginKind::command_line);

private:
    struct Value {
        std::string value;
        std::string origin;
        OriginKind kind = OriginKind::default_value;
    };
    void read_file(const std::string& path, OriginKind kind, bool must_exist);

    std::map<std::string, Value> m_values;
    std::string m_config_path;
    std::vector<ConfigFileLayer> m_files;
};

// Parses a duration as above; throws UsageError naming what on failure.
int64_t parse_millis(const std::string& text, const std::string& what);
// The same without throwing: nullopt for text that is no duration.
std::optional<int64_t> try_parse_millis(const std::string& text);

// "origin kind" as a word for machines: default, system-file, user-file,
// environment, command-line.
const char* origin_kind_name(OriginKind kind);

} // namespace hs::cli
