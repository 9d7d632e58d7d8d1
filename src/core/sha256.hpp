#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hs::core {

// SHA-256 (FIPS 180-4), for computing a .drv's store path from its bytes
// (shared/reference/nix-drv.md §1.5). Not used for anything secret.
using Sha256 = std::array<uint8_t, 32>;

Sha256 sha256(std::string_view data);

// Lowercase hexadecimal, as Nix writes a hash into a store path fingerprint.
std::string to_hex(const Sha256& digest);

} // namespace hs::core
