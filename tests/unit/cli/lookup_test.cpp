#include "cli/lookup.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace hs::cli {
namespace {

using core::StatusClass;

int fold(std::initializer_list<StatusClass> classes, bool malformed = false,
         bool no_index = false) {
    ExitTally tally;
    for (const auto cls : classes) {
        tally.add(cls);
    }
    if (malformed) {
        tally.malformed();
    }
    if (no_index) {
        tally.no_index();
    }
    return tally.code();
}

TEST(ExitTally, NothingOrOnlyGoodIsZero) {
    EXPECT_EQ(fold({}), 0);
    EXPECT_EQ(fold({StatusClass::good, StatusClass::good}), 0);
}

TEST(ExitTally, FoldsInTheContractsOrder) {
    // 2, then 5, then 1, 4, 3, 0: each beats everything after it.
    const auto all = {StatusClass::good, StatusClass::unknown, StatusClass::transient,
                      StatusClass::permanent};
    EXPECT_EQ(fold(all, true, true), 2);
    EXPECT_EQ(fold(all, false, true), 5);
    EXPECT_EQ(fold(all), 1);
    EXPECT_EQ(fold({StatusClass::good, StatusClass::unknown, StatusClass::transient}), 4);
    EXPECT_EQ(fold({StatusClass::good, StatusClass::unknown}), 3);
    EXPECT_EQ(fold({StatusClass::unknown, StatusClass::good}), 3); // order does not matter
}

TEST(ExitTally, MalformedKeyWinsEvenWithoutAnswers) {
    EXPECT_EQ(fold({}, true), 2);
    EXPECT_EQ(fold({}, false, true), 5);
}

LookupArgs args(std::vector<std::string> keys) {
    LookupArgs out;
    out.keys = std::move(keys);
    return out;
}

TEST(CheckLookupArgs, KeysAloneAreNoJobQuery) {
    EXPECT_FALSE(check_lookup_args(args({"x"})));
    auto from_stdin = args({});
    from_stdin.from_stdin = true;
    EXPECT_FALSE(check_lookup_args(from_stdin));
}

TEST(CheckLookupArgs, NothingToLookUpIsAUsageError) {
    EXPECT_THROW(check_lookup_args(args({})), UsageError);
}

TEST(CheckLookupArgs, JobAndJobsetGoTogether) {
    auto job = args({});
    job.job = "hello.x86_64-linux";
    EXPECT_THROW(check_lookup_args(job), UsageError);
    auto jobset = args({"x"});
    jobset.jobset = "nixpkgs:trunk";
    EXPECT_THROW(check_lookup_args(jobset), UsageError);
    job.jobset = "nixpkgs:trunk";
    const auto query = check_lookup_args(job);
    ASSERT_TRUE(query);
    EXPECT_EQ(query->job, "hello.x86_64-linux");
    EXPECT_EQ(query->jobset, (core::JobsetName{"nixpkgs", "trunk"}));
}

TEST(CheckLookupArgs, JobsetFollowsTheRuleOfSync) {
    for (const char* bad : {"nixpkgs", "nixpkgs:", ":trunk", "a b:c", "a:b/c", "a:b:c"}) {
        auto job = args({});
        job.job = "hello";
        job.jobset = bad;
        try {
            check_lookup_args(job);
            ADD_FAILURE() << bad;
        } catch (const UsageError& e) {
            EXPECT_EQ(std::string(e.what()), "--jobset: invalid jobset '" + std::string(bad) +
                                                 "' (expected PROJECT:JOBSET of [A-Za-z0-9_.-])");
        }
    }
}

TEST(TrimBlanks, RemovesSpacesTabsAndCarriageReturns) {
    EXPECT_EQ(trim_blanks("  abc \t\r"), "abc");
    EXPECT_EQ(trim_blanks("abc"), "abc");
    EXPECT_EQ(trim_blanks(" a b "), "a b");
    EXPECT_EQ(trim_blanks(" \t\r "), "");
    EXPECT_EQ(trim_blanks(""), "");
}

index::BuildRow row(int64_t id) {
    index::BuildRow out;
    out.build_id = id;
    return out;
}

TEST(PutLatestFirst, MovesTheGreatestBuildIdToTheFront) {
    std::vector<index::BuildRow> rows{row(5), row(9), row(7)};
    EXPECT_TRUE(put_latest_first(rows));
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].build_id, 9);
    EXPECT_EQ(rows[1].build_id, 5);
    EXPECT_EQ(rows[2].build_id, 7);
}

TEST(PutLatestFirst, NoBuildIsFalse) {
    std::vector<index::BuildRow> rows;
    EXPECT_FALSE(put_latest_first(rows));
}

TEST(UnknownJobsetWarning, NothingForAHeldJobset) {
    EXPECT_EQ(unknown_jobset_warning({"nixpkgs", "trunk"}, {"nixos:small", "nixpkgs:trunk"}), "");
}

TEST(UnknownJobsetWarning, NamesWhatTheIndexHolds) {
    EXPECT_EQ(unknown_jobset_warning({"nixpkgs", "nosuch"}, {"nixos:small", "nixpkgs:trunk"}),
              "jobset 'nixpkgs:nosuch' is not in the index (it holds: nixos:small, "
              "nixpkgs:trunk)");
    EXPECT_EQ(unknown_jobset_warning({"a", "b"}, {}),
              "jobset 'a:b' is not in the index (it holds none)");
}

TEST(UnknownJobsetWarning, NamesAtMostEight) {
    std::set<std::string> held;
    for (int i = 0; i < 10; ++i) {
        held.insert("p:j" + std::to_string(i));
    }
    EXPECT_EQ(unknown_jobset_warning({"a", "b"}, held),
              "jobset 'a:b' is not in the index (it holds: p:j0, p:j1, p:j2, p:j3, p:j4, p:j5, "
              "p:j6, p:j7 and 2 more)");
}

} // namespace
} // namespace hs::cli
