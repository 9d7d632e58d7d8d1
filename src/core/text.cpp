#include "core/text.hpp"

#include <cstdint>
#include <cstdio>

namespace hs {

namespace {

bool is_continuation(unsigned char byte) {
    return (byte & 0xc0) == 0x80;
}

void append_escaped(std::string& out, unsigned char byte) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", byte);
    out += buf;
}

// The length (2 to 4) of the well-formed UTF-8 sequence that starts at
// value[i], or 0 when the bytes there are not one: a stray continuation
// byte, a truncated sequence, an overlong form, a surrogate or a code point
// above U+10FFFF.
size_t utf8_sequence(std::string_view value, size_t i) {
    const auto lead = static_cast<unsigned char>(value[i]);
    size_t len = 0;
    uint32_t code = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
        len = 2;
        code = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        len = 3;
        code = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        len = 4;
        code = lead & 0x07u;
    } else {
        return 0;
    }
    if (value.size() - i < len) {
        return 0;
    }
    for (size_t k = 1; k < len; ++k) {
        const auto byte = static_cast<unsigned char>(value[i + k]);
        if (!is_continuation(byte)) {
            return 0;
        }
        code = (code << 6) | (byte & 0x3fu);
    }
    const bool overlong = (len == 3 && code < 0x800) || (len == 4 && code < 0x10000);
    const bool surrogate = code >= 0xd800 && code <= 0xdfff;
    if (overlong || surrogate || code > 0x10ffff) {
        return 0;
    }
    return len;
}

} // namespace

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_blank(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_blank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

std::string at_byte(uint64_t offset) {
    return " at byte " + std::to_string(offset);
}

std::string quote(std::string_view value) {
    constexpr size_t k_max_shown = 300; // bytes of the value
    std::string out = "'";
    out += printable(value, k_max_shown);
    out += '\'';
    return out;
}

std::string printable(std::string_view value, size_t max_bytes, Controls controls) {
    std::string out;
    size_t i = 0;
    while (i < value.size()) {
        if (i >= max_bytes) {
            out += "...";
            break;
        }
        const auto byte = static_cast<unsigned char>(value[i]);
        if (byte < 0x80) {
            if ((byte < 0x20 || byte == 0x7f) && controls == Controls::space) {
                out += ' ';
            } else if (byte < 0x20 || byte == 0x7f) {
                append_escaped(out, byte);
            } else {
                out += value[i];
            }
            ++i;
            continue;
        }
        const size_t len = utf8_sequence(value, i);
        if (len == 0) {
            // Not UTF-8: shown as its byte value, so that every message is
            // valid UTF-8 whatever the input was.
            append_escaped(out, byte);
            ++i;
            continue;
        }
        if (i + len > max_bytes) {
            out += "..."; // never a character cut in half
            break;
        }
        if (len == 2 && byte == 0xc2 && static_cast<unsigned char>(value[i + 1]) <= 0x9f) {
            // U+0080..U+009F, the C1 controls (CSI is U+009B).
            append_escaped(out, byte);
            append_escaped(out, static_cast<unsigned char>(value[i + 1]));
        } else {
            out.append(value.substr(i, len));
        }
        i += len;
    }
    return out;
}

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

} // namespace hs
