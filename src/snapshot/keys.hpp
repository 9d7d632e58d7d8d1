#pragma once

// Ed25519 signing keys in the form Nix uses for binary-cache keys: a key is
// "NAME:BASE64", the secret key 64 bytes (libsodium's, seed and public key)
// and the public key 32; a signature is "NAME:BASE64" of 64 bytes.

#include "core/expected.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace hs::snapshot {

struct KeyPair {
    std::string secret;     // "NAME:BASE64" of 64 bytes
    std::string public_key; // "NAME:BASE64" of 32 bytes
};

// A new key pair named `name` (a name has no ':' or blanks and is not
// empty). Throws hs::Error when libsodium cannot start.
KeyPair generate_key_pair(const std::string& name);

// Why `name` cannot name a key, or "".
std::string check_key_name(std::string_view name);

struct SecretKey {
    std::string name;
    std::string bytes; // 64
};
struct PublicKey {
    std::string name;
    std::string bytes; // 32
};

// Parses "NAME:BASE64"; why it is not such a key otherwise.
Expected<SecretKey> parse_secret_key(std::string_view text);
Expected<PublicKey> parse_public_key(std::string_view text);
// Space-separated public keys (the trusted-keys setting).
Expected<std::vector<PublicKey>> parse_public_keys(std::string_view text);

// "NAME:BASE64" of the detached signature of message.
std::string sign(const SecretKey& key, std::string_view message);

// The name of the key in `signature` ("NAME:BASE64"), and whether it is a
// valid signature of message by `key`.
bool verify(const PublicKey& key, std::string_view signature, std::string_view message);
std::string signature_key_name(std::string_view signature);

std::string to_base64(std::string_view bytes);
Expected<std::string> from_base64(std::string_view text);

} // namespace hs::snapshot
