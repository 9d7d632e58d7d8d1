#include "support.hpp"
#include "sync/array_splitter.hpp"
#include "sync/hydra_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace hs::sync {
namespace {

using test::http_body;
using test::read_sample;

struct Collected {
    std::vector<std::string> elements;
    bool ok = false;
    std::string error;
};

// Feeds `text` in chunks whose sizes come from `next_size`.
template <typename NextSize>
Collected split_chunks(std::string_view text, NextSize&& next_size, size_t max = 64 << 20) {
    Collected out;
    ArraySplitter splitter(
        [&](std::string_view element) {
            out.elements.emplace_back(element);
            return true;
        },
        max);
    size_t pos = 0;
    out.ok = true;
    while (pos < text.size() && out.ok) {
        const size_t size = std::min<size_t>(next_size(), text.size() - pos);
        // A separate copy per chunk, so views into an earlier chunk would dangle.
        const std::string chunk(text.substr(pos, size));
        out.ok = splitter.feed(chunk);
        pos += size;
    }
    out.ok = out.ok && splitter.finish();
    out.error = splitter.error();
    EXPECT_EQ(splitter.elements(), out.elements.size());
    return out;
}

Collected split_whole(std::string_view text, size_t max = 64 << 20) {
    return split_chunks(
        text, [&] { return std::max<size_t>(text.size(), 1); }, max);
}

Collected split_by(std::string_view text, size_t chunk) {
    return split_chunks(text, [chunk] { return chunk; });
}

TEST(ArraySplitter, SplitsEvalBuildsAtEveryChunkSize) {
    const std::string body = read_sample("eval-3-builds.json");
    const Collected whole = split_whole(body);
    ASSERT_TRUE(whole.ok) << whole.error;
    ASSERT_EQ(whole.elements.size(), 11u);

    JsonParser parser;
    std::vector<int64_t> ids;
    for (const auto& element : whole.elements) {
        core::BuildRecord build;
        ASSERT_EQ(parser.parse_build(element, build), "");
        ids.push_back(build.id);
    }
    EXPECT_EQ(ids, (std::vector<int64_t>{1, 9, 12, 14, 15, 16, 17, 18, 19, 20, 46}));
    // Elements are exact: concatenated with commas inside brackets they give
    // back the compact body.
    std::string joined = "[";
    for (size_t i = 0; i < whole.elements.size(); ++i) {
        joined += (i == 0 ? "" : ",") + whole.elements[i];
    }
    EXPECT_EQ(joined + "]", body);

    for (size_t chunk = 1; chunk <= 64; ++chunk) {
        SCOPED_TRACE(chunk);
        const Collected split = split_by(body, chunk);
        ASSERT_TRUE(split.ok) << split.error;
        EXPECT_EQ(split.elements, whole.elements);
    }
}

TEST(ArraySplitter, SplitsAtRandomChunkSizes) {
    std::mt19937 rng(20261125);
    for (const char* file : {"eval-1-builds.json", "eval-3-builds.json",
                             "infra-issue-270_eval-1798870-builds-excerpt.json",
                             "hydra-issue-1046_constituents-excerpt.json",
                             "hydra-manual_root-projects-truncated.json"}) {
        SCOPED_TRACE(file);
        const std::string body = read_sample(file);
        const Collected whole = split_whole(body);
        ASSERT_TRUE(whole.ok) << whole.error;
        for (int round = 0; round < 50; ++round) {
            std::uniform_int_distribution<size_t> size(1, round < 25 ? 16 : 4096);
            const Collected split = split_chunks(body, [&] { return size(rng); });
            ASSERT_TRUE(split.ok) << split.error;
            ASSERT_EQ(split.elements, whole.elements);
        }
    }
}

TEST(ArraySplitter, EverySampleArrayElementParses) {
    JsonParser parser;
    for (const char* file : {"eval-1-builds.json", "eval-3-builds.json",
                             "infra-issue-270_eval-1798870-builds-excerpt.json",
                             "hydra-issue-1046_constituents-excerpt.json"}) {
        SCOPED_TRACE(file);
        const Collected split = split_by(read_sample(file), 1);
        ASSERT_TRUE(split.ok) << split.error;
        ASSERT_FALSE(split.elements.empty());
        for (const auto& element : split.elements) {
            core::BuildRecord build;
            EXPECT_EQ(parser.parse_build(element, build), "");
        }
    }
    const Collected split = split_by(http_body(read_sample("eval-3-builds.http")), 7);
    ASSERT_TRUE(split.ok) << split.error;
    EXPECT_EQ(split.elements.size(), 11u);
    const Collected infra =
        split_whole(read_sample("infra-issue-270_eval-1798870-builds-excerpt.json"));
    ASSERT_EQ(infra.elements.size(), 3u);
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(infra.elements[2], build), "");
    EXPECT_EQ(build.id, 233329713);
    EXPECT_EQ(build.system, "i686-linux");
    EXPECT_EQ(build.job, "perlBindings.i686-linux");
}

TEST(ArraySplitter, EmitsEveryKindOfElementWithoutSurroundingSpace) {
    const std::string text = " \n[ 1 ,\"a,]\\\"b\" ,true,null,-2.5e3,[1,[2,{}]], "
                             "{\"a\":\"}]\\\\\",\"b\":[]} ,\"\\\\\"\t]\r\n";
    const std::vector<std::string> expected = {
        "1",
        "\"a,]\\\"b\"",
        "true",
        "null",
        "-2.5e3",
        "[1,[2,{}]]",
        "{\"a\":\"}]\\\\\",\"b\":[]}",
        "\"\\\\\"",
    };
    for (size_t chunk = 1; chunk <= text.size(); ++chunk) {
        SCOPED_TRACE(chunk);
        const Collected split = split_by(text, chunk);
        ASSERT_TRUE(split.ok) << split.error;
        EXPECT_EQ(split.elements, expected);
    }
}

TEST(ArraySplitter, AcceptsEmptyArrays) {
    for (const char* text : {"[]", " [ ] ", "\n[\r\n\t]\n"}) {
        const Collected split = split_by(text, 1);
        EXPECT_TRUE(split.ok) << split.error;
        EXPECT_TRUE(split.elements.empty());
    }
}

TEST(ArraySplitter, DoesNotCopyElementsInsideOneChunk) {
    const std::string chunk = R"([{"id":1},{"id":2}])";
    std::vector<const char*> starts;
    ArraySplitter splitter([&](std::string_view element) {
        starts.push_back(element.data());
        return true;
    });
    ASSERT_TRUE(splitter.feed(chunk));
    ASSERT_TRUE(splitter.finish());
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_EQ(starts[0], chunk.data() + 1);
    EXPECT_EQ(starts[1], chunk.data() + 10);
}

TEST(ArraySplitter, ReportsStructuralErrorsWithByteOffsets) {
    struct Case {
        std::string_view text;
        std::string_view error;
    };
    const Case cases[] = {
        {"", "empty input: expected a json array at byte 0"},
        {"  \n", "truncated: expected a json array at byte 3"},
        {"{}", "expected '[' but found '{' at byte 0"},
        {"\xef\xbb\xbf[]", "expected '[' but found byte 0xef at byte 0"},
        {"[1,]", "expected an element after ',' but found ']' at byte 3"},
        {"[,1]", "expected an element but found ',' at byte 1"},
        {"[1 2]", "expected ',' or ']' but found '2' at byte 3"},
        {"[{} {}]", "expected ',' or ']' but found '{' at byte 4"},
        {"[{]}", "mismatched ']' where '}' was expected at byte 2"},
        {"[[}]", "mismatched '}' where ']' was expected at byte 2"},
        {"[{\"a\":[1}]}", "mismatched '}' where ']' was expected at byte 8"},
        {"[1] x", "unexpected 'x' after the closing ']' at byte 4"},
        {"[1][2]", "unexpected '[' after the closing ']' at byte 3"},
        {"[1]]", "unexpected ']' after the closing ']' at byte 3"},
        {"[:]", "expected an element but found ':' at byte 1"},
        {"[}]", "expected an element but found '}' at byte 1"},
        {"[1\"]", "unexpected '\"' in a number or literal at byte 2"},
        {"[{\"a\":1}", "truncated: array not closed after 1 elements at byte 8"},
        {"[{\"a\":1},", "truncated: array not closed after 1 elements at byte 9"},
        {"[{\"a\":1},{\"b\":", "truncated: array not closed after 1 elements at byte 14"},
        {"[\"abc", "truncated: array not closed after 0 elements at byte 5"},
        {"[\"a\\\"]", "truncated: array not closed after 0 elements at byte 6"},
        {"[1", "truncated: array not closed after 0 elements at byte 2"},
        {"[", "truncated: array not closed after 0 elements at byte 1"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        for (size_t chunk : {size_t{1}, size_t{3}, c.text.size() + 1}) {
            const Collected split = split_by(c.text, chunk);
            EXPECT_FALSE(split.ok);
            EXPECT_EQ(split.error, c.error) << "chunk " << chunk;
        }
    }
}

TEST(ArraySplitter, StaysFailedAfterAnError) {
    int calls = 0;
    ArraySplitter splitter([&](std::string_view) {
        ++calls;
        return true;
    });
    EXPECT_FALSE(splitter.feed("x"));
    const std::string error = splitter.error();
    EXPECT_FALSE(splitter.feed("[1]"));
    EXPECT_FALSE(splitter.finish());
    EXPECT_EQ(splitter.error(), error);
    EXPECT_EQ(calls, 0);
}

TEST(ArraySplitter, EnforcesMaximumElementSize) {
    const std::string big = "{\"a\":\"" + std::string(92, 'x') + "\"}"; // 100 bytes
    ASSERT_EQ(big.size(), 100u);
    const std::string text = "[{}, " + big + "]";
    for (size_t chunk : {size_t{1}, size_t{7}, text.size()}) {
        SCOPED_TRACE(chunk);
        Collected split = split_chunks(
            text, [chunk] { return chunk; }, 99);
        EXPECT_FALSE(split.ok);
        EXPECT_EQ(split.elements.size(), 1u);
        EXPECT_TRUE(split.error.starts_with("element 2 is larger than 99 bytes at byte "))
            << split.error;
        split = split_chunks(
            text, [chunk] { return chunk; }, 100);
        EXPECT_TRUE(split.ok) << split.error;
        ASSERT_EQ(split.elements.size(), 2u);
        EXPECT_EQ(split.elements[1], big);
    }
    // A scalar that never ends is cut off too.
    const Collected split = split_chunks(
        "[" + std::string(1000, '1'), [] { return 10; }, 99);
    EXPECT_FALSE(split.ok);
    EXPECT_EQ(split.error, "element 1 is larger than 99 bytes at byte 1");
}

TEST(ArraySplitter, HandlerCanStopTheSplit) {
    int calls = 0;
    ArraySplitter splitter([&](std::string_view) { return ++calls < 2; });
    EXPECT_FALSE(splitter.feed("[1,2,3]"));
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(splitter.elements(), 2u);
    EXPECT_FALSE(splitter.feed("]"));
    EXPECT_FALSE(splitter.finish());
    EXPECT_EQ(calls, 2);
}

TEST(ArraySplitter, HandlesDeepNesting) {
    const std::string deep = std::string(10000, '[') + std::string(10000, ']');
    Collected split = split_by("[" + deep + "," + deep + "]", 1000);
    ASSERT_TRUE(split.ok) << split.error;
    ASSERT_EQ(split.elements.size(), 2u);
    EXPECT_EQ(split.elements[0], deep);
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_NE(parser.parse_build(split.elements[0], build), "");

    split = split_by(std::string(10000, '['), 100);
    EXPECT_FALSE(split.ok);
    EXPECT_EQ(split.error, "truncated: array not closed after 0 elements at byte 10000");
    split = split_by(std::string(10000, '{'), 100);
    EXPECT_EQ(split.error, "expected '[' but found '{' at byte 0");
}

TEST(ArraySplitter, ResetStartsAFreshArray) {
    std::vector<std::string> seen;
    ArraySplitter splitter([&](std::string_view element) {
        seen.emplace_back(element);
        return true;
    });
    EXPECT_FALSE(splitter.feed("[1,:"));
    EXPECT_NE(splitter.error(), "");
    splitter.reset();
    EXPECT_EQ(splitter.error(), "");
    EXPECT_EQ(splitter.elements(), 0u);
    ASSERT_TRUE(splitter.feed("[\"a"));
    splitter.reset();
    ASSERT_TRUE(splitter.feed(" [2, 3] "));
    EXPECT_TRUE(splitter.finish());
    EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(splitter.elements(), 2u);
}

TEST(ArraySplitter, ToleratesEmptyChunksAndTrailingWhitespace) {
    int calls = 0;
    ArraySplitter splitter([&](std::string_view) {
        ++calls;
        return true;
    });
    EXPECT_TRUE(splitter.feed(""));
    EXPECT_TRUE(splitter.feed("[1"));
    EXPECT_TRUE(splitter.feed(""));
    EXPECT_EQ(calls, 0); // the number might go on
    EXPECT_TRUE(splitter.feed("2]"));
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(splitter.feed("  \n"));
    EXPECT_TRUE(splitter.feed("\r\n"));
    EXPECT_TRUE(splitter.finish());
    EXPECT_TRUE(splitter.finish());
}

} // namespace
} // namespace hs::sync
