#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hs::cli {

// One configurable setting: its config key (also its long option name), its
// default, and where the value in use came from.
struct SettingSpec {
    const char* key;
    const char* default_value; // "" = none; "$STATE" / "$CONFIG" expand to XDG dirs
    const char* env;           // environment variable, or nullptr
    const char* help;
};

const std::vector<SettingSpec>& setting_specs();

// Settings resolved with the contract's precedence:
// command line > environment > config file > default.
class Settings {
public:
    // Reads the config file named by --config, $HYDRA_STATUS_CONFIG or the XDG
    // default (a missing default file is fine, a missing named one is not),
    // then the environment, then the given command-line values.
    static Settings load(const std::map<std::string, std::string>& command_line,
                         const std::string& config_from_command_line);

    const std::string& get(const std::string& key) const;
    const std::string& origin(const std::string& key) const;
    int64_t get_int(const std::string& key, int64_t min, int64_t max) const;
    // "90", "90s", "500ms", "15m", "24h", "7d" -> milliseconds.
    int64_t get_millis(const std::string& key) const;
    int64_t get_seconds(const std::string& key) const { return get_millis(key) / 1000; }
    bool get_bool(const std::string& key) const;
    std::vector<std::string> get_list(const std::string& key) const;
    const std::string& config_path() const { return m_config_path; }

    void set(const std::string& key, const std::string& value, const std::string& origin);

private:
    struct Value {
        std::string value;
        std::string origin;
    };
    std::map<std::string, Value> m_values;
    std::string m_config_path;
};

// Parses a duration as above; throws UsageError naming what on failure.
int64_t parse_millis(const std::string& text, const std::string& what);

} // namespace hs::cli
