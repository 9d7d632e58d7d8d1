#include "core/error.hpp"

#include <cstdio>

namespace hs {

namespace {

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

void append_escaped(std::string& out, unsigned char byte) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", byte);
    out += buf;
}

// Removes a UTF-8 sequence that the truncation cut short from the end of out.
void drop_partial_utf8(std::string& out) {
    size_t cont = 0;
    while (cont < 3 && cont + 1 < out.size() && is_continuation(out[out.size() - 1 - cont])) {
        ++cont;
    }
    const auto lead = static_cast<unsigned char>(out[out.size() - 1 - cont]);
    const size_t len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (len > cont + 1) {
        out.resize(out.size() - 1 - cont);
    }
}

} // namespace

std::string quote(std::string_view value) {
    constexpr size_t k_max_shown = 300;
    std::string out = "'";
    for (size_t i = 0; i < value.size(); ++i) {
        if (i >= k_max_shown) {
            drop_partial_utf8(out);
            out += "...";
            break;
        }
        const auto byte = static_cast<unsigned char>(value[i]);
        if (byte < 0x20 || byte == 0x7f) {
            append_escaped(out, byte);
        } else if (byte == 0xc2 && i + 1 < value.size() &&
                   static_cast<unsigned char>(value[i + 1]) <= 0x9f &&
                   is_continuation(value[i + 1])) {
            // U+0080..U+009F, the C1 controls (CSI is U+009B), in UTF-8.
            append_escaped(out, byte);
            append_escaped(out, static_cast<unsigned char>(value[++i]));
        } else {
            out += value[i];
        }
    }
    out += "'";
    return out;
}

} // namespace hs
