#include "snapshot/json.hpp"

#include <gtest/gtest.h>

namespace hs::snapshot {
namespace {

TEST(Json, ParsesValuesAndKeepsRawText) {
    const std::string text = R"( {"a": [1, 2.5, -3e2], "b": {"c": "x\"\u00e9"}, "d": null,
                                  "e": true} )";
    auto doc = parse_json(text);
    ASSERT_TRUE(doc) << doc.error();
    EXPECT_EQ(doc->find("a")->items.size(), 3u);
    EXPECT_TRUE(doc->find("a")->items[0].is_int());
    EXPECT_FALSE(doc->find("a")->items[1].is_int());
    EXPECT_EQ(doc->find("a")->items[2].as_int(), -300);
    EXPECT_EQ(doc->find("b")->find("c")->text, "x\"\xc3\xa9");
    EXPECT_EQ(doc->find("b")->raw, R"({"c": "x\"\u00e9"})");
    EXPECT_EQ(doc->find("d")->kind, JsonValue::Kind::null);
    EXPECT_TRUE(doc->find("e")->boolean);
}

TEST(Json, RefusesWhatIsNotJson) {
    for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"\\x\"", "01x", "{} {}", "nul"}) {
        EXPECT_FALSE(parse_json(bad)) << bad;
    }
    EXPECT_FALSE(parse_json(std::string(100, '[') + std::string(100, ']')));
}

TEST(Json, StringEscapesRoundTrip) {
    const std::string text = "a\"b\\c\nd\x01";
    auto doc = parse_json(json_string(text));
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->text, text);
}

} // namespace
} // namespace hs::snapshot
