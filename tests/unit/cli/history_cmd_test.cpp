#include "cli/history_cmd.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <map>

namespace hs::cli {
namespace {

const std::string k_a(40, 'a');
const std::string k_b(40, 'b');
const std::string k_c(40, 'c');
const std::string k_d(40, 'd');

index::EvalInfo eval(int64_t id, std::vector<std::pair<std::string, std::string>> inputs) {
    return {id, id * 100, std::move(inputs)};
}

// An eval holding the job with this Hydra buildstatus (nullopt: queued;
// -1: the eval does not hold the job).
index::JobEval entry(int64_t eval_id, const std::string& rev, std::optional<int> status) {
    index::JobEval out;
    out.eval = eval(eval_id, {{"nixpkgs", rev}});
    if (status != -1) {
        index::BuildRow row;
        row.build_id = eval_id * 10;
        row.finished = status.has_value();
        row.buildstatus = status;
        out.build = row;
    }
    return out;
}

std::vector<int64_t> ids(const std::vector<index::EvalInfo>& evals) {
    std::vector<int64_t> out;
    for (const auto& e : evals) {
        out.push_back(e.eval_id);
    }
    return out;
}

TEST(ChooseInput, PrefersTheInputNamedLikeTheProject) {
    const std::vector evals{eval(1, {{"nixos-hardware", k_a}, {"nixpkgs", k_b}})};
    EXPECT_EQ(choose_input(evals, "nixpkgs", std::nullopt), "nixpkgs");
}

TEST(ChooseInput, ElseTheOnlyGitInput) {
    const std::vector evals{eval(1, {{"src", k_a}, {"small", "true"}})};
    EXPECT_EQ(choose_input(evals, "hydra", std::nullopt), "src");
}

TEST(ChooseInput, SeveralGitInputsNeedInputNamingThem) {
    const std::vector evals{eval(1, {{"nixpkgs", k_a}, {"hardware", k_b}, {"small", "true"}})};
    try {
        choose_input(evals, "nixos", std::nullopt);
        FAIL() << "no error";
    } catch (const UsageError& error) {
        EXPECT_NE(std::string(error.what()).find("hardware, nixpkgs, small"), std::string::npos)
            << error.what();
        EXPECT_NE(std::string(error.what()).find("--input"), std::string::npos);
    }
    EXPECT_EQ(choose_input(evals, "nixos", "hardware"), "hardware");
}

TEST(ChooseInput, NoGitInputAndNoneNamedLikeTheProjectIsAUsageError) {
    const std::vector evals{eval(1, {{"small", "true"}})};
    EXPECT_THROW(choose_input(evals, "nixos", std::nullopt), UsageError);
}

TEST(ChooseInput, RequestedInputThatNoEvalHasIsAUsageError) {
    const std::vector evals{eval(1, {{"nixpkgs", k_a}})};
    EXPECT_THROW(choose_input(evals, "nixpkgs", "nosuch"), UsageError);
}

TEST(IsGitRevision, FortyOrSixtyFourLowercaseHex) {
    EXPECT_TRUE(is_git_revision(k_a));
    EXPECT_TRUE(is_git_revision(std::string(64, '0')));
    EXPECT_FALSE(is_git_revision("true"));
    EXPECT_FALSE(is_git_revision(std::string(40, 'A')));
    EXPECT_FALSE(is_git_revision(std::string(39, 'a')));
}

TEST(FindBreakage, GoodThenBadAcrossATransientEval) {
    // newest first: 5 failed, 4 failed, 3 aborted, 2 not holding it, 1 succeeded
    const std::vector history{entry(5, k_d, 1), entry(4, k_c, 2), entry(3, k_b, 3),
                              entry(2, k_b, -1), entry(1, k_a, 0)};
    const auto result = find_breakage(history);
    ASSERT_EQ(result.kind, BisectResult::Kind::broke);
    EXPECT_EQ(result.good->eval.eval_id, 1);
    EXPECT_EQ(result.bad->eval.eval_id, 4);
    EXPECT_EQ(ids(result.between), (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(distinct_revisions(result.between, "nixpkgs"), std::vector<std::string>{k_b});
    EXPECT_EQ(bisect_exit_code(result.kind), 1);
}

TEST(FindBreakage, NeverSucceeded) {
    const std::vector history{entry(3, k_c, 1), entry(2, k_b, 1), entry(1, k_a, 7)};
    const auto result = find_breakage(history);
    ASSERT_EQ(result.kind, BisectResult::Kind::never_succeeded);
    EXPECT_EQ(result.bad->eval.eval_id, 2);
    EXPECT_FALSE(result.good.has_value());
    EXPECT_EQ(bisect_exit_code(result.kind), 1);
    EXPECT_STREQ(bisect_kind_name(result.kind), "never-succeeded");
}

TEST(FindBreakage, StillGoodWhenTheNewestVerdictIsASuccess) {
    // a queued build in the newest eval is no verdict: eval 2's success is
    const std::vector history{entry(3, k_c, std::nullopt), entry(2, k_b, 0), entry(1, k_a, 1)};
    const auto result = find_breakage(history);
    EXPECT_EQ(result.kind, BisectResult::Kind::still_good);
    EXPECT_EQ(result.newest->eval.eval_id, 2);
    EXPECT_EQ(bisect_exit_code(result.kind), 0);
}

TEST(FindBreakage, NoVerdict) {
    const std::vector history{entry(2, k_b, 4), entry(1, k_a, -1)};
    EXPECT_EQ(find_breakage(history).kind, BisectResult::Kind::no_verdict);
    EXPECT_EQ(bisect_exit_code(BisectResult::Kind::no_verdict), 0);
}

TEST(BreakageDecided, OnceASuccessIsRead) {
    EXPECT_FALSE(breakage_decided({entry(3, k_c, 1)}));
    EXPECT_FALSE(breakage_decided({entry(3, k_c, 1), entry(2, k_b, 3)}));
    EXPECT_TRUE(breakage_decided({entry(3, k_c, 1), entry(2, k_b, 3), entry(1, k_a, 0)}));
}

TEST(HistoryRows, MarkWhereTheStatusChangedAndSkipEvalsWithoutTheJob) {
    const std::vector history{entry(4, k_d, 1), entry(3, k_c, -1), entry(2, k_b, 0),
                              entry(1, k_a, 0)};
    const auto rows = history_rows(history, 0);
    ASSERT_EQ(rows.size(), 3U);
    EXPECT_EQ(rows[0].eval.eval_id, 4);
    EXPECT_TRUE(rows[0].changed);
    EXPECT_FALSE(rows[1].changed);
    EXPECT_FALSE(rows[2].changed);
    EXPECT_EQ(rows[0].status.word, "failed");
    EXPECT_EQ(history_rows(history, 2).size(), 2U);
}

// Commits a < b < c < x < d on one line; evals 1-4 were built from a, b, c, d.
std::optional<bool> line_ancestry(const std::string& ancestor, const std::string& descendant) {
    static const std::map<std::string, int> order{
        {k_a, 0}, {k_b, 1}, {k_c, 2}, {std::string(40, 'e'), 3}, {k_d, 4}};
    const auto find = [](const std::string& rev) -> std::optional<int> {
        for (const auto& [full, at] : order) {
            if (full.starts_with(rev)) {
                return at;
            }
        }
        return std::nullopt;
    };
    const auto a = find(ancestor);
    const auto d = find(descendant);
    if (!a || !d) {
        return std::nullopt;
    }
    return *a <= *d;
}

std::vector<index::EvalInfo> line_evals() {
    return {eval(5, {{"nixpkgs", k_d}}), eval(4, {{"nixpkgs", k_c}}), eval(3, {{"nixpkgs", k_c}}),
            eval(2, {{"nixpkgs", k_b}}), eval(1, {{"nixpkgs", k_a}})};
}

TEST(MatchRevision, ExactPrefixListsEveryEvalBuiltFromIt) {
    const auto match = match_revision(line_evals(), "nixpkgs", "ccccccc", line_ancestry);
    EXPECT_EQ(match.revision, k_c);
    EXPECT_EQ(ids(match.exact), (std::vector<int64_t>{4, 3}));
    EXPECT_FALSE(match.before.has_value());
}

TEST(MatchRevision, NearestBeforeAndAfter) {
    const auto match = match_revision(line_evals(), "nixpkgs", std::string(40, 'e'), line_ancestry);
    EXPECT_TRUE(match.exact.empty());
    ASSERT_TRUE(match.before.has_value());
    ASSERT_TRUE(match.after.has_value());
    EXPECT_EQ(match.before->eval_id, 4); // the newest eval of c
    EXPECT_EQ(match.after->eval_id, 5);
}

TEST(MatchRevision, AmbiguousPrefixNamesTheRevisions) {
    const std::vector evals{eval(2, {{"nixpkgs", "abcdef1" + std::string(33, '0')}}),
                            eval(1, {{"nixpkgs", "abcdef2" + std::string(33, '0')}})};
    EXPECT_THROW(match_revision(evals, "nixpkgs", "abcdef", line_ancestry), UsageError);
}

TEST(MatchRevision, UnplaceableRevisionSaysGitIsNeeded) {
    const auto nowhere = [](const std::string&, const std::string&) -> std::optional<bool> {
        return std::nullopt;
    };
    try {
        match_revision(line_evals(), "nixpkgs", std::string(40, 'f'), nowhere);
        FAIL() << "no error";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ExitCode::usage);
        EXPECT_NE(std::string(error.what()).find("--repo"), std::string::npos);
    }
}

TEST(CheckRevisionArgument, SevenToSixtyFourHexDigits) {
    EXPECT_NO_THROW(check_revision_argument("abcdef0"));
    EXPECT_THROW(check_revision_argument("abcdef"), UsageError);
    EXPECT_THROW(check_revision_argument("ABCDEF0"), UsageError);
    EXPECT_THROW(check_revision_argument("xyzxyzx"), UsageError);
}

TEST(PickJobset, TheUrlsRowElseTheOnlyOne) {
    index::JobsetState one;
    one.url = "https://a";
    index::JobsetState two;
    two.url = "https://b";
    const core::JobsetName name{"nixpkgs", "trunk"};
    EXPECT_EQ(pick_jobset({one, two}, name, "https://b", {}).url, "https://b");
    EXPECT_EQ(pick_jobset({one}, name, "https://other", {}).url, "https://a");
    EXPECT_THROW(pick_jobset({one, two}, name, "https://other", {}), UsageError);
    try {
        pick_jobset({}, name, "https://a", {"nixpkgs:staging"});
        FAIL() << "no error";
    } catch (const UsageError& error) {
        EXPECT_NE(std::string(error.what()).find("nixpkgs:staging"), std::string::npos);
    }
}

TEST(RunGit, FailsQuietlyOutsideARepository) {
    EXPECT_FALSE(run_git("/nonexistent-dir", {"rev-parse", "HEAD"}).has_value());
}

} // namespace
} // namespace hs::cli
