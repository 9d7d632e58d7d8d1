#include "core/error.hpp"

#include <cstdio>

namespace hs {

std::string quote(std::string_view value) {
    constexpr size_t k_max_shown = 300;
    std::string out = "'";
    size_t shown = 0;
    for (const char c : value) {
        if (++shown > k_max_shown) {
            out += "...";
            break;
        }
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", byte);
            out += buf;
        } else {
            out += c;
        }
    }
    out += "'";
    return out;
}

} // namespace hs
