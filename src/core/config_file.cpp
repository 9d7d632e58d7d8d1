#include "core/config_file.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

namespace hs::core {

namespace {

// The line without its trailing comment: a '#' after a blank starts one; a
// '#' right after another character (a URL fragment) is part of the value.
std::string_view strip_comment(std::string_view line) {
    for (size_t i = 1; i < line.size(); ++i) {
        if (line[i] == '#' && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
            return line.substr(0, i);
        }
    }
    return line;
}

bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

} // namespace

std::vector<ConfigEntry> parse_config(std::string_view text, std::string_view origin) {
    std::vector<ConfigEntry> entries;
    // A UTF-8 byte order mark, as some Windows editors write, is not text.
    if (text.starts_with("\xEF\xBB\xBF")) {
        text.remove_prefix(3);
    }
    int line_no = 0;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        const auto raw = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        ++line_no;
        auto line = trim(raw);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        line = trim(strip_comment(line));
        const auto where = std::string(origin) + ":" + std::to_string(line_no) + ": ";
        if (line.find('\0') != std::string_view::npos) {
            throw UsageError(where + "NUL byte in line");
        }
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            throw UsageError(where + "expected 'key = value', got " + quote(line));
        }
        const auto key = trim(line.substr(0, eq));
        if (key.empty()) {
            throw UsageError(where + "missing key before '='");
        }
        for (const char c : key) {
            if (!is_key_char(c)) {
                throw UsageError(where + "invalid key " + quote(key));
            }
        }
        entries.push_back({std::string(key), std::string(trim(line.substr(eq + 1))), line_no});
    }
    return entries;
}

} // namespace hs::core
