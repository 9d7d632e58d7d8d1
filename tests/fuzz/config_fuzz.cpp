// libFuzzer target for the config file parser. Besides "no crash" it checks
// that only hs::UsageError escapes, that messages name the origin and a line
// and are printable, and that every entry is well formed: a key of
// [a-z0-9-], a value without surrounding blanks or newlines, line numbers
// increasing and pointing at a line that holds the key.
#include "core/config_file.hpp"
#include "core/error.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using hs::fuzz::check;
using hs::fuzz::check_message;

constexpr std::string_view k_origin = "/etc/hydra-status/config";

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

// Line n (1-based) of text, without its newline.
std::string_view line_of(std::string_view text, int n) {
    for (int i = 1; i < n; ++i) {
        const auto eol = text.find('\n');
        if (eol == std::string_view::npos) {
            return {};
        }
        text.remove_prefix(eol + 1);
    }
    return text.substr(0, text.find('\n'));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    const std::string_view text(copy);

    std::vector<hs::core::ConfigEntry> entries;
    try {
        entries = hs::core::parse_config(text, k_origin);
    } catch (const hs::UsageError& e) {
        const std::string_view message = e.what();
        check(message.starts_with(std::string(k_origin) + ":"), "a message names the file",
              message);
        check(e.code() == hs::ExitCode::usage, "a config error is a usage error");
        check_message(message, "config message is printable");
        return 0;
    }
    int previous = 0;
    for (const auto& entry : entries) {
        check(!entry.key.empty(), "a key is not empty");
        for (const char c : entry.key) {
            check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-',
                  "a key is [a-z0-9-]", entry.key);
        }
        check(entry.line > previous, "line numbers increase");
        previous = entry.line;
        check(entry.value.find('\n') == std::string::npos, "a value is one line", entry.value);
        check(entry.value.find('\0') == std::string::npos, "a value has no NUL", entry.value);
        if (!entry.value.empty()) {
            check(!is_blank(entry.value.front()) && !is_blank(entry.value.back()),
                  "a value is trimmed", entry.value);
        }
        const std::string_view line = line_of(text, entry.line);
        check(line.find(entry.key) != std::string_view::npos &&
                  line.find(entry.value) != std::string_view::npos,
              "an entry's line holds its key and value", line);
    }
    return 0;
}
