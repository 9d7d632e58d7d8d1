#include "core/units.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace hs::core {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, ReadsEachUnit) {
    EXPECT_EQ(*parse_duration("90"), milliseconds(90'000));
    EXPECT_EQ(*parse_duration("90s"), milliseconds(90'000));
    EXPECT_EQ(*parse_duration("500ms"), milliseconds(500));
    EXPECT_EQ(*parse_duration("15m"), milliseconds(900'000));
    EXPECT_EQ(*parse_duration("24h"), milliseconds(86'400'000));
    EXPECT_EQ(*parse_duration("7d"), milliseconds(604'800'000));
    EXPECT_EQ(*parse_duration("1.5h"), milliseconds(5'400'000));
    EXPECT_EQ(*parse_duration("0"), milliseconds(0));
}

TEST(ParseDuration, RejectsWhatIsNoDuration) {
    for (const char* text : {"", "soon", "1y", "-1h", "5 m", " 5m", "7days", "s", "nan", "inf",
                             "nans", "1e10", "+5s"}) {
        const auto duration = parse_duration(text);
        EXPECT_FALSE(duration) << text;
        EXPECT_EQ(duration.error(), "invalid duration '" + std::string(text) +
                                        "' (expected e.g. 90, 90s, 500ms, 15m, 24h, 7d)")
            << text;
    }
}

TEST(ParseDuration, AcceptsTheLargestNumber) {
    EXPECT_EQ(*parse_duration("1000000000ms"), milliseconds(1'000'000'000));
    EXPECT_FALSE(parse_duration("1000000001ms"));
}

TEST(ParseSize, ReadsBinaryAndDecimalUnits) {
    EXPECT_EQ(*parse_size("1"), 1u);
    EXPECT_EQ(*parse_size("1000000"), 1'000'000u);
    EXPECT_EQ(*parse_size("12B"), 12u);
    EXPECT_EQ(*parse_size("64KiB"), 64u << 10);
    EXPECT_EQ(*parse_size("64k"), 64u << 10);
    EXPECT_EQ(*parse_size("64K"), 64u << 10);
    EXPECT_EQ(*parse_size("3MiB"), 3u << 20);
    EXPECT_EQ(*parse_size("3M"), 3u << 20);
    EXPECT_EQ(*parse_size("4GiB"), uint64_t{4} << 30);
    EXPECT_EQ(*parse_size("64kB"), 64'000u);
    EXPECT_EQ(*parse_size("64KB"), 64'000u);
    EXPECT_EQ(*parse_size("64MB"), 64'000'000u);
    EXPECT_EQ(*parse_size("4GB"), 4'000'000'000u);
}

TEST(ParseSize, RejectsZeroUnknownUnitsAndTooMuch) {
    for (const char* text :
         {"", "0", "0B", "12parsecs", "GiB", "-1", "1.5GiB", "64 MiB", "2000000000000000000"}) {
        const auto size = parse_size(text);
        EXPECT_FALSE(size) << text;
        EXPECT_EQ(size.error(),
                  "invalid size '" + std::string(text) + "' (expected e.g. 1000000, 64MiB, 4GiB)");
    }
    EXPECT_EQ(*parse_size("1048576GiB"), uint64_t{1} << 50);
    EXPECT_FALSE(parse_size("1048577GiB"));
}

TEST(ParseCount, AcceptsTheRangeAndItsEdges) {
    EXPECT_EQ(*parse_count("1", 1, 1000), 1);
    EXPECT_EQ(*parse_count("1000", 1, 1000), 1000);
    EXPECT_EQ(*parse_count("0", 0, 5), 0);
}

TEST(ParseCount, RejectsOutsideTheRangeAndNonNumbers) {
    for (const char* text : {"0", "1001", "abc", "3.5", "", " 1", "1 ", "-1", "+1"}) {
        const auto count = parse_count(text, 1, 1000);
        EXPECT_FALSE(count) << text;
        EXPECT_EQ(count.error(),
                  "expected a number from 1 to 1000, got '" + std::string(text) + "'");
    }
}

TEST(ParseJobsetName, SplitsProjectAndJobset) {
    const auto name = parse_jobset_name("nixpkgs:trunk");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->project, "nixpkgs");
    EXPECT_EQ(name->jobset, "trunk");
    EXPECT_EQ(name->text(), "nixpkgs:trunk");
    EXPECT_EQ(*parse_jobset_name("a-b.c:d_e"), (JobsetName{"a-b.c", "d_e"}));
    EXPECT_TRUE(parse_jobset_name(std::string(200, 'p') + ":" + std::string(200, 'j')));
}

TEST(ParseJobsetName, RejectsWhatIsNoUrlSegment) {
    for (const auto& text : {std::string("nixpkgs"), std::string(":trunk"), std::string("nixpkgs:"),
                             std::string("a:b:c"), std::string("a b:c"), std::string("a:b/c"),
                             std::string(".:x"), std::string("x:.."), std::string("a:b?c"),
                             std::string(201, 'p') + ":j", std::string("")}) {
        const auto name = parse_jobset_name(text);
        EXPECT_FALSE(name) << text;
        EXPECT_EQ(name.error(),
                  "invalid jobset '" + text + "' (expected PROJECT:JOBSET of [A-Za-z0-9_.-])");
    }
}

} // namespace
} // namespace hs::core
