#pragma once

// `config show|get|keys`: the settings table as people and machines read it.

#include "cli/settings.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::cli {

// What `config` was asked: show (the default), keys, or get KEY. Throws
// UsageError for anything else.
struct ConfigRequest {
    std::string sub;
    std::string key; // of get
};
ConfigRequest parse_config_args(const std::vector<std::string>& args);

// "path:12" -> {"path", 12}; the path may itself contain ':'. An origin
// without a line gives 0.
std::pair<std::string, int> split_file_origin(const std::string& origin);

// A setting's value as shown: credentials in the url never are.
std::string shown_value(const Settings& settings, std::string_view key);

// Cuts text into pieces of at most `width` columns, after a '/' or a blank
// where there is one (a path stays readable), never inside a UTF-8
// character.
std::vector<std::string> wrap_columns(std::string_view text, size_t width);

// One JSON object per setting.
std::string config_json(const Settings& settings);
// KEY, VALUE and ORIGIN in columns within 80, then the config files.
std::string config_table(const Settings& settings);

} // namespace hs::cli
