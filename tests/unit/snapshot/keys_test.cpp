#include "snapshot/keys.hpp"

#include <gtest/gtest.h>

namespace hs::snapshot {
namespace {

TEST(Keys, KeygenMakesNixStyleKeysThatSignAndVerify) {
    const auto pair = generate_key_pair("cache.example.org-1");
    EXPECT_TRUE(pair.public_key.starts_with("cache.example.org-1:"));
    EXPECT_EQ(pair.public_key.size(), std::string("cache.example.org-1:").size() + 44);
    auto secret = parse_secret_key(pair.secret);
    auto pub = parse_public_key(pair.public_key);
    ASSERT_TRUE(secret) << secret.error();
    ASSERT_TRUE(pub) << pub.error();
    const auto sig = sign(*secret, "message");
    EXPECT_EQ(signature_key_name(sig), "cache.example.org-1");
    EXPECT_TRUE(verify(*pub, sig, "message"));
    EXPECT_FALSE(verify(*pub, sig, "messagE"));
    const auto other = parse_public_key(generate_key_pair("cache.example.org-1").public_key);
    EXPECT_FALSE(verify(*other, sig, "message"));
}

TEST(Keys, MalformedKeysAreRefused) {
    EXPECT_FALSE(parse_public_key("nocolon"));
    EXPECT_FALSE(parse_public_key(":AAAA"));
    EXPECT_FALSE(parse_public_key("k:not base64!"));
    EXPECT_FALSE(parse_public_key("k:AAAA")); // 3 bytes
    const auto pair = generate_key_pair("k");
    EXPECT_FALSE(parse_public_key(pair.secret)); // 64 bytes is a secret key
    EXPECT_FALSE(parse_secret_key(pair.public_key));
    EXPECT_NE(check_key_name("a b"), "");
    auto keys = parse_public_keys(" " + pair.public_key + "  " + pair.public_key + " ");
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->size(), 2u);
    EXPECT_FALSE(parse_public_keys(pair.public_key + " junk"));
}

} // namespace
} // namespace hs::snapshot
