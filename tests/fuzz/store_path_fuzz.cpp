// libFuzzer target for the store-path and lookup-key parsers and nix32.
// Besides "no crash" it checks that what parses prints back as the input
// (so two spellings never name one path), that every key parse_key accepts
// is also one looks_like_key routes to a lookup, that reasons are printable,
// and that nix32 round-trips both ways.
#include "core/nix32.hpp"
#include "core/store_path.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using hs::fuzz::check;
using hs::fuzz::check_message;
namespace core = hs::core;

void check_reason(const std::string& why) {
    check(!why.empty(), "a refusal has a reason");
    check_message(why, "reason is printable");
    check(why.front() < 'A' || why.front() > 'Z', "reason starts lowercase", why);
}

void check_nix32(std::string_view text) {
    // Any 20 bytes encode to 32 nix32 characters that decode back.
    if (text.size() >= core::k_hash_bytes) {
        core::HashBytes bytes{};
        std::memcpy(bytes.data(), text.data(), bytes.size());
        const std::string encoded = core::nix32_encode(bytes);
        check(encoded.size() == core::k_hash_chars, "nix32_encode gives 32 characters");
        check(std::all_of(encoded.begin(), encoded.end(), core::is_nix32_char),
              "nix32_encode uses the alphabet", encoded);
        const auto decoded = core::nix32_decode(encoded);
        check(decoded.has_value() && *decoded == bytes, "nix32 bytes round trip", encoded);
    }
    // Any 32 characters decode exactly when all are nix32, and then encode
    // back to themselves (32 x 5 bits = 160 bits: no spare bits).
    const std::string_view head = text.substr(0, std::min(text.size(), core::k_hash_chars));
    const auto decoded = core::nix32_decode(head);
    const bool all_nix32 = head.size() == core::k_hash_chars &&
                           std::all_of(head.begin(), head.end(), core::is_nix32_char);
    check(decoded.has_value() == all_nix32, "nix32_decode accepts exactly the alphabet", head);
    if (decoded) {
        check(core::nix32_encode(*decoded) == head, "nix32 text round trip", head);
    }
}

void check_store_path(std::string_view text) {
    std::string why;
    const auto path = core::parse_store_path(text, &why);
    if (!path) {
        check_reason(why);
        return;
    }
    check(path->path() == text, "a parsed store path prints as the input", text);
    check(core::is_valid_name(path->name), "a parsed name is valid", path->name);
    check(path->name.size() <= core::k_max_name_len, "name length bound", path->name);
    check(path->name != "." && path->name != "..", "name is not . or ..", path->name);

    why.clear();
    const auto base = core::parse_basename(path->basename(), &why);
    check(base.has_value() && base->hash == path->hash && base->name == path->name,
          "the basename of a store path parses the same", text);
}

void check_key(std::string_view text) {
    std::string why;
    const auto key = core::parse_key(text, &why);
    if (!key) {
        check_reason(why);
        return;
    }
    check(core::looks_like_key(text), "an accepted key is routed to lookup", text);
    const std::string hash = core::nix32_encode(key->hash);
    switch (key->kind) {
    case core::KeyKind::hash:
        check(key->name.empty() && text == hash, "a hash key is the hash", text);
        break;
    case core::KeyKind::drv_basename:
        check(text == hash + "-" + key->name && key->name.ends_with(".drv"),
              "a basename key prints as the input", text);
        break;
    case core::KeyKind::drv_path:
    case core::KeyKind::output_path: {
        const bool drv = key->name.ends_with(".drv");
        check(drv == (key->kind == core::KeyKind::drv_path), "key kind follows .drv", text);
        check(text == "/nix/store/" + hash + "-" + key->name, "a path key prints as the input",
              text);
        break;
    }
    }
    if (!key->name.empty()) {
        check(core::is_valid_name(key->name), "a key's name is valid", key->name);
    }
    // Nothing with a path separator or a parent reference gets through.
    check(text.find("/..") == std::string_view::npos, "no '..' component", text);
    check(text.find('\0') == std::string_view::npos, "no NUL", text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    const std::string_view text(copy);

    check_nix32(text);
    check_store_path(text);
    check_key(text);
    (void)core::looks_like_key(text);
    (void)core::is_valid_name(text);
    // The same input as a basename and under the store directory, so that
    // the fuzzer need not find the "/nix/store/" prefix itself.
    std::string why;
    if (const auto base = core::parse_basename(text, &why)) {
        check(base->basename() == text, "a parsed basename prints as the input", text);
    } else {
        check_reason(why);
    }
    check_store_path("/nix/store/" + copy);
    check_key("/nix/store/" + copy);
    return 0;
}
