#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hs::core {

// Nix's base-32 ("nix32"): alphabet without e, o, u, t; encodes the bytes
// starting from the end. A store path hash is 20 bytes = 32 characters.
inline constexpr std::string_view k_nix32_alphabet = "0123456789abcdfghijklmnpqrsvwxyz";
inline constexpr size_t k_hash_bytes = 20;
inline constexpr size_t k_hash_chars = 32;

using HashBytes = std::array<uint8_t, k_hash_bytes>;

bool is_nix32_char(char c);

// Decodes a 32-character nix32 string; nullopt if it is not one.
std::optional<HashBytes> nix32_decode(std::string_view text);

// Encodes 20 bytes as 32 nix32 characters.
std::string nix32_encode(const HashBytes& hash);

} // namespace hs::core
