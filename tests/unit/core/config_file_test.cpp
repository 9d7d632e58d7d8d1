#include "core/config_file.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hs::core {
namespace {

using namespace std::string_literals;

// The message of the UsageError that parse_config throws, or "" when it does
// not throw.
std::string error_of(std::string_view text, std::string_view origin = "config") {
    try {
        parse_config(text, origin);
    } catch (const UsageError& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    return "";
}

bool starts_with(const std::string& s, std::string_view prefix) {
    return std::string_view(s).starts_with(prefix);
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

TEST(ConfigFile, EmptyTextHasNoEntries) {
    EXPECT_TRUE(parse_config("", "config").empty());
}

TEST(ConfigFile, ParsesKeyValueLines) {
    const auto entries = parse_config("url = https://hydra.example\nmax-evals = 3\n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].key, "url");
    EXPECT_EQ(entries[0].value, "https://hydra.example");
    EXPECT_EQ(entries[0].line, 1);
    EXPECT_EQ(entries[1].key, "max-evals");
    EXPECT_EQ(entries[1].value, "3");
    EXPECT_EQ(entries[1].line, 2);
}

TEST(ConfigFile, LastLineWithoutNewline) {
    const auto entries = parse_config("a = 1\nb = 2", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[1].key, "b");
    EXPECT_EQ(entries[1].value, "2");
}

TEST(ConfigFile, SkipsCommentsAndBlankLines) {
    const auto entries = parse_config("# a comment\n"
                                      "\n"
                                      "   \n"
                                      "\t\n"
                                      "  # indented comment = not a setting\n"
                                      "#no-space=x\n"
                                      "db = /tmp/x.sqlite\n"
                                      "\n",
                                      "config");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].key, "db");
    EXPECT_EQ(entries[0].value, "/tmp/x.sqlite");
    EXPECT_EQ(entries[0].line, 7);
}

TEST(ConfigFile, CommentsAndBlankLinesCountForLineNumbers) {
    const auto entries = parse_config("\n# x\n\na = 1\n\n\nb = 2\n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].line, 4);
    EXPECT_EQ(entries[1].line, 7);
}

TEST(ConfigFile, TrimsWhitespaceAroundKeyAndValue) {
    const auto entries =
        parse_config("  \t jobsets \t=\t  nixpkgs:trunk  nixos:release  \t\n", "config");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].key, "jobsets");
    // Inner whitespace of the value is kept.
    EXPECT_EQ(entries[0].value, "nixpkgs:trunk  nixos:release");
}

TEST(ConfigFile, NoWhitespaceAroundEquals) {
    const auto entries = parse_config("a=1", "config");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].key, "a");
    EXPECT_EQ(entries[0].value, "1");
}

TEST(ConfigFile, HandlesCrlf) {
    const auto entries = parse_config("# comment\r\n\r\na = 1\r\nb = two words\r\n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].key, "a");
    EXPECT_EQ(entries[0].value, "1");
    EXPECT_EQ(entries[0].line, 3);
    EXPECT_EQ(entries[1].value, "two words");
    EXPECT_EQ(entries[1].line, 4);
}

TEST(ConfigFile, EqualsInsideValueIsKept) {
    const auto entries =
        parse_config("url = https://h.example/?a=b&c=d\nx = =\ny = a = b\n", "config");
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].key, "url");
    EXPECT_EQ(entries[0].value, "https://h.example/?a=b&c=d");
    EXPECT_EQ(entries[1].value, "=");
    EXPECT_EQ(entries[2].key, "y");
    EXPECT_EQ(entries[2].value, "a = b");
}

TEST(ConfigFile, HashInsideValueIsKept) {
    // A '#' with no blank before it is part of the value (a URL fragment).
    const auto entries =
        parse_config("url = https://h.example/#frag\nreason = issue#12 x#y\n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].value, "https://h.example/#frag");
    EXPECT_EQ(entries[1].value, "issue#12 x#y");
}

TEST(ConfigFile, TrailingCommentAfterBlankIsStripped) {
    // The README's own example.
    const auto entries = parse_config("min-interval = 1s   # comment\n"
                                      "local-ttl = 7d\t# after a tab\n"
                                      "jobsets = a:b c:d # two # hashes\n"
                                      "url = https://h/#frag # and a comment\n",
                                      "config");
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].value, "1s");
    EXPECT_EQ(entries[1].value, "7d");
    EXPECT_EQ(entries[2].value, "a:b c:d");
    EXPECT_EQ(entries[3].value, "https://h/#frag");
}

TEST(ConfigFile, ValueThatIsOnlyACommentIsEmpty) {
    const auto entries = parse_config("jobsets = # none yet\n", "config");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].value, "");
}

TEST(ConfigFile, CommentDoesNotHideAMissingEquals) {
    // "= in a comment" is no setting.
    const auto message = error_of("just words # a = b\n");
    EXPECT_TRUE(starts_with(message, "config:1: ")) << message;
    EXPECT_TRUE(contains(message, "'just words'")) << message;
}

TEST(ConfigFile, ByteOrderMarkAtStartIsSkipped) {
    const auto entries = parse_config("\xEF\xBB\xBFmax-evals = 2\r\nb = 3\r\n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].key, "max-evals");
    EXPECT_EQ(entries[0].line, 1);
    EXPECT_EQ(entries[1].line, 2);
    EXPECT_EQ(parse_config("\xEF\xBB\xBF# only a comment\n", "config").size(), 0u);
    EXPECT_TRUE(parse_config("\xEF\xBB\xBF", "config").empty());
}

TEST(ConfigFile, ByteOrderMarkElsewhereIsNotSkipped) {
    const auto message = error_of("a = 1\n\xEF\xBB\xBF"
                                  "b = 2\n");
    EXPECT_TRUE(starts_with(message, "config:2: ")) << message;
    EXPECT_TRUE(contains(message, "key")) << message;
}

TEST(ConfigFile, EmptyValueIsAllowed) {
    const auto entries = parse_config("jobsets =\nurl =   \n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].value, "");
    EXPECT_EQ(entries[1].value, "");
}

TEST(ConfigFile, RepeatedKeysAreAllReturnedInOrder) {
    const auto entries = parse_config("a = 1\na = 2\n", "config");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].value, "1");
    EXPECT_EQ(entries[1].value, "2");
}

TEST(ConfigFile, UnknownKeysAreNotCheckedHere) {
    const auto entries = parse_config("no-such-option = 1\n", "config");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].key, "no-such-option");
}

TEST(ConfigFile, KeyCharacters) {
    const auto entries = parse_config("abc-xyz-0123456789 = 1\n", "config");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].key, "abc-xyz-0123456789");
}

TEST(ConfigFile, MissingEqualsIsAnError) {
    const auto message = error_of("a = 1\njust some words\n", "/etc/hs.conf");
    EXPECT_TRUE(starts_with(message, "/etc/hs.conf:2: ")) << message;
    EXPECT_TRUE(contains(message, "'just some words'")) << message;
}

TEST(ConfigFile, EmptyKeyIsAnError) {
    const auto message = error_of("\n = value\n");
    EXPECT_TRUE(starts_with(message, "config:2: ")) << message;
    EXPECT_TRUE(contains(message, "key")) << message;
    EXPECT_TRUE(starts_with(error_of("=\n"), "config:1: "));
}

TEST(ConfigFile, BadKeyCharactersAreErrors) {
    for (const std::string key :
         {"Url", "URL", "max_evals", "max evals", "a.b", "a:b", "caf\xc3\xa9"}) {
        const auto message = error_of("# c\n" + key + " = 1\n");
        EXPECT_TRUE(starts_with(message, "config:2: ")) << key << ": " << message;
        EXPECT_TRUE(contains(message, "key")) << message;
    }
}

TEST(ConfigFile, KeyWithControlCharacterIsQuotedEscaped) {
    const auto message = error_of("a\x1b[31mb = 1\n");
    EXPECT_TRUE(starts_with(message, "config:1: ")) << message;
    EXPECT_FALSE(contains(message, "\x1b")) << message;
    EXPECT_TRUE(contains(message, "\\x1b")) << message;
}

TEST(ConfigFile, NulByteIsAnError) {
    const auto in_value = error_of("a = 1\nb = x\0y\n"s);
    EXPECT_TRUE(starts_with(in_value, "config:2: ")) << in_value;
    EXPECT_TRUE(contains(in_value, "NUL")) << in_value;
    EXPECT_EQ(in_value.find('\0'), std::string::npos);

    const auto in_key = error_of("a\0b = 1\n"s);
    EXPECT_TRUE(starts_with(in_key, "config:1: ")) << in_key;

    const auto alone = error_of("a = 1\n\n\0\n"s);
    EXPECT_TRUE(starts_with(alone, "config:3: ")) << alone;
}

TEST(ConfigFile, LongBadLineIsTruncatedInMessage) {
    const auto message = error_of(std::string(100000, 'x'));
    EXPECT_TRUE(starts_with(message, "config:1: ")) << message;
    EXPECT_LT(message.size(), 1000u);
}

TEST(ConfigFile, ErrorLineNumbersCountCrlfLines) {
    const auto message = error_of("a = 1\r\n\r\n# c\r\nbroken\r\n");
    EXPECT_TRUE(starts_with(message, "config:4: ")) << message;
    // The CR is trimmed, not shown.
    EXPECT_TRUE(contains(message, "'broken'")) << message;
}

TEST(ConfigFile, MessagesAreLowercaseAfterLocation) {
    for (const auto& text : {"x"s, "= 1"s, "A = 1"s}) {
        const auto message = error_of(text, "f");
        ASSERT_TRUE(starts_with(message, "f:1: ")) << message;
        const char first = message[std::string_view("f:1: ").size()];
        EXPECT_TRUE(first >= 'a' && first <= 'z') << message;
        EXPECT_NE(message.back(), '.') << message;
    }
}

// ---------------------------------------------------------------------------
// hs::quote (core/error.hpp), used by the messages above.

TEST(ErrorQuote, QuotesPlainValue) {
    EXPECT_EQ(quote("hello"), "'hello'");
    EXPECT_EQ(quote(""), "''");
    EXPECT_EQ(quote("a b/c=d"), "'a b/c=d'");
}

TEST(ErrorQuote, EscapesControlBytes) {
    EXPECT_EQ(quote("a\nb"), "'a\\x0ab'");
    EXPECT_EQ(quote("\t"), "'\\x09'");
    EXPECT_EQ(quote("\r"), "'\\x0d'");
    EXPECT_EQ(quote("\x1b[31mred"), "'\\x1b[31mred'");
    EXPECT_EQ(quote("\x7f"), "'\\x7f'");
    EXPECT_EQ(quote("\x01\x1f"), "'\\x01\\x1f'");
    EXPECT_EQ(quote("a\0b"s), "'a\\x00b'");
}

TEST(ErrorQuote, EveryC0ByteIsEscaped) {
    for (int byte = 0; byte < 0x20; ++byte) {
        const auto out = quote(std::string(1, static_cast<char>(byte)));
        EXPECT_EQ(out.size(), 6u) << out;
        for (const char c : out) {
            EXPECT_GE(static_cast<unsigned char>(c), 0x20) << byte;
        }
    }
}

TEST(ErrorQuote, EscapesUtf8EncodedC1Controls) {
    // U+009B (CSI) and U+0085 (NEL) act as controls in some terminals.
    EXPECT_EQ(quote("a\xc2\x9b"
                    "31m"),
              "'a\\xc2\\x9b31m'");
    EXPECT_EQ(quote("\xc2\x85"), "'\\xc2\\x85'");
}

TEST(ErrorQuote, KeepsPrintableUtf8) {
    EXPECT_EQ(quote("caf\xc3\xa9"), "'caf\xc3\xa9'");
    EXPECT_EQ(quote("\xc2\xa0"), "'\xc2\xa0'"); // U+00A0 is not a control
}

TEST(ErrorQuote, EscapesBytesThatAreNotUtf8) {
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

TEST(ErrorQuote, KeepsValueOf300Bytes) {
    const std::string value(300, 'v');
    EXPECT_EQ(quote(value), "'" + value + "'");
}

TEST(ErrorQuote, TruncatesLongValues) {
    const auto out = quote(std::string(301, 'v'));
    EXPECT_EQ(out, "'" + std::string(300, 'v') + "...'");
    const auto huge = quote(std::string(1 << 20, 'v'));
    EXPECT_LT(huge.size(), 400u);
    EXPECT_TRUE(std::string_view(huge).ends_with("...'"));
}

TEST(ErrorQuote, TruncatesLongEscapedValues) {
    const auto out = quote(std::string(100000, '\x1b'));
    EXPECT_LT(out.size(), 1500u);
    EXPECT_TRUE(std::string_view(out).ends_with("...'"));
    EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(ErrorQuote, TruncationDoesNotSplitUtf8Sequence) {
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

TEST(Error, CarriesExitCode) {
    EXPECT_EQ(Error("x").code(), ExitCode::failure);
    EXPECT_EQ(Error("x", ExitCode::locked).code(), ExitCode::locked);
    EXPECT_EQ(UsageError("bad").code(), ExitCode::usage);
    EXPECT_STREQ(UsageError("bad").what(), "bad");
    EXPECT_EQ(static_cast<int>(ExitCode::locked), 75);
    EXPECT_EQ(static_cast<int>(ExitCode::no_index), 5);
}

} // namespace
} // namespace hs::core
