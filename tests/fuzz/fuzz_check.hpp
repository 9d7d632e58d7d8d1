// Helpers shared by the libFuzzer targets: invariant checks that abort (so
// libFuzzer records the input) with a message saying which one failed.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace hs::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz invariant failed: %s", what);
    if (!detail.empty()) {
        std::fprintf(stderr, ": %.*s", static_cast<int>(detail.size()), detail.data());
    }
    std::fprintf(stderr, "\n");
    std::abort();
}

inline void check(bool condition, const char* what, std::string_view detail = {}) {
    if (!condition) {
        fail(what, detail);
    }
}

// Whether a message would be safe on a terminal: no C0 control byte, no DEL,
// no C1 control (U+0080..U+009F in UTF-8). Every message the tool prints may
// carry input, which must have gone through hs::quote().
inline bool is_printable_message(std::string_view message) {
    for (size_t i = 0; i < message.size(); ++i) {
        const auto byte = static_cast<unsigned char>(message[i]);
        if (byte < 0x20 || byte == 0x7f) {
            return false;
        }
        if (byte == 0xc2 && i + 1 < message.size()) {
            const auto next = static_cast<unsigned char>(message[i + 1]);
            if (next >= 0x80 && next <= 0x9f) {
                return false;
            }
        }
    }
    return true;
}

inline void check_message(std::string_view message, const char* what) {
    check(is_printable_message(message), what, message);
}

} // namespace hs::fuzz
