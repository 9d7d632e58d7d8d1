#pragma once

// Small text helpers shared by every layer, one definition each (as ccache's
// util/string.hpp): blanks, ASCII case, message fragments, and the escaping
// that makes hostile text safe to print.

#include <cstdint>
#include <string>
#include <string_view>

namespace hs {

// ' ', '\t', '\r' or '\n': the blanks of HTTP headers, JSON, config lines
// and Nix's output.
constexpr bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// 'A'..'Z' lowered; every other byte as it is (no locale).
constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The text without blanks (is_blank) at either end.
std::string_view trim(std::string_view text);

// Whether a and b are equal but for ASCII case (HTTP header names, media
// types).
bool iequals(std::string_view a, std::string_view b);

// " at byte <offset>", the position in a parser's message (offsets count
// from 0).
std::string at_byte(uint64_t offset);

// Quotes a value for a message: 'value', with control bytes (C0, DEL, C1)
// and bytes that are not well-formed UTF-8 shown as \xNN, so that hostile
// input cannot garble a terminal and every message is valid UTF-8. Shows at
// most 300 bytes of the value, then "...".
std::string quote(std::string_view value);

// How printable() shows C0 controls (line breaks, tabs, ESC, ...) and DEL.
enum class Controls {
    escape, // as \xNN
    space,  // as ' ', for one-line messages where a line break reads as a blank
};

// The same escaping without quotes, and with a length limit only when one is
// given: control characters (C0, DEL, C1) and bytes that are not UTF-8
// become \xNN, so the text is safe to print on a terminal. For strings from
// Hydra (job, system, error texts, ...). Past max_bytes of the value it ends
// in "...", never in the middle of a character.
std::string printable(std::string_view value, size_t max_bytes = std::string_view::npos,
                      Controls controls = Controls::escape);

// Appends text as a JSON string: quoted, with '"', '\\' and control
// characters escaped; other bytes as they are.
void append_json_string(std::string& out, std::string_view text);

} // namespace hs
