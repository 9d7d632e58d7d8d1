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

} // namespace
} // namespace hs::core
