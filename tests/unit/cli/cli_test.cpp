#include "cli/cli.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hs::cli {
namespace {

const std::vector<std::string> k_commands{"lookup", "sync",   "gate",  "info",
                                          "record", "forget", "config"};

TEST(EditDistance, CountsEditsOfOneCharacter) {
    EXPECT_EQ(edit_distance("", ""), 0u);
    EXPECT_EQ(edit_distance("sync", "sync"), 0u);
    EXPECT_EQ(edit_distance("synk", "sync"), 1u);  // substitution
    EXPECT_EQ(edit_distance("syn", "sync"), 1u);   // insertion
    EXPECT_EQ(edit_distance("synnc", "sync"), 1u); // deletion
    EXPECT_EQ(edit_distance("", "gate"), 4u);
    EXPECT_EQ(edit_distance("gate", ""), 4u);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(EditDistance, SwapOfNeighboursIsOneEdit) {
    EXPECT_EQ(edit_distance("gaet", "gate"), 1u);
    EXPECT_EQ(edit_distance("conifg", "config"), 1u);
    EXPECT_EQ(edit_distance("ab", "ba"), 1u);
    EXPECT_EQ(edit_distance("abc", "ca"), 3u); // optimal string alignment, not Damerau
}

TEST(EditDistance, IsSymmetric) {
    for (const auto& a : k_commands) {
        for (const auto& b : {"synk", "lokup", "gaet", "x", ""}) {
            EXPECT_EQ(edit_distance(a, b), edit_distance(b, a)) << a << " " << b;
        }
    }
}

TEST(Nearest, SuggestsTheCommandATypoMeant) {
    EXPECT_EQ(nearest("synk", k_commands), "sync");
    EXPECT_EQ(nearest("lokup", k_commands), "lookup");
    EXPECT_EQ(nearest("gaet", k_commands), "gate");
    EXPECT_EQ(nearest("conifg", k_commands), "config");
    EXPECT_EQ(nearest("recrod", k_commands), "record");
    EXPECT_EQ(nearest("froget", k_commands), "forget");
    EXPECT_EQ(nearest("--stdn", {"--stdin", "--all", "--json"}), "--stdin");
}

TEST(Nearest, SuggestsNothingForFarWords) {
    EXPECT_EQ(nearest("xyzzy", k_commands), "");
    EXPECT_EQ(nearest("show", k_commands), "");
    EXPECT_EQ(nearest("s", k_commands), "");
    EXPECT_EQ(nearest("", k_commands), "");
    // Short words allow one edit only: "snc" -> "sync" is one, "sy" is two.
    EXPECT_EQ(nearest("snc", k_commands), "sync");
    EXPECT_EQ(nearest("sy", k_commands), "");
    EXPECT_EQ(nearest("synk", {}), "");
}

TEST(Nearest, AnExactMatchIsNoTypo) {
    EXPECT_EQ(nearest("sync", {"sync"}), "");
}

TEST(Nearest, FirstOfEqualCandidatesWins) {
    EXPECT_EQ(nearest("inf", {"info", "inxf"}), "info");
    EXPECT_EQ(nearest("inf", {"inxf", "info"}), "inxf");
}

} // namespace
} // namespace hs::cli
