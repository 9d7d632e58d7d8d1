#include "sync/syncer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace hs::sync {
namespace {

// ---------------------------------------------------------------------------
// choose_method

struct MethodCase {
    const char* name;
    size_t to_fetch;
    size_t members;
    size_t by_id_max;
    FetchMethod expected;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const MethodCase& c, std::ostream* os) {
    *os << c.name;
}

class ChooseMethod : public testing::TestWithParam<MethodCase> {};

TEST_P(ChooseMethod, FollowsTheDocumentedThreshold) {
    const MethodCase& c = GetParam();
    EXPECT_EQ(method_name(choose_method(c.to_fetch, c.members, c.by_id_max)),
              method_name(c.expected));
}

const MethodCase k_method_cases[] = {
    {"NothingToFetchCostsNoRequest", 0, 1000, 100, FetchMethod::by_id},
    {"NothingToFetchEvenWithZeroThreshold", 0, 1000, 0, FetchMethod::by_id},
    {"EmptyEval", 0, 0, 100, FetchMethod::by_id},
    {"OnePercentChanged", 100, 10'000, 100, FetchMethod::by_id},
    {"JustOverTheThreshold", 101, 10'000, 100, FetchMethod::eval_builds},
    {"FirstSyncFetchesEverything", 5000, 5000, 100, FetchMethod::eval_builds},
    {"HalfTheEvalIsStillById", 50, 100, 100, FetchMethod::by_id},
    {"MoreThanHalfTheEval", 51, 100, 100, FetchMethod::eval_builds},
    {"SingleMemberEval", 1, 1, 100, FetchMethod::eval_builds},
    {"TwoMemberEvalOneUnknown", 1, 2, 100, FetchMethod::by_id},
    {"ZeroThresholdAlwaysReadsWhole", 1, 10'000, 0, FetchMethod::eval_builds},
    {"LargeThreshold", 4000, 300'000, 5000, FetchMethod::by_id},
};

INSTANTIATE_TEST_SUITE_P(Table, ChooseMethod, testing::ValuesIn(k_method_cases),
                         [](const auto& row) { return std::string(row.param.name); });

TEST(MethodName, NamesBothMethods) {
    EXPECT_EQ(method_name(FetchMethod::by_id), "by-id");
    EXPECT_EQ(method_name(FetchMethod::eval_builds), "eval-builds");
}

// ---------------------------------------------------------------------------
// plan_recheck

EvalCover cover(int64_t eval_id, size_t members, std::vector<int64_t> pending) {
    EvalCover c;
    c.eval_id = eval_id;
    c.members = members;
    c.pending = std::move(pending);
    return c;
}

std::vector<int64_t> range(int64_t first, int64_t count) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < count; ++i) {
        out.push_back(first + i);
    }
    return out;
}

TEST(PlanRecheck, NothingPendingAndNothingDueIsEmpty) {
    const auto plan = plan_recheck({}, {cover(3, 100, {})}, std::nullopt, 100);
    EXPECT_TRUE(plan.whole_evals.empty());
    EXPECT_TRUE(plan.by_id.empty());
}

TEST(PlanRecheck, FewPendingAreReadById) {
    const auto plan = plan_recheck({7, 3, 5}, {cover(9, 1000, {3, 5, 7})}, std::nullopt, 100);
    EXPECT_TRUE(plan.whole_evals.empty());
    EXPECT_EQ(plan.by_id, (std::vector<int64_t>{3, 5, 7}));
}

TEST(PlanRecheck, ManyPendingInOneEvalAreOneRequest) {
    const auto pending = range(1, 5000);
    const auto plan = plan_recheck(pending, {cover(9, 20'000, pending)}, std::nullopt, 100);
    EXPECT_EQ(plan.whole_evals, (std::vector<int64_t>{9}));
    EXPECT_TRUE(plan.by_id.empty());
}

TEST(PlanRecheck, DueEvalIsReadWholeAndCoversItsPending) {
    const auto plan =
        plan_recheck({1, 2, 50}, {cover(9, 1000, {1, 2}), cover(4, 1000, {50})}, 9, 100);
    EXPECT_EQ(plan.whole_evals, (std::vector<int64_t>{9}));
    EXPECT_EQ(plan.by_id, (std::vector<int64_t>{50}));
}

TEST(PlanRecheck, DueEvalWithoutCoverIsStillRead) {
    const auto plan = plan_recheck({}, {}, 12, 100);
    EXPECT_EQ(plan.whole_evals, (std::vector<int64_t>{12}));
    EXPECT_TRUE(plan.by_id.empty());
}

TEST(PlanRecheck, SmallEvalMostlyPendingIsReadWhole) {
    // Eval 5 has 10 members, 8 of them pending: one request instead of 8.
    const auto plan = plan_recheck({1, 2, 3, 4, 5, 6, 7, 8, 100},
                                   {cover(9, 1000, {100}), cover(5, 10, {1, 2, 3, 4, 5, 6, 7, 8})},
                                   std::nullopt, 100);
    EXPECT_EQ(plan.whole_evals, (std::vector<int64_t>{5}));
    EXPECT_EQ(plan.by_id, (std::vector<int64_t>{100}));
}

TEST(PlanRecheck, GreedyTakesTheLargestCoverFirstAndSkipsRedundantEvals) {
    // Eval 9 covers 300 pending builds, eval 8 covers 250 of the same ones
    // and 20 more: after eval 9, eval 8 covers only 20, which go by id.
    const auto a = range(1, 300);
    auto b = range(51, 250);
    const auto extra = range(1001, 20);
    b.insert(b.end(), extra.begin(), extra.end());
    auto pending = a;
    pending.insert(pending.end(), extra.begin(), extra.end());
    const auto plan =
        plan_recheck(pending, {cover(8, 10'000, b), cover(9, 10'000, a)}, std::nullopt, 100);
    EXPECT_EQ(plan.whole_evals, (std::vector<int64_t>{9}));
    EXPECT_EQ(plan.by_id, extra);
}

TEST(PlanRecheck, SpreadOutPendingStayById) {
    // 50 pending in each of three large evals: each stays under the threshold.
    std::vector<EvalCover> evals;
    std::vector<int64_t> pending;
    for (int64_t e = 0; e < 3; ++e) {
        const auto ids = range(1 + e * 1000, 50);
        evals.push_back(cover(10 - e, 100'000, ids));
        pending.insert(pending.end(), ids.begin(), ids.end());
    }
    const auto plan = plan_recheck(pending, evals, std::nullopt, 100);
    EXPECT_TRUE(plan.whole_evals.empty());
    EXPECT_EQ(plan.by_id.size(), 150U);
}

TEST(PlanRecheck, PendingInNoEvalGoById) {
    const auto plan = plan_recheck({42}, {cover(9, 10, {})}, std::nullopt, 100);
    EXPECT_TRUE(plan.whole_evals.empty());
    EXPECT_EQ(plan.by_id, (std::vector<int64_t>{42}));
}

TEST(PlanRecheck, ZeroThresholdReadsEveryCoveringEvalWhole) {
    const auto plan =
        plan_recheck({1, 2}, {cover(9, 1000, {1}), cover(8, 1000, {2})}, std::nullopt, 0);
    EXPECT_EQ(plan.whole_evals.size(), 2U);
    EXPECT_TRUE(plan.by_id.empty());
}

// ---------------------------------------------------------------------------
// The request budget

TEST(BudgetStops, NeverBeforeTheFirstStep) {
    EXPECT_FALSE(budget_stops(5, 1, 0));
    EXPECT_FALSE(budget_stops(1'000'000, 1, 0));
}

TEST(BudgetStops, OnceSpentAfterAStep) {
    EXPECT_FALSE(budget_stops(9, 10, 1));
    EXPECT_TRUE(budget_stops(10, 10, 1));
    EXPECT_TRUE(budget_stops(11, 10, 3));
}

TEST(RequestCap, LeavesRoomForTheStepInProgress) {
    // A step may need by_id_max builds of max_tries tries each.
    EXPECT_GE(request_cap(10, 100, 6), 10U + 100U * 6U);
    EXPECT_GE(request_cap(10'000, 0, 1), 10'001U);
    EXPECT_LT(request_cap(10, 100, 6), 10'000U);
}

TEST(RequestCap, DoesNotOverflow) {
    constexpr uint64_t k_max = std::numeric_limits<uint64_t>::max();
    EXPECT_EQ(request_cap(k_max, 100, 6), k_max);
    EXPECT_EQ(request_cap(k_max - 10, 100'000, 100), k_max);
    EXPECT_GE(request_cap(1, std::numeric_limits<size_t>::max(), 100), 1U);
}

// ---------------------------------------------------------------------------
// Listing pages

TEST(IsPageQuery, AcceptsOnlyPageNumbers) {
    EXPECT_TRUE(is_page_query("?page=2"));
    EXPECT_TRUE(is_page_query("?page=12345"));
    EXPECT_FALSE(is_page_query("?page="));
    EXPECT_FALSE(is_page_query("?page=2&x=1"));
    EXPECT_FALSE(is_page_query("?page=-1"));
    EXPECT_FALSE(is_page_query("page=2"));
    EXPECT_FALSE(is_page_query("https://evil.example/?page=2"));
    EXPECT_FALSE(is_page_query("?page=123456789012345"));
    EXPECT_FALSE(is_page_query(""));
}

} // namespace
} // namespace hs::sync
