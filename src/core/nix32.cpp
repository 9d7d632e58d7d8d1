#include "core/nix32.hpp"

#include <array>
#include <cstdint>

namespace hs::core {

namespace {

// The value of each byte as a nix32 digit, -1 for bytes outside the alphabet.
constexpr std::array<int8_t, 256> k_digits = [] {
    std::array<int8_t, 256> digits{};
    digits.fill(-1);
    for (size_t i = 0; i < k_nix32_alphabet.size(); ++i) {
        digits[static_cast<unsigned char>(k_nix32_alphabet[i])] = static_cast<int8_t>(i);
    }
    return digits;
}();

int digit_of(char c) {
    return k_digits[static_cast<unsigned char>(c)];
}

} // namespace

bool is_nix32_char(char c) {
    return digit_of(c) >= 0;
}

std::optional<HashBytes> nix32_decode(std::string_view text) {
    if (text.size() != k_hash_chars) {
        return std::nullopt;
    }
    HashBytes out{};
    // Character n (counted from the end) carries bits [5n, 5n+5) of the hash.
    for (size_t n = 0; n < k_hash_chars; ++n) {
        const int digit = digit_of(text[k_hash_chars - 1 - n]);
        if (digit < 0) {
            return std::nullopt;
        }
        const size_t bit = n * 5;
        const size_t byte = bit / 8;
        const size_t shift = bit % 8;
        out[byte] = static_cast<uint8_t>(out[byte] | (digit << shift));
        if (shift > 3) {
            // 160 bits fill 20 bytes exactly, so byte + 1 is always in range here.
            out[byte + 1] = static_cast<uint8_t>(out[byte + 1] | (digit >> (8 - shift)));
        }
    }
    return out;
}

std::string nix32_encode(const HashBytes& hash) {
    std::string out;
    out.reserve(k_hash_chars);
    for (size_t i = 0; i < k_hash_chars; ++i) {
        const size_t n = k_hash_chars - 1 - i;
        const size_t bit = n * 5;
        const size_t byte = bit / 8;
        const size_t shift = bit % 8;
        unsigned value = hash[byte] >> shift;
        if (byte + 1 < k_hash_bytes) {
            value |= static_cast<unsigned>(hash[byte + 1]) << (8 - shift);
        }
        out += k_nix32_alphabet[value & 0x1f];
    }
    return out;
}

} // namespace hs::core
