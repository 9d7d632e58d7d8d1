#include "snapshot/keys.hpp"

#include "core/error.hpp"

#include <sodium.h>

#include <sstream>

namespace hs::snapshot {

namespace {

void start_sodium() {
    if (sodium_init() < 0) {
        throw Error("cannot initialise libsodium");
    }
}

// Splits "NAME:BASE64" into its name and decoded bytes of `size` bytes.
Expected<std::pair<std::string, std::string>> split_key(std::string_view text, size_t size,
                                                        const char* what) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
        return Unexpected{std::string("expected a ") + what + " NAME:BASE64, got " +
                          quote(std::string(text))};
    }
    const std::string name(text.substr(0, colon));
    if (auto why = check_key_name(name); !why.empty()) {
        return Unexpected{why};
    }
    auto bytes = from_base64(text.substr(colon + 1));
    if (!bytes || bytes->size() != size) {
        return Unexpected{std::string("key ") + quote(name) + ": not a " + what + " (expected " +
                          std::to_string(size) + " bytes in base64)"};
    }
    return std::make_pair(name, std::move(*bytes));
}

} // namespace

std::string check_key_name(std::string_view name) {
    if (name.empty()) {
        return "a key name may not be empty";
    }
    for (const char c : name) {
        if (c == ':' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return "invalid key name " + quote(std::string(name)) +
                   " (no ':', blanks or control characters)";
        }
    }
    return {};
}

std::string to_base64(std::string_view bytes) {
    start_sodium();
    std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.find('\0'));
    return out;
}

Expected<std::string> from_base64(std::string_view text) {
    start_sodium();
    std::string out(text.size(), '\0');
    size_t size = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &size, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size()) {
        return Unexpected{"invalid base64"};
    }
    out.resize(size);
    return out;
}

KeyPair generate_key_pair(const std::string& name) {
    if (auto why = check_key_name(name); !why.empty()) {
        throw UsageError(why);
    }
    start_sodium();
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    KeyPair pair;
    pair.secret = name + ":" + to_base64({reinterpret_cast<const char*>(sk), sizeof sk});
    pair.public_key = name + ":" + to_base64({reinterpret_cast<const char*>(pk), sizeof pk});
    sodium_memzero(sk, sizeof sk);
    return pair;
}

Expected<SecretKey> parse_secret_key(std::string_view text) {
    auto parts = split_key(text, crypto_sign_SECRETKEYBYTES, "secret key");
    if (!parts) {
        return Unexpected{parts.error()};
    }
    return SecretKey{parts->first, std::move(parts->second)};
}

Expected<PublicKey> parse_public_key(std::string_view text) {
    auto parts = split_key(text, crypto_sign_PUBLICKEYBYTES, "public key");
    if (!parts) {
        return Unexpected{parts.error()};
    }
    return PublicKey{parts->first, std::move(parts->second)};
}

Expected<std::vector<PublicKey>> parse_public_keys(std::string_view text) {
    std::vector<PublicKey> keys;
    std::istringstream words{std::string(text)};
    for (std::string word; words >> word;) {
        auto key = parse_public_key(word);
        if (!key) {
            return Unexpected{key.error()};
        }
        keys.push_back(std::move(*key));
    }
    return keys;
}

std::string sign(const SecretKey& key, std::string_view message) {
    start_sodium();
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), reinterpret_cast<const unsigned char*>(key.bytes.data()));
    return key.name + ":" + to_base64({reinterpret_cast<const char*>(sig), sizeof sig});
}

std::string signature_key_name(std::string_view signature) {
    return std::string(signature.substr(0, signature.find(':')));
}

bool verify(const PublicKey& key, std::string_view signature, std::string_view message) {
    const size_t colon = signature.find(':');
    if (colon == std::string_view::npos || signature.substr(0, colon) != key.name) {
        return false;
    }
    const auto sig = from_base64(signature.substr(colon + 1));
    if (!sig || sig->size() != crypto_sign_BYTES) {
        return false;
    }
    start_sodium();
    return crypto_sign_verify_detached(
               reinterpret_cast<const unsigned char*>(sig->data()),
               reinterpret_cast<const unsigned char*>(message.data()), message.size(),
               reinterpret_cast<const unsigned char*>(key.bytes.data())) == 0;
}

} // namespace hs::snapshot
