#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hs::core {

struct ConfigEntry {
    std::string key;
    std::string value;
    int line = 0;
};

// Parses a "key = value" file: one setting per line, blank lines and lines
// starting with '#' ignored, whitespace around key and value trimmed. A '#'
// after a blank starts a comment to the end of the line ("1s   # why"); a
// '#' with no blank before it is kept ("https://h/x#frag"). A UTF-8 byte
// order mark at the start is skipped. Throws
// hs::UsageError "<origin>:<line>: ..." on a line without '=' or an empty key,
// or a key outside [a-z0-9-]. Keys are not checked against a known set here.
std::vector<ConfigEntry> parse_config(std::string_view text, std::string_view origin);

} // namespace hs::core
