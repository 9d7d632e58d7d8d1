#include "core/text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hs {
namespace {

using namespace std::string_literals;

TEST(IsBlank, IsSpaceTabAndLineEnds) {
    for (const char c : {' ', '\t', '\r', '\n'}) {
        EXPECT_TRUE(is_blank(c)) << int{c};
    }
    for (const char c : {'a', '\0', '\v', '\f', '\x1b', '\xa0'}) {
        EXPECT_FALSE(is_blank(c)) << int{c};
    }
}

TEST(AsciiLower, LowersOnlyAsciiLetters) {
    EXPECT_EQ(ascii_lower('A'), 'a');
    EXPECT_EQ(ascii_lower('Z'), 'z');
    EXPECT_EQ(ascii_lower('a'), 'a');
    EXPECT_EQ(ascii_lower('@'), '@'); // just before 'A'
    EXPECT_EQ(ascii_lower('['), '['); // just after 'Z'
    EXPECT_EQ(ascii_lower('\xc3'), '\xc3');
}

TEST(Trim, RemovesBlanksAtBothEnds) {
    EXPECT_EQ(trim("  a b \t\r\n"), "a b");
    EXPECT_EQ(trim("\r\napplication/json "), "application/json");
    EXPECT_EQ(trim("x"), "x");
}

TEST(Trim, LeavesInnerBlanksAndOtherBytes) {
    EXPECT_EQ(trim("a \t b"), "a \t b");
    EXPECT_EQ(trim("\va\f"), "\va\f");
}

TEST(Trim, BlankTextBecomesEmpty) {
    EXPECT_EQ(trim(""), "");
    EXPECT_EQ(trim(" \t\r\n "), "");
}

TEST(Iequals, IgnoresAsciiCaseOnly) {
    EXPECT_TRUE(iequals("Content-Type", "content-type"));
    EXPECT_TRUE(iequals("", ""));
    EXPECT_FALSE(iequals("etag", "etags"));
    EXPECT_FALSE(iequals("caf\xc3\xa9", "CAF\xc3\x89")); // no Unicode folding
}

TEST(AtByte, NamesTheOffset) {
    EXPECT_EQ(at_byte(0), " at byte 0");
    EXPECT_EQ(at_byte(123), " at byte 123");
    EXPECT_EQ(at_byte(uint64_t{1} << 40), " at byte 1099511627776");
}

// ---------------------------------------------------------------------------
// quote: the value, escaped and bounded, in quotes.

TEST(Quote, QuotesPlainValue) {
    EXPECT_EQ(quote("hello"), "'hello'");
    EXPECT_EQ(quote(""), "''");
    EXPECT_EQ(quote("a b/c=d"), "'a b/c=d'");
}

TEST(Quote, EscapesControlBytes) {
    EXPECT_EQ(quote("a\nb"), "'a\\x0ab'");
    EXPECT_EQ(quote("\t"), "'\\x09'");
    EXPECT_EQ(quote("\r"), "'\\x0d'");
    EXPECT_EQ(quote("\x1b[31mred"), "'\\x1b[31mred'");
    EXPECT_EQ(quote("\x7f"), "'\\x7f'");
    EXPECT_EQ(quote("\x01\x1f"), "'\\x01\\x1f'");
    EXPECT_EQ(quote("a\0b"s), "'a\\x00b'");
}

TEST(Quote, EveryC0ByteIsEscaped) {
    for (int byte = 0; byte < 0x20; ++byte) {
        const auto out = quote(std::string(1, static_cast<char>(byte)));
        EXPECT_EQ(out.size(), 6u) << out;
        for (const char c : out) {
            EXPECT_GE(static_cast<unsigned char>(c), 0x20) << byte;
        }
    }
}

TEST(Quote, EscapesUtf8EncodedC1Controls) {
    // U+009B (CSI) and U+0085 (NEL) act as controls in some terminals.
    EXPECT_EQ(quote("a\xc2\x9b"
                    "31m"),
              "'a\\xc2\\x9b31m'");
    EXPECT_EQ(quote("\xc2\x85"), "'\\xc2\\x85'");
}

TEST(Quote, KeepsPrintableUtf8) {
    EXPECT_EQ(quote("caf\xc3\xa9"), "'caf\xc3\xa9'");
    EXPECT_EQ(quote("\xc2\xa0"), "'\xc2\xa0'"); // U+00A0 is not a control
}

TEST(Quote, EscapesBytesThatAreNotUtf8) {
    // A Latin-1 key on the command line, or junk from a server: every
    // message stays valid UTF-8.
    EXPECT_EQ(quote("caf\xe9"), "'caf\\xe9'");
    EXPECT_EQ(quote("\xff\xfe"), "'\\xff\\xfe'");
    EXPECT_EQ(quote("a\x80"
                    "b"),
              "'a\\x80b'");                                         // stray continuation byte
    EXPECT_EQ(quote("\xc3"), "'\\xc3'");                            // truncated sequence
    EXPECT_EQ(quote("\xc3(x"), "'\\xc3(x'");                        // lead byte, no continuation
    EXPECT_EQ(quote("\xc0\xaf"), "'\\xc0\\xaf'");                   // overlong '/'
    EXPECT_EQ(quote("\xe0\x80\xaf"), "'\\xe0\\x80\\xaf'");          // overlong, 3 bytes
    EXPECT_EQ(quote("\xed\xa0\x80"), "'\\xed\\xa0\\x80'");          // a surrogate
    EXPECT_EQ(quote("\xf4\x90\x80\x80"), "'\\xf4\\x90\\x80\\x80'"); // above U+10FFFF
    EXPECT_EQ(quote("\xf0\x9f\x98\x80 \xe2\x82\xac"), "'\xf0\x9f\x98\x80 \xe2\x82\xac'");
}

TEST(Quote, KeepsValueOf300Bytes) {
    const std::string value(300, 'v');
    EXPECT_EQ(quote(value), "'" + value + "'");
}

TEST(Quote, TruncatesLongValues) {
    const auto out = quote(std::string(301, 'v'));
    EXPECT_EQ(out, "'" + std::string(300, 'v') + "...'");
    const auto huge = quote(std::string(1 << 20, 'v'));
    EXPECT_LT(huge.size(), 400u);
    EXPECT_TRUE(std::string_view(huge).ends_with("...'"));
}

TEST(Quote, TruncatesLongEscapedValues) {
    const auto out = quote(std::string(100000, '\x1b'));
    EXPECT_LT(out.size(), 1500u);
    EXPECT_TRUE(std::string_view(out).ends_with("...'"));
    EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(Quote, TruncationDoesNotSplitUtf8Sequence) {
    // 299 ASCII bytes, then a 2-byte character straddling the limit.
    const auto out = quote(std::string(299, 'v') + "\xc3\xa9" + "tail");
    EXPECT_EQ(out, "'" + std::string(299, 'v') + "...'");
    // A 3-byte character straddling the limit.
    const auto out3 = quote(std::string(298, 'v') + "\xe2\x82\xac" + "tail");
    EXPECT_EQ(out3, "'" + std::string(298, 'v') + "...'");
    // A character that ends exactly at the limit is kept.
    const auto whole = quote(std::string(298, 'v') + "\xc3\xa9" + "tail");
    EXPECT_EQ(whole, "'" + std::string(298, 'v') + "\xc3\xa9...'");
}

// ---------------------------------------------------------------------------
// printable: the same escaping, without quotes.

TEST(Printable, EscapesC0DelAndC1) {
    EXPECT_EQ(printable("a\nb\x1b[0m\x7f"), "a\\x0ab\\x1b[0m\\x7f");
    EXPECT_EQ(printable("x\xc2\x9by"), "x\\xc2\\x9by");
    EXPECT_EQ(printable("\0"s), "\\x00");
}

TEST(Printable, EscapesBytesThatAreNotUtf8) {
    EXPECT_EQ(printable("caf\xe9"), "caf\\xe9");
    EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");
    EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
}

TEST(Printable, HasNoLimitUnlessGiven) {
    const std::string long_text(100000, 'v');
    EXPECT_EQ(printable(long_text), long_text);
    EXPECT_EQ(printable(long_text, 5), "vvvvv...");
    EXPECT_EQ(printable("vvvvv", 5), "vvvvv");
}

TEST(Printable, LimitCountsBytesOfTheValue) {
    // Three escaped bytes are 12 bytes of output, but only 3 of the value.
    EXPECT_EQ(printable("\x01\x02\x03\x04", 3), "\\x01\\x02\\x03...");
    // A character that would cross the limit is left out whole.
    EXPECT_EQ(printable("ab\xe2\x82\xac", 4), "ab...");
}

TEST(Printable, ControlsAsSpacesKeepEscapingTheRest) {
    EXPECT_EQ(printable("Access denied.\nGo away", 300, Controls::space), "Access denied. Go away");
    EXPECT_EQ(printable("a\tb\x1b[1m\x7f", 300, Controls::space), "a b [1m ");
    // C1 controls and bytes that are not UTF-8 are escaped all the same.
    EXPECT_EQ(printable("\xc2\x9b"
                        "31m \xff",
                        300, Controls::space),
              "\\xc2\\x9b31m \\xff");
}

TEST(AppendJsonString, QuotesAndEscapesWhatJsonRequires) {
    std::string out = "[";
    append_json_string(out, "a\"b\\c\n\r\t\x01\x1f é");
    EXPECT_EQ(out, "[\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f é\"");
    out.clear();
    append_json_string(out, "");
    EXPECT_EQ(out, "\"\"");
}

} // namespace
} // namespace hs
