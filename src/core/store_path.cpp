#include "core/store_path.hpp"

#include <algorithm>
#include <array>

namespace hs::core {

namespace {

// Whether each byte may appear in a store path name.
constexpr std::array<bool, 256> k_name_chars = [] {
    std::array<bool, 256> allowed{};
    for (int c = 0; c < 256; ++c) {
        allowed[static_cast<size_t>(c)] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                          (c >= 'A' && c <= 'Z') || c == '+' || c == '-' ||
                                          c == '.' || c == '_' || c == '?' || c == '=';
    }
    return allowed;
}();

bool is_name_char(char c) {
    return k_name_chars[static_cast<unsigned char>(c)];
}

// "." and "..", and names starting with ".-" or "..-" (Nix >= 2.22).
bool is_dot_name(std::string_view name) {
    return name == "." || name == ".." || name.starts_with(".-") || name.starts_with("..-");
}

void set(std::string* why, std::string_view reason) {
    if (why) {
        *why = reason;
    }
}

// Checks "<hash>-<name>" and returns the decoded hash.
std::optional<HashBytes> checked_basename(std::string_view text, std::string* why) {
    if (text.size() < k_hash_chars + 2 || text[k_hash_chars] != '-') {
        set(why, "expected <32 nix32 characters>-<name>");
        return std::nullopt;
    }
    const auto hash = nix32_decode(text.substr(0, k_hash_chars));
    if (!hash) {
        set(why, "hash is not 32 nix32 characters (0-9 a-z without e o u t)");
        return std::nullopt;
    }
    const auto name = text.substr(k_hash_chars + 1);
    if (name.size() > k_max_name_len) {
        set(why, "name is longer than 211 characters");
        return std::nullopt;
    }
    if (is_dot_name(name)) {
        set(why, "name is '.' or '..' or starts with '.-' or '..-'");
        return std::nullopt;
    }
    if (!is_valid_name(name)) {
        set(why, "name has a character outside [0-9a-zA-Z+-._?=]");
        return std::nullopt;
    }
    return hash;
}

// The basename of "/nix/store/<basename>", or nullopt.
std::optional<std::string_view> in_store(std::string_view text, std::string* why) {
    if (!text.starts_with(k_store_dir) || text.size() <= k_store_dir.size() ||
        text[k_store_dir.size()] != '/') {
        set(why, "not in /nix/store");
        return std::nullopt;
    }
    return text.substr(k_store_dir.size() + 1);
}

} // namespace

std::string format_basename(const HashBytes& hash, std::string_view name, std::string_view suffix) {
    std::string out = nix32_encode(hash);
    out.reserve(out.size() + 1 + name.size() + suffix.size());
    out += '-';
    out += name;
    out += suffix;
    return out;
}

std::string format_store_path(const HashBytes& hash, std::string_view name,
                              std::string_view suffix) {
    return std::string(k_store_dir) + "/" + format_basename(hash, name, suffix);
}

bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > k_max_name_len) {
        return false;
    }
    if (is_dot_name(name)) {
        return false;
    }
    return std::ranges::all_of(name, is_name_char);
}

std::string_view StorePath::drv_name() const {
    std::string_view view = name;
    if (view.ends_with(k_drv_suffix)) {
        view.remove_suffix(k_drv_suffix.size());
    }
    return view;
}

std::optional<StorePath> parse_basename(std::string_view text, std::string* why) {
    const auto hash = checked_basename(text, why);
    if (!hash) {
        return std::nullopt;
    }
    return StorePath{*hash, std::string(text.substr(k_hash_chars + 1))};
}

std::optional<StorePath> parse_store_path(std::string_view text, std::string* why) {
    const auto base = in_store(text, why);
    return base ? parse_basename(*base, why) : std::nullopt;
}

bool is_store_path(std::string_view text, std::string* why) {
    const auto base = in_store(text, why);
    return base && checked_basename(*base, why);
}

std::optional<Key> parse_key(std::string_view text, std::string* why) {
    if (text.empty()) {
        set(why, "empty key");
        return std::nullopt;
    }
    if (text.size() == k_hash_chars && text.front() != '/') {
        const auto hash = nix32_decode(text);
        if (!hash) {
            set(why, "hash is not 32 nix32 characters (0-9 a-z without e o u t)");
            return std::nullopt;
        }
        return Key{KeyKind::hash, *hash, {}};
    }
    if (text.front() == '/') {
        auto path = parse_store_path(text, why);
        if (!path) {
            return std::nullopt;
        }
        const auto kind = path->is_drv() ? KeyKind::drv_path : KeyKind::output_path;
        return Key{kind, path->hash, std::move(path->name)};
    }
    auto path = parse_basename(text, why);
    if (!path) {
        return std::nullopt;
    }
    if (!path->is_drv()) {
        set(why, "a basename must end in .drv (give an output as /nix/store/<hash>-<name>)");
        return std::nullopt;
    }
    return Key{KeyKind::drv_basename, path->hash, std::move(path->name)};
}

bool looks_like_key(std::string_view text) {
    if (text.starts_with('/')) {
        return true;
    }
    if (text.size() < k_hash_chars) {
        return false;
    }
    for (size_t i = 0; i < k_hash_chars; ++i) {
        if (!is_nix32_char(text[i])) {
            return false;
        }
    }
    return text.size() == k_hash_chars || text[k_hash_chars] == '-';
}

} // namespace hs::core
