#pragma once

#include "core/nix32.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace hs::core {

inline constexpr std::string_view k_store_dir = "/nix/store";
inline constexpr size_t k_max_name_len = 211;
inline constexpr std::string_view k_drv_suffix = ".drv";

// A store path name: [0-9a-zA-Z+-._?=]+, at most 211 bytes, not "." or "..",
// not starting with ".-" or "..-" (Nix >= 2.22 rejects those).
bool is_valid_name(std::string_view name);

// "<nix32 of hash>-<name><suffix>", a store path's last component; with
// suffix k_drv_suffix, a drv's from the derivation's name.
std::string format_basename(const HashBytes& hash, std::string_view name,
                            std::string_view suffix = {});

// "/nix/store/" + format_basename(hash, name, suffix).
std::string format_store_path(const HashBytes& hash, std::string_view name,
                              std::string_view suffix = {});

// The parts of "<hash>-<name>".
struct StorePath {
    HashBytes hash{};
    std::string name; // ends in ".drv" for a derivation

    bool is_drv() const { return name.ends_with(k_drv_suffix); }
    std::string basename() const { return format_basename(hash, name); }
    std::string path() const { return format_store_path(hash, name); }
    // The name without ".drv" (the derivation's name attribute).
    std::string_view drv_name() const;
};

// Parses "<hash>-<name>". On failure returns nullopt and, when why is not
// null, a lowercase reason ("hash has a character outside nix32", ...).
std::optional<StorePath> parse_basename(std::string_view text, std::string* why = nullptr);

// Parses "/nix/store/<hash>-<name>" (nothing after the name).
std::optional<StorePath> parse_store_path(std::string_view text, std::string* why = nullptr);

// Whether parse_store_path would succeed, without building the result.
bool is_store_path(std::string_view text, std::string* why = nullptr);

// A lookup key as the contract defines it.
enum class KeyKind { drv_path, drv_basename, output_path, hash };

struct Key {
    KeyKind kind = KeyKind::hash;
    HashBytes hash{};
    std::string name; // empty for a bare hash
};

std::optional<Key> parse_key(std::string_view text, std::string* why = nullptr);

// Whether a first command-line argument should be read as a lookup key rather
// than a command name: a store path, a drv basename or 32 nix32 characters.
bool looks_like_key(std::string_view text);

} // namespace hs::core
