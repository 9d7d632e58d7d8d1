#include "core/nix32.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>

namespace hs::core {
namespace {

HashBytes from_hex(std::string_view hex) {
    EXPECT_EQ(hex.size(), 2 * k_hash_bytes);
    HashBytes out{};
    for (size_t i = 0; i < k_hash_bytes && 2 * i + 1 < hex.size(); ++i) {
        out[i] = static_cast<uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
    }
    return out;
}

struct Vector {
    const char* name;
    const char* hex;
    const char* nix32;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const Vector& c, std::ostream* os) {
    *os << c.name;
}

// Expected strings from real Nix: `nix-hash --type sha1 --to-base32 <hex>`
// (nix-bin 2.8.0).
const Vector k_vectors[] = {
    {"AllZero", "0000000000000000000000000000000000000000", "00000000000000000000000000000000"},
    {"AllOnes", "ffffffffffffffffffffffffffffffffffffffff", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
    {"FirstByteOne", "0100000000000000000000000000000000000000",
     "00000000000000000000000000000001"},
    {"FirstByteLowFiveBits", "1f00000000000000000000000000000000000000",
     "0000000000000000000000000000000z"},
    {"FirstByteTopBit", "8000000000000000000000000000000000000000",
     "00000000000000000000000000000040"},
    {"LastByteOne", "0000000000000000000000000000000000000001", "04000000000000000000000000000000"},
    {"LastByteTopBit", "0000000000000000000000000000000000000080",
     "h0000000000000000000000000000000"},
    {"LastByteTopFiveBits", "00000000000000000000000000000000000000f8",
     "z0000000000000000000000000000000"},
    {"SequentialBytes", "000102030405060708090a0b0c0d0e0f10111213",
     "2c91240g1q6hq2qa1440f1h50h1h4080"},
    {"Mixed", "0123456789abcdef0123456789abcdef01234567", "cx2j60ggrnmqjrs54c0yzkdbi5kla8q1"},
    // sha1("hello"); nix-hash --type sha1 --flat --base32 agrees.
    {"Sha1OfHello", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d", "9m1skbnr5i43n3yypvda5s65vhfwdx5a"},
    // A store path hash from a drv made by nix 2.8 (nix-hash --to-base16).
    {"StorePathHash", "2c1e47c9ce1b1c52f5d023aeb9c48ba6c723b4ac",
     "mjs27ix6ig2bkbi3s3sm470vrv4lf7ic"},
};

class Nix32Vector : public testing::TestWithParam<Vector> {};

TEST_P(Nix32Vector, EncodesLikeNix) {
    EXPECT_EQ(nix32_encode(from_hex(GetParam().hex)), GetParam().nix32);
}

TEST_P(Nix32Vector, DecodesLikeNix) {
    const auto decoded = nix32_decode(GetParam().nix32);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, from_hex(GetParam().hex));
}

INSTANTIATE_TEST_SUITE_P(KnownVectors, Nix32Vector, testing::ValuesIn(k_vectors),
                         [](const testing::TestParamInfo<Vector>& param_info) {
                             return std::string(param_info.param.name);
                         });

TEST(Nix32, AlphabetHasThirtyTwoDistinctCharacters) {
    ASSERT_EQ(k_nix32_alphabet.size(), 32u);
    for (size_t i = 0; i < k_nix32_alphabet.size(); ++i) {
        EXPECT_EQ(k_nix32_alphabet.find(k_nix32_alphabet[i]), i);
    }
}

TEST(Nix32, IsNix32CharAcceptsExactlyTheAlphabet) {
    for (int i = 0; i < 256; ++i) {
        const char c = static_cast<char>(i);
        const bool expected = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z' && c != 'e' &&
                                                         c != 'o' && c != 'u' && c != 't');
        EXPECT_EQ(is_nix32_char(c), expected) << "byte " << i;
    }
}

TEST(Nix32, RoundTripsEverySingleBit) {
    for (size_t byte = 0; byte < k_hash_bytes; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            HashBytes hash{};
            hash[byte] = static_cast<uint8_t>(1u << bit);
            const auto text = nix32_encode(hash);
            ASSERT_EQ(text.size(), k_hash_chars);
            const auto decoded = nix32_decode(text);
            ASSERT_TRUE(decoded.has_value()) << text;
            EXPECT_EQ(*decoded, hash) << "byte " << byte << " bit " << bit;
        }
    }
}

TEST(Nix32, RoundTripsRandomHashes) {
    std::mt19937 rng(12345); // fixed seed: reproducible
    std::uniform_int_distribution<int> dist(0, 255);
    for (int round = 0; round < 1000; ++round) {
        HashBytes hash{};
        for (auto& b : hash) {
            b = static_cast<uint8_t>(dist(rng));
        }
        const auto decoded = nix32_decode(nix32_encode(hash));
        ASSERT_TRUE(decoded.has_value());
        EXPECT_EQ(*decoded, hash);
    }
}

TEST(Nix32, EveryStringOfAlphabetCharactersRoundTrips) {
    // 160 bits in 32 characters of 5 bits: every such string is a hash, and
    // encoding its bytes gives the same string back.
    for (size_t pos = 0; pos < k_hash_chars; ++pos) {
        for (const char c : k_nix32_alphabet) {
            std::string text(k_hash_chars, '0');
            text[pos] = c;
            const auto decoded = nix32_decode(text);
            ASSERT_TRUE(decoded.has_value()) << text;
            EXPECT_EQ(nix32_encode(*decoded), text);
        }
    }
}

TEST(Nix32, EncodeUsesOnlyAlphabetCharacters) {
    HashBytes hash{};
    for (size_t i = 0; i < k_hash_bytes; ++i) {
        hash[i] = static_cast<uint8_t>(37 * i + 11);
    }
    for (const char c : nix32_encode(hash)) {
        EXPECT_TRUE(is_nix32_char(c)) << c;
    }
}

TEST(Nix32, DecodeRejectsLettersOutsideTheAlphabet) {
    for (const char bad : {'e', 'o', 'u', 't'}) {
        for (const size_t pos : {size_t{0}, size_t{15}, k_hash_chars - 1}) {
            std::string text(k_hash_chars, '0');
            text[pos] = bad;
            EXPECT_FALSE(nix32_decode(text).has_value()) << text;
        }
    }
}

TEST(Nix32, DecodeRejectsUppercase) {
    EXPECT_FALSE(nix32_decode("MJS27IX6IG2BKBI3S3SM470VRV4LF7IC").has_value());
    EXPECT_FALSE(nix32_decode("mjs27ix6ig2bkbi3s3sm470vrv4lf7iC").has_value());
    EXPECT_FALSE(nix32_decode("Z0000000000000000000000000000000").has_value());
}

TEST(Nix32, DecodeRejectsOtherBytes) {
    for (const char bad : {'-', '/', ' ', '\0', '\n', '=', '+', '_', '.', '\x7f'}) {
        std::string text(k_hash_chars, 'a');
        text[7] = bad;
        EXPECT_FALSE(nix32_decode(text).has_value()) << static_cast<int>(bad);
    }
    std::string high(k_hash_chars, 'a');
    high[0] = static_cast<char>(0xc3);
    EXPECT_FALSE(nix32_decode(high).has_value());
}

TEST(Nix32, DecodeRejectsWrongLengths) {
    EXPECT_FALSE(nix32_decode("").has_value());
    EXPECT_FALSE(nix32_decode("0").has_value());
    EXPECT_FALSE(nix32_decode(std::string(k_hash_chars - 1, '0')).has_value());
    EXPECT_FALSE(nix32_decode(std::string(k_hash_chars + 1, '0')).has_value());
    EXPECT_FALSE(nix32_decode(std::string(2 * k_hash_chars, '0')).has_value());
    // A sha256 in nix32 is 52 characters: not a store path hash.
    EXPECT_FALSE(nix32_decode(std::string(52, '1')).has_value());
}

TEST(Nix32, DecodeDoesNotReadPastTheView) {
    const std::string backing = "mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello";
    const auto decoded = nix32_decode(std::string_view(backing).substr(0, k_hash_chars));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(nix32_encode(*decoded), "mjs27ix6ig2bkbi3s3sm470vrv4lf7ic");
}

} // namespace
} // namespace hs::core
