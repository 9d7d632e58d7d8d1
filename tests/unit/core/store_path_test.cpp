#include "core/store_path.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>
#include <string_view>

namespace hs::core {
namespace {

using namespace std::string_literals;

// A real store path hash (a drv made by nix 2.8).
constexpr std::string_view k_h = "mjs27ix6ig2bkbi3s3sm470vrv4lf7ic";

std::string path_of(std::string_view basename) {
    return "/nix/store/" + std::string(basename);
}

std::string basename_of(std::string_view name) {
    return std::string(k_h) + "-" + std::string(name);
}

HashBytes h_bytes() {
    const auto decoded = nix32_decode(k_h);
    EXPECT_TRUE(decoded.has_value());
    return decoded.value_or(HashBytes{});
}

// Checks the style of a reason: non-empty, starts lowercase, no final
// period, short (it never echoes the input).
void expect_good_reason(const std::string& why) {
    ASSERT_FALSE(why.empty());
    EXPECT_FALSE(std::isupper(static_cast<unsigned char>(why.front()))) << why;
    EXPECT_NE(why.back(), '.') << why;
    EXPECT_LT(why.size(), 200u) << why;
    for (const char c : why) {
        EXPECT_GE(static_cast<unsigned char>(c), 0x20) << why;
        EXPECT_LT(static_cast<unsigned char>(c), 0x7f) << why;
    }
}

// ---------------------------------------------------------------------------
// parse_key: valid keys

struct ValidKey {
    const char* name;
    std::string text;
    KeyKind kind;
    std::string key_name;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const ValidKey& c, std::ostream* os) {
    *os << c.name;
}

const std::string k_name_211(211, 'a');
const std::string k_drv_name_211 = std::string(207, 'a') + ".drv";

const ValidKey k_valid_keys[] = {
    {"DrvPath", path_of(basename_of("hello.drv")), KeyKind::drv_path, "hello.drv"},
    {"DrvBasename", basename_of("hello.drv"), KeyKind::drv_basename, "hello.drv"},
    {"OutputPath", path_of(basename_of("hello")), KeyKind::output_path, "hello"},
    {"BareHash", std::string(k_h), KeyKind::hash, ""},
    {"DrvPathWithDashes", path_of(basename_of("bad-leaf-1.0.drv")), KeyKind::drv_path,
     "bad-leaf-1.0.drv"},
    {"DrvPathAllNameChars", path_of(basename_of("aZ09+-._?=.drv")), KeyKind::drv_path,
     "aZ09+-._?=.drv"},
    {"OutputPathAllNameChars", path_of(basename_of("aZ09+-._?=")), KeyKind::output_path,
     "aZ09+-._?="},
    {"OutputPathOneCharName", path_of(basename_of("x")), KeyKind::output_path, "x"},
    {"OutputPathDotName", path_of(basename_of(".x")), KeyKind::output_path, ".x"},
    {"OutputPathDotDotName", path_of(basename_of("..x")), KeyKind::output_path, "..x"},
    {"OutputPathDashName", path_of(basename_of("-x")), KeyKind::output_path, "-x"},
    {"OutputPathName211", path_of(basename_of(k_name_211)), KeyKind::output_path, k_name_211},
    {"DrvPathName211", path_of(basename_of(k_drv_name_211)), KeyKind::drv_path, k_drv_name_211},
    {"DrvBasenameName211", basename_of(k_drv_name_211), KeyKind::drv_basename, k_drv_name_211},
    {"OutputPathEndingInDrvSomething", path_of(basename_of("hello.drvx")), KeyKind::output_path,
     "hello.drvx"},
    {"BareHashAllZero", std::string(32, '0'), KeyKind::hash, ""},
    {"BareHashAllZ", std::string(32, 'z'), KeyKind::hash, ""},
};

class StorePathValidKey : public testing::TestWithParam<ValidKey> {};

TEST_P(StorePathValidKey, ParsesWithKindHashAndName) {
    const auto& param = GetParam();
    std::string why = "untouched";
    const auto key = parse_key(param.text, &why);
    ASSERT_TRUE(key.has_value()) << why;
    EXPECT_EQ(key->kind, param.kind);
    EXPECT_EQ(key->name, param.key_name);
    const auto hash_text =
        std::string_view(param.text)
            .substr(param.text.starts_with('/') ? std::string_view("/nix/store/").size() : 0,
                    k_hash_chars);
    EXPECT_EQ(nix32_encode(key->hash), hash_text);
}

TEST_P(StorePathValidKey, LooksLikeKey) {
    EXPECT_TRUE(looks_like_key(GetParam().text));
}

INSTANTIATE_TEST_SUITE_P(Contract, StorePathValidKey, testing::ValuesIn(k_valid_keys),
                         [](const testing::TestParamInfo<ValidKey>& param_info) {
                             return std::string(param_info.param.name);
                         });

// ---------------------------------------------------------------------------
// parse_key: malformed keys

struct BadKey {
    const char* name;
    std::string text;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const BadKey& c, std::ostream* os) {
    *os << c.name;
}

std::string with_hash_char(std::string_view base, size_t pos, char c) {
    std::string out(base);
    out[pos] = c;
    return out;
}

const BadKey k_bad_keys[] = {
    {"Empty", ""},
    // Hash alphabet.
    {"BareHashWithE", with_hash_char(k_h, 3, 'e')},
    {"BareHashWithO", with_hash_char(k_h, 0, 'o')},
    {"BareHashWithU", with_hash_char(k_h, 31, 'u')},
    {"BareHashWithT", with_hash_char(k_h, 10, 't')},
    {"BareHashUppercase", "MJS27IX6IG2BKBI3S3SM470VRV4LF7IC"},
    {"BareHashOneUppercase", with_hash_char(k_h, 5, 'X')},
    {"BareHashWithDash", with_hash_char(k_h, 20, '-')},
    {"DrvPathHashWithE", path_of(with_hash_char(basename_of("x.drv"), 0, 'e'))},
    {"DrvBasenameHashWithT", with_hash_char(basename_of("x.drv"), 31, 't')},
    {"DrvPathHashUppercase", path_of(with_hash_char(basename_of("x.drv"), 1, 'M'))},
    // Hash length.
    {"BareHash31Chars", std::string(k_h.substr(0, 31))},
    {"BareHash33Chars", std::string(k_h) + "a"},
    {"BareHash52Chars", std::string(52, 'a')},
    {"DrvPathHash31Chars", path_of(std::string(k_h.substr(0, 31)) + "-x.drv")},
    {"DrvPathHash33Chars", path_of(std::string(k_h) + "a-x.drv")},
    {"DrvBasenameHash31Chars", std::string(k_h.substr(0, 31)) + "-x.drv"},
    {"DrvBasenameHash33Chars", std::string(k_h) + "a-x.drv"},
    // Separator and empty name.
    {"DrvBasenameUnderscoreSeparator", std::string(k_h) + "_x.drv"},
    {"OutputPathNoName", path_of(k_h)},
    {"OutputPathEmptyName", path_of(std::string(k_h) + "-")},
    {"DrvBasenameEmptyName", std::string(k_h) + "-"},
    // Name characters.
    {"DrvPathNameWithSlash", path_of(basename_of("a/b.drv"))},
    {"DrvPathNameWithSpace", path_of(basename_of("a b.drv"))},
    {"DrvPathNameWithNul", path_of(basename_of("a\0b.drv"s))},
    {"DrvPathNameEndingInNul", path_of(basename_of("ab.drv\0"s))},
    {"DrvPathNameWithNewline", path_of(basename_of("a\nb.drv"))},
    {"DrvPathNameEndingInNewline", path_of(basename_of("ab.drv\n"))},
    {"DrvPathNameWithTab", path_of(basename_of("a\tb.drv"))},
    {"DrvPathNameWithEscape", path_of(basename_of("a\x1b[31mb.drv"))},
    {"DrvPathNameWithDel", path_of(basename_of("a\x7f"
                                               "b.drv"))},
    {"DrvPathNameWithInvalidUtf8", path_of(basename_of("a\xff\xfe.drv"))},
    {"DrvPathNameWithUtf8", path_of(basename_of("caf\xc3\xa9.drv"))},
    {"DrvPathNameWithColon", path_of(basename_of("a:b.drv"))},
    {"DrvPathNameWithTilde", path_of(basename_of("a~b.drv"))},
    {"DrvPathNameWithStar", path_of(basename_of("a*b.drv"))},
    {"DrvBasenameNameWithSlash", basename_of("a/b.drv")},
    {"DrvBasenameNameWithSpace", basename_of("a b.drv")},
    // '.', '..', '.-x', '..-x'.
    {"OutputPathNameDot", path_of(basename_of("."))},
    {"OutputPathNameDotDot", path_of(basename_of(".."))},
    {"OutputPathNameDotDash", path_of(basename_of(".-x"))},
    {"OutputPathNameDotDotDash", path_of(basename_of("..-x"))},
    {"DrvPathNameDotDash", path_of(basename_of(".-x.drv"))},
    {"DrvPathNameDotDotDash", path_of(basename_of("..-x.drv"))},
    {"DrvBasenameNameDotDash", basename_of(".-x.drv")},
    // Name length.
    {"OutputPathName212", path_of(basename_of(std::string(212, 'a')))},
    {"DrvPathName212", path_of(basename_of(std::string(208, 'a') + ".drv"))},
    {"DrvBasenameName212", basename_of(std::string(208, 'a') + ".drv")},
    // Store directory.
    {"StoreDirOnly", "/nix/store/"},
    {"StoreDirWithoutSlash", "/nix/store"},
    {"StoreDirPrefixWithoutSlash", "/nix/store" + basename_of("x.drv")},
    {"StoreDirLookalike", "/nix/storex/" + basename_of("x.drv")},
    {"OtherStoreDir", "/gnu/store/" + basename_of("x.drv")},
    {"NestedStoreDir", "/home/nix/store/" + basename_of("x.drv")},
    {"StoreDirDoubleSlash", "/nix/store//" + basename_of("x.drv")},
    {"StoreDirDotSegment", "/nix/./store/" + basename_of("x.drv")},
    {"StoreDirUppercase", "/NIX/STORE/" + basename_of("x.drv")},
    {"RelativeStorePath", "nix/store/" + basename_of("x.drv")},
    {"DotSlashBasename", "./" + basename_of("x.drv")},
    {"RootOnly", "/"},
    {"RootHash", "/" + std::string(k_h)},
    {"RootHashOfLength32", "/" + std::string(k_h.substr(0, 31))},
    {"Etc", "/etc/passwd"},
    // Anything after the name.
    {"DrvPathTrailingSlash", path_of(basename_of("x.drv")) + "/"},
    {"OutputPathTrailingSlash", path_of(basename_of("x")) + "/"},
    {"OutputSubpath", path_of(basename_of("x")) + "/bin/y"},
    {"DrvPathLeadingSpace", " " + path_of(basename_of("x.drv"))},
    {"DrvPathTrailingSpace", path_of(basename_of("x.drv")) + " "},
    {"BareHashTrailingNewline", std::string(k_h) + "\n"},
    {"BareHashLeadingSpace", " " + std::string(k_h)},
    // A basename must be a drv.
    {"OutputBasename", basename_of("hello")},
    {"OutputBasenameDrvx", basename_of("hello.drvx")},
    // Huge input.
    {"OneMegabytePath", path_of(basename_of(std::string(1 << 20, 'a') + ".drv"))},
    {"OneMegabyteBasename", basename_of(std::string(1 << 20, 'a') + ".drv")},
    {"OneMegabyteGarbage", std::string(1 << 20, 'x')},
};

class StorePathBadKey : public testing::TestWithParam<BadKey> {};

TEST_P(StorePathBadKey, IsMalformedWithReason) {
    std::string why;
    const auto key = parse_key(GetParam().text, &why);
    EXPECT_FALSE(key.has_value()) << "kind " << static_cast<int>(key->kind);
    expect_good_reason(why);
}

TEST_P(StorePathBadKey, IsMalformedWithoutReasonPointer) {
    EXPECT_FALSE(parse_key(GetParam().text).has_value());
}

INSTANTIATE_TEST_SUITE_P(Contract, StorePathBadKey, testing::ValuesIn(k_bad_keys),
                         [](const testing::TestParamInfo<BadKey>& param_info) {
                             return std::string(param_info.param.name);
                         });

TEST_P(StorePathBadKey, IsStorePathAgreesWithParse) {
    std::string why_check;
    std::string why_parse;
    const bool parsed = parse_store_path(GetParam().text, &why_parse).has_value();
    EXPECT_EQ(is_store_path(GetParam().text, &why_check), parsed);
    EXPECT_EQ(why_check, why_parse);
}

TEST(StorePath, ReasonNamesTheProblem) {
    std::string why;
    EXPECT_FALSE(parse_key(with_hash_char(k_h, 3, 'e'), &why));
    EXPECT_NE(why.find("nix32"), std::string::npos) << why;

    EXPECT_FALSE(parse_key(path_of(with_hash_char(basename_of("x.drv"), 0, 'e')), &why));
    EXPECT_NE(why.find("nix32"), std::string::npos) << why;

    EXPECT_FALSE(parse_key(path_of(basename_of(std::string(212, 'a'))), &why));
    EXPECT_NE(why.find("211"), std::string::npos) << why;

    EXPECT_FALSE(parse_key(path_of(basename_of("a b")), &why));
    EXPECT_NE(why.find("character"), std::string::npos) << why;

    EXPECT_FALSE(parse_key(path_of(basename_of(".-x")), &why));
    EXPECT_NE(why.find(".-"), std::string::npos) << why;

    EXPECT_FALSE(parse_key("/gnu/store/" + basename_of("x.drv"), &why));
    EXPECT_NE(why.find("/nix/store"), std::string::npos) << why;

    EXPECT_FALSE(parse_key(basename_of("hello"), &why));
    EXPECT_NE(why.find(".drv"), std::string::npos) << why;
}

TEST(StorePath, PathOfLength32IsReportedAsPath) {
    // 32 characters starting with '/' is a (bad) path, not a bad hash.
    const std::string text = "/nix/store/" + std::string(21, 'a');
    ASSERT_EQ(text.size(), k_hash_chars);
    std::string why;
    EXPECT_FALSE(parse_key(text, &why));
    EXPECT_EQ(why.find("hash is not"), std::string::npos) << why;
}

TEST(StorePath, ValidKeyLeavesReasonAlone) {
    std::string why = "untouched";
    ASSERT_TRUE(parse_key(path_of(basename_of("x.drv")), &why));
    ASSERT_TRUE(parse_key(basename_of("x.drv"), &why));
    ASSERT_TRUE(parse_key(k_h, &why));
    EXPECT_EQ(why, "untouched");
}

// ---------------------------------------------------------------------------
// parse_basename, parse_store_path, StorePath

TEST(StorePath, ParsesBasename) {
    const auto path = parse_basename(basename_of("hello-2.12.drv"));
    ASSERT_TRUE(path.has_value());
    EXPECT_EQ(path->hash, h_bytes());
    EXPECT_EQ(path->name, "hello-2.12.drv");
    EXPECT_TRUE(path->is_drv());
    EXPECT_EQ(path->drv_name(), "hello-2.12");
    EXPECT_EQ(path->basename(), basename_of("hello-2.12.drv"));
    EXPECT_EQ(path->path(), path_of(basename_of("hello-2.12.drv")));
}

TEST(StorePath, ParsesOutputStorePath) {
    const auto path = parse_store_path(path_of(basename_of("hello")));
    ASSERT_TRUE(path.has_value());
    EXPECT_EQ(path->hash, h_bytes());
    EXPECT_EQ(path->name, "hello");
    EXPECT_FALSE(path->is_drv());
    EXPECT_EQ(path->drv_name(), "hello");
    EXPECT_EQ(path->path(), path_of(basename_of("hello")));
}

TEST(StorePath, BasenameAcceptsNonDrvName) {
    // Only parse_key insists on .drv for a basename.
    const auto path = parse_basename(basename_of("hello"));
    ASSERT_TRUE(path.has_value());
    EXPECT_FALSE(path->is_drv());
}

TEST(StorePath, StorePathRejectsBasenameAndBasenameRejectsPath) {
    std::string why;
    EXPECT_FALSE(parse_store_path(basename_of("x.drv"), &why));
    expect_good_reason(why);
    why.clear();
    EXPECT_FALSE(parse_basename(path_of(basename_of("x.drv")), &why));
    expect_good_reason(why);
}

TEST(StorePath, IsStorePathAcceptsWhatParseAccepts) {
    for (const auto& text : {path_of(basename_of("hello")), path_of(basename_of("x.drv"))}) {
        EXPECT_TRUE(is_store_path(text)) << text;
    }
    EXPECT_FALSE(is_store_path(basename_of("x.drv")));
}

TEST(StorePath, StorePathRejectsOutputSubpath) {
    std::string why;
    EXPECT_FALSE(parse_store_path(path_of(basename_of("x")) + "/bin/y", &why));
    expect_good_reason(why);
}

TEST(StorePath, RoundTripsThroughPath) {
    for (const auto& param : k_valid_keys) {
        if (param.kind == KeyKind::drv_path || param.kind == KeyKind::output_path) {
            const auto path = parse_store_path(param.text);
            ASSERT_TRUE(path.has_value()) << param.name;
            EXPECT_EQ(path->path(), param.text);
        }
    }
}

TEST(StorePath, DrvNameOfBareDrvSuffix) {
    const auto path = parse_basename(basename_of(".drv"));
    ASSERT_TRUE(path.has_value());
    EXPECT_TRUE(path->is_drv());
    EXPECT_EQ(path->drv_name(), "");
}

// ---------------------------------------------------------------------------
// is_valid_name

TEST(StorePath, ValidNames) {
    for (const std::string name : {"x", "hello", "hello-2.12.1", "hello.drv", "aZ09+-._?=", ".x",
                                   "..x", "...", ".drv", "-", "--", "x.-y", "=", "?"}) {
        EXPECT_TRUE(is_valid_name(name)) << name;
    }
    EXPECT_TRUE(is_valid_name(std::string(k_max_name_len, 'a')));
}

TEST(StorePath, InvalidNames) {
    for (const auto& name :
         {""s,     "."s,    ".."s,   ".-"s,    ".-x"s,   "..-"s,   "..-x"s,  "a/b"s,         "a b"s,
          "a\0b"s, "\0"s,   "a\nb"s, "a\x01"s, "a\x7f"s, "a\x80"s, "a\xff"s, "caf\xc3\xa9"s, "a:b"s,
          "a~b"s,  "a\"b"s, "a\\b"s, "a$b"s,   "a@b"s}) {
        EXPECT_FALSE(is_valid_name(name)) << testing::PrintToString(name);
    }
    EXPECT_FALSE(is_valid_name(std::string(k_max_name_len + 1, 'a')));
}

// ---------------------------------------------------------------------------
// looks_like_key

TEST(StorePath, CommandNamesDoNotLookLikeKeys) {
    for (const char* command :
         {"lookup", "sync", "gate", "info", "record", "forget", "history", "bisect", "snapshot",
          "report", "help", "--help", "-v", "--json", "", "lookupp", "hello.drv"}) {
        EXPECT_FALSE(looks_like_key(command)) << command;
    }
}

TEST(StorePath, KeysLookLikeKeys) {
    EXPECT_TRUE(looks_like_key(path_of(basename_of("hello.drv"))));
    EXPECT_TRUE(looks_like_key(path_of(basename_of("hello"))));
    EXPECT_TRUE(looks_like_key(basename_of("hello.drv")));
    EXPECT_TRUE(looks_like_key(k_h));
}

TEST(StorePath, MalformedPathsStillLookLikeKeys) {
    // So that they are reported as malformed keys, not as unknown commands.
    EXPECT_TRUE(looks_like_key("/gnu/store/" + basename_of("x.drv")));
    EXPECT_TRUE(looks_like_key(path_of(basename_of("x")) + "/bin/y"));
    EXPECT_TRUE(looks_like_key(basename_of("hello")));
    EXPECT_TRUE(looks_like_key(basename_of("a b.drv")));
}

TEST(StorePath, NearMissHashesDoNotLookLikeKeys) {
    EXPECT_FALSE(looks_like_key(k_h.substr(0, 31)));
    EXPECT_FALSE(looks_like_key(std::string(k_h) + "a"));
    EXPECT_FALSE(looks_like_key(with_hash_char(k_h, 3, 'e')));
    EXPECT_FALSE(looks_like_key("MJS27IX6IG2BKBI3S3SM470VRV4LF7IC"));
    EXPECT_FALSE(looks_like_key(std::string(k_h) + "_x.drv"));
}

TEST(StorePathFormat, BasenameAndPathFromTheParts) {
    EXPECT_EQ(format_basename(h_bytes(), "hello"), basename_of("hello"));
    EXPECT_EQ(format_store_path(h_bytes(), "hello"), path_of(basename_of("hello")));
}

TEST(StorePathFormat, DrvFromTheDerivationsName) {
    EXPECT_EQ(format_basename(h_bytes(), "hello-2.12.1", k_drv_suffix),
              basename_of("hello-2.12.1.drv"));
    EXPECT_EQ(format_store_path(h_bytes(), "hello-2.12.1", k_drv_suffix),
              path_of(basename_of("hello-2.12.1.drv")));
}

TEST(StorePathFormat, RoundTripsWithParse) {
    const std::string text = path_of(basename_of("bad-leaf.drv"));
    const auto parsed = parse_store_path(text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(format_store_path(parsed->hash, parsed->drv_name(), k_drv_suffix), text);
    EXPECT_EQ(parsed->path(), text);
}

} // namespace
} // namespace hs::core
