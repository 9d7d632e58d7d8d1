#include "support.hpp"
#include "sync/syncer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
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
    bool eval_builds_usable;
    FetchMethod expected;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const MethodCase& c, std::ostream* os) {
    *os << c.name;
}

class ChooseMethod : public testing::TestWithParam<MethodCase> {};

TEST_P(ChooseMethod, FollowsTheCostModelAndItsBounds) {
    const MethodCase& c = GetParam();
    EXPECT_EQ(method_name(choose_method(c.to_fetch, c.members, c.by_id_max, c.eval_builds_usable)),
              method_name(c.expected));
}

constexpr auto k_by_id = FetchMethod::by_id;
constexpr auto k_whole = FetchMethod::eval_builds;

const MethodCase k_method_cases[] = {
    {"NothingToFetchCostsNoRequest", 0, 1000, 100, true, k_by_id},
    {"NothingToFetchEvenWithZeroBound", 0, 1000, 0, true, k_by_id},
    {"EmptyEval", 0, 0, 100, true, k_by_id},
    {"TrunkNewEvalIsById", 5000, 250'000, 10'000, true, k_by_id},
    {"TrunkNewEvalPastTheTimeBound", 10'001, 250'000, 10'000, true, k_whole},
    {"FirstSyncFetchesEverything", 250'000, 250'000, 10'000, true, k_whole},
    // 50 * (1 + 1) = 100 objects by id, 100 + 1 whole.
    {"HalfTheEvalIsStillById", 50, 100, 10'000, true, k_by_id},
    {"MoreThanHalfTheEval", 51, 100, 10'000, true, k_whole},
    // 2 objects either way, and the same bytes and requests: one request
    // for the whole eval.
    {"SingleMemberEvalIsATie", 1, 1, 10'000, true, k_whole},
    {"TwoMemberEvalOneUnknown", 1, 2, 10'000, true, k_by_id},
    {"ZeroBoundAlwaysReadsWhole", 1, 10'000, 0, true, k_whole},
    {"FailedEvalBuildsIsById", 250'000, 250'000, 10'000, false, k_by_id},
    {"FailedEvalBuildsIsByIdPastTheBound", 20'000, 250'000, 0, false, k_by_id},
};

INSTANTIATE_TEST_SUITE_P(Table, ChooseMethod, testing::ValuesIn(k_method_cases),
                         [](const auto& row) { return std::string(row.param.name); });

TEST(FetchCost, CountsHydrasObjectsBytesAndRequests) {
    // nixpkgs:trunk, a new eval: 5,000 new builds of 250,000.
    const auto by_id = fetch_cost(FetchMethod::by_id, 5000, 250'000);
    const auto whole = fetch_cost(FetchMethod::eval_builds, 5000, 250'000);
    EXPECT_EQ(by_id.hydra_objects, 10'000);
    EXPECT_EQ(whole.hydra_objects, 250'001);
    EXPECT_EQ(by_id.bytes, 5000 * (k_build_object_bytes + k_request_bytes));
    EXPECT_EQ(whole.bytes, 250'000 * k_build_object_bytes + k_request_bytes);
    EXPECT_EQ(by_id.requests, 5000);
    EXPECT_EQ(whole.requests, 1);
    EXPECT_LT(by_id, whole);
}

TEST(FetchCost, HydrasWorkDecidesBeforeBytes) {
    // Fewer objects wins even with more bytes.
    EXPECT_LT((FetchCost{10, 1e9, 1e6}), (FetchCost{11, 1, 1}));
    EXPECT_LT((FetchCost{10, 5, 1e6}), (FetchCost{10, 6, 1}));
    EXPECT_LT((FetchCost{10, 5, 1}), (FetchCost{10, 5, 2}));
}

index::JobsetState failed_state(int64_t at, int64_t members) {
    index::JobsetState state;
    state.eval_builds_failed_at = at;
    state.eval_builds_failed_members = members;
    return state;
}

TEST(EvalBuildsUsable, WithoutAFailureItIs) {
    EXPECT_TRUE(eval_builds_usable(index::JobsetState{}, 250'000, 1000, 604'800));
}

TEST(EvalBuildsUsable, NotForAsLargeAnEvalWithinTheRetryTime) {
    const auto state = failed_state(1000, 250'000);
    EXPECT_FALSE(eval_builds_usable(state, 250'000, 1000, 604'800));
    EXPECT_FALSE(eval_builds_usable(state, 260'000, 1000 + 604'799, 604'800));
    EXPECT_TRUE(eval_builds_usable(state, 260'000, 1000 + 604'800, 604'800));
}

TEST(EvalBuildsUsable, ASmallerEvalMayTry) {
    EXPECT_TRUE(eval_builds_usable(failed_state(1000, 250'000), 249'999, 1001, 604'800));
}

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
    // A step may need k_by_id_batch builds of max_tries tries each.
    EXPECT_GE(request_cap(10, 6), 10U + k_by_id_batch * 6U);
    EXPECT_GE(request_cap(10'000, 1), 10'001U);
    EXPECT_LT(request_cap(10, 6), 10'000U);
}

TEST(RequestCap, DoesNotOverflow) {
    constexpr uint64_t k_max = std::numeric_limits<uint64_t>::max();
    EXPECT_EQ(request_cap(k_max, 6), k_max);
    EXPECT_EQ(request_cap(k_max - 10, 100), k_max);
    EXPECT_GE(request_cap(1, 100), 1U);
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

// ---------------------------------------------------------------------------
// BuildStager

// A build element whose drv and output paths are valid store paths.
std::string build_json(int64_t id, const std::string& drvpath = {}, const std::string& out = {}) {
    const std::string hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + std::to_string(10 + id % 90);
    return R"({"id":)" + std::to_string(id) + R"(,"finished":1,"buildstatus":0,"drvpath":")" +
           (drvpath.empty() ? "/nix/store/" + hash + "-x.drv" : drvpath) +
           R"(","project":"p","jobset":"j","job":"x","system":"s","buildoutputs":{"out":)" +
           R"({"path":")" + (out.empty() ? "/nix/store/" + hash + "-x" : out) + R"("}}})";
}

std::string array_of(const std::vector<std::string>& elements) {
    std::string out = "[";
    for (size_t i = 0; i < elements.size(); ++i) {
        out += (i ? "," : "") + elements[i];
    }
    return out + "]";
}

std::string builds_array(const std::vector<int64_t>& ids) {
    std::vector<std::string> elements;
    for (const int64_t id : ids) {
        elements.push_back(build_json(id));
    }
    return array_of(elements);
}

// Records what BuildStager hands over: the ids of each batch (written on
// the stager's thread: read them after settle() or finish()).
struct BatchLog {
    std::vector<std::vector<int64_t>> batches;
    std::string refuse; // returned by write_batch; change it only when settled

    BuildStager stager(JsonParser& parser, size_t batch_size, size_t batch_bytes = 1 << 20) {
        return BuildStager(parser, BatchLimits{batch_size, batch_bytes},
                           [this](std::span<const core::BuildRecord> batch) {
                               std::vector<int64_t> ids;
                               for (const auto& record : batch) {
                                   ids.push_back(record.id);
                               }
                               batches.push_back(ids);
                               return refuse.empty() ? Expected<void>()
                                                     : Expected<void>(Unexpected{refuse});
                           });
    }
};

// Feeds text in chunks of `size` bytes; false as soon as write() refuses.
bool feed(BuildStager& stager, std::string_view text, size_t size) {
    for (size_t at = 0; at < text.size(); at += size) {
        if (!stager.write(text.substr(at, size))) {
            return false;
        }
    }
    return true;
}

TEST(BuildStager, WritesEachFullBatchWhileTheAnswerArrivesAndTheRestAtTheEnd) {
    JsonParser parser;
    BatchLog log;
    auto stager = log.stager(parser, 3);
    stager.reset();
    ASSERT_TRUE(feed(stager, builds_array({7, 3, 9, 1, 4, 8, 2}), 17)) << stager.error();
    // Two full batches were handed over while the answer arrived: the end
    // of the answer is never awaited with a full batch staged.
    ASSERT_TRUE(stager.settle());
    EXPECT_EQ(log.batches, (std::vector<std::vector<int64_t>>{{7, 3, 9}, {1, 4, 8}}));
    ASSERT_TRUE(stager.finish()) << stager.error();
    EXPECT_EQ(log.batches.back(), std::vector<int64_t>{2});
    EXPECT_EQ(stager.builds(), 7U);
    EXPECT_EQ(stager.batches(), 3U);
    EXPECT_EQ(stager.take_ids(), (std::vector<int64_t>{1, 2, 3, 4, 7, 8, 9}));
}

TEST(BuildStager, ParsesTheNextBatchWhileOneIsWritten) {
    JsonParser parser;
    std::promise<void> go;
    const auto released = go.get_future().share();
    std::vector<std::vector<int64_t>> batches;
    bool waited_for_the_parser = false;
    BuildStager stager(parser, BatchLimits{3, 1 << 20}, [&](auto batch) {
        if (batches.empty()) { // the first batch is written once the test says so
            waited_for_the_parser =
                released.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
        }
        batches.emplace_back();
        for (const auto& record : batch) {
            batches.back().push_back(record.id);
        }
        return Expected<void>();
    });
    stager.reset();
    // Builds 4 and 5 are parsed and staged while batch 1-3 is held in
    // write_batch: with one thread, feed() would wait there (30 s, then fail).
    const std::string text = builds_array({1, 2, 3, 4, 5, 6});
    const size_t sixth = text.find(build_json(6));
    ASSERT_NE(sixth, std::string::npos);
    ASSERT_TRUE(feed(stager, text.substr(0, sixth), 7));
    EXPECT_EQ(stager.builds(), 5U);
    go.set_value();
    ASSERT_TRUE(feed(stager, text.substr(sixth), 7));
    ASSERT_TRUE(stager.finish()) << stager.error();
    EXPECT_TRUE(waited_for_the_parser);
    EXPECT_EQ(batches, (std::vector<std::vector<int64_t>>{{1, 2, 3}, {4, 5, 6}}));
}

TEST(BuildStager, LeavesTheLockFreeForMillisecondsBetweenBatches) {
    // So that a `record` waiting for the sync's lock finds a moment to take
    // it (Database tries every millisecond).
    using Clock = std::chrono::steady_clock;
    JsonParser parser;
    std::vector<std::pair<Clock::time_point, Clock::time_point>> spans; // of each batch
    BuildStager stager(parser, BatchLimits{1, 1 << 20}, [&](auto /*batch*/) {
        const auto start = Clock::now();
        spans.emplace_back(start, Clock::now());
        return Expected<void>();
    });
    stager.reset();
    ASSERT_TRUE(feed(stager, builds_array({1, 2, 3, 4, 5}), 1 << 20));
    ASSERT_TRUE(stager.finish());
    ASSERT_EQ(spans.size(), 5U);
    for (size_t i = 1; i < spans.size(); ++i) {
        EXPECT_GE(spans[i].first - spans[i - 1].second, std::chrono::milliseconds(10)) << i;
    }
}

TEST(BuildStager, NoBatchIsLargerThanTheBatchSize) {
    JsonParser parser;
    BatchLog log;
    auto stager = log.stager(parser, 4);
    stager.reset();
    std::vector<int64_t> ids;
    for (int64_t id = 1; id <= 41; ++id) {
        ids.push_back(id);
    }
    // One chunk holding the whole answer still gives batches of 4.
    ASSERT_TRUE(feed(stager, builds_array(ids), 1 << 20));
    ASSERT_TRUE(stager.finish());
    ASSERT_EQ(log.batches.size(), 11U);
    for (const auto& batch : log.batches) {
        EXPECT_LE(batch.size(), 4U);
    }
    EXPECT_EQ(log.batches.back().size(), 1U);
}

TEST(BuildStager, LargeElementsFillABatchBeforeItsCount) {
    JsonParser parser;
    BatchLog log;
    const size_t size = build_json(1).size();
    auto stager = log.stager(parser, 1000, 3 * size);
    stager.reset();
    ASSERT_TRUE(feed(stager, builds_array({1, 2, 3, 4, 5, 6, 7}), 100));
    ASSERT_TRUE(stager.finish());
    EXPECT_EQ(log.batches, (std::vector<std::vector<int64_t>>{{1, 2, 3}, {4, 5, 6}, {7}}));
}

TEST(BuildStager, AStagedRecordKeepsNothingOfTheBuildBeforeIt) {
    // Records are reused from batch to batch: a build without status,
    // times or outputs must not inherit those of the build staged before.
    JsonParser parser;
    std::vector<core::BuildRecord> written;
    BuildStager stager(parser, BatchLimits{1, 1 << 20}, [&](auto batch) {
        written.insert(written.end(), batch.begin(), batch.end());
        return Expected<void>();
    });
    stager.reset();
    const std::string bare = R"({"id":2,"finished":0,"buildstatus":null,"drvpath":)"
                             R"("/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-y.drv",)"
                             R"("project":"p","jobset":"j","job":"y","system":"s"})";
    const std::string timed =
        build_json(1).substr(0, build_json(1).size() - 1) + R"(,"starttime":5,"stoptime":6})";
    ASSERT_TRUE(feed(stager, array_of({timed, bare}), 9)) << stager.error();
    ASSERT_TRUE(stager.finish());
    ASSERT_EQ(written.size(), 2U);
    EXPECT_EQ(written[0].stoptime, 6);
    EXPECT_EQ(written[0].outputs.size(), 1U);
    EXPECT_EQ(written[1].id, 2);
    EXPECT_FALSE(written[1].finished);
    EXPECT_FALSE(written[1].buildstatus.has_value());
    EXPECT_FALSE(written[1].starttime.has_value());
    EXPECT_FALSE(written[1].stoptime.has_value());
    EXPECT_TRUE(written[1].outputs.empty());
    EXPECT_EQ(written[1].job, "y");
}

TEST(BuildStager, AnEmptyAnswerWritesNothing) {
    JsonParser parser;
    BatchLog log;
    auto stager = log.stager(parser, 3);
    stager.reset();
    ASSERT_TRUE(feed(stager, " [ ] ", 1));
    ASSERT_TRUE(stager.finish());
    EXPECT_TRUE(log.batches.empty());
    EXPECT_EQ(stager.builds(), 0U);
}

TEST(BuildStager, ATruncatedAnswerDoesNotWriteItsStagedTail) {
    JsonParser parser;
    BatchLog log;
    auto stager = log.stager(parser, 3);
    stager.reset();
    const std::string text = builds_array({1, 2, 3, 4, 5});
    ASSERT_TRUE(feed(stager, text.substr(0, text.size() - 1), 64));
    EXPECT_FALSE(stager.finish());
    EXPECT_FALSE(stager.error().empty());
    ASSERT_TRUE(stager.settle());
    EXPECT_EQ(log.batches, (std::vector<std::vector<int64_t>>{{1, 2, 3}}));
}

TEST(BuildStager, ResetStartsOverWithoutTheStagedBuildsOfTheFailedTry) {
    JsonParser parser;
    BatchLog log;
    auto stager = log.stager(parser, 3);
    stager.reset();
    const std::string first = builds_array({1, 2, 3, 4, 5});
    ASSERT_TRUE(feed(stager, first.substr(0, first.size() - 1), 64)); // connection lost
    stager.reset(); // the retry: after the batch being written
    ASSERT_EQ(log.batches.size(), 1U);
    ASSERT_TRUE(feed(stager, builds_array({1, 2, 3, 4, 6}), 64));
    ASSERT_TRUE(stager.finish());
    // Builds 4 and 5 of the failed try were staged, never written; the
    // retry writes its own builds, the first three again (upserts).
    EXPECT_EQ(log.batches, (std::vector<std::vector<int64_t>>{{1, 2, 3}, {1, 2, 3}, {4, 6}}));
    EXPECT_EQ(stager.builds(), 5U);
    EXPECT_EQ(stager.batches(), 2U);
    EXPECT_EQ(stager.take_ids(), (std::vector<int64_t>{1, 2, 3, 4, 6}));
}

TEST(BuildStager, AnInvalidBuildStopsTheTransferBeforeItIsStaged) {
    JsonParser parser;
    for (const auto& bad : {build_json(2, "/nix/store/eeee-x.drv"),
                            build_json(2, "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x"),
                            build_json(2, {}, "/tmp/x"), build_json(0), std::string("17")}) {
        BatchLog log;
        auto stager = log.stager(parser, 1);
        stager.reset();
        EXPECT_FALSE(feed(stager, array_of({build_json(1), bad, build_json(3)}), 7)) << bad;
        EXPECT_TRUE(stager.error().starts_with("element 2: ")) << stager.error();
        // The build before it was written (batches of 1), the bad one never.
        EXPECT_TRUE(stager.settle());
        EXPECT_EQ(log.batches, (std::vector<std::vector<int64_t>>{{1}})) << bad;
    }
}

TEST(BuildStager, ARefusedBatchStopsTheTransferAndNamesItsElements) {
    JsonParser parser;
    BatchLog log;
    log.refuse = "no room";
    auto stager = log.stager(parser, 2);
    stager.reset();
    // Seen when the next batch is handed over (or at the end).
    EXPECT_FALSE(feed(stager, builds_array({1, 2, 3, 4, 5}), 1024));
    EXPECT_EQ(stager.error(), "elements 1-2 not written: no room");
    EXPECT_EQ(stager.builds(), 4U); // 3-4 staged, not written
    EXPECT_EQ(log.batches.size(), 1U);
    log.refuse.clear();
    stager.reset();
    ASSERT_TRUE(feed(stager, builds_array({1, 2, 3}), 1024));
    ASSERT_TRUE(stager.settle());
    log.refuse = "disk full";
    EXPECT_FALSE(stager.finish());
    EXPECT_EQ(stager.error(), "elements 3-3 not written: disk full");
    EXPECT_EQ(stager.batches(), 1U);
}

// ---------------------------------------------------------------------------
// JobsetSync, through run_sync with a fake Hydra and a real index

constexpr const char* k_url = "https://hydra.example";
// The listing read as HTML, as FakeHydra logs it; these tests without an
// HTML page (404) read the JSON listing.
constexpr const char* k_probe = "html /jobset/p/j/evals";

// A build element; unfinished builds have no status.
std::string build_element(int64_t id, bool finished) {
    const std::string json = build_json(id);
    if (finished) {
        return json;
    }
    std::string out = json;
    out.replace(out.find(R"("finished":1,"buildstatus":0)"), 28,
                R"("finished":0,"buildstatus":null)");
    return out;
}

std::string eval_json(int64_t id, const std::vector<int64_t>& builds) {
    std::string out = R"({"id":)" + std::to_string(id) + R"(,"builds":[)";
    for (size_t i = 0; i < builds.size(); ++i) {
        out += (i ? "," : "") + std::to_string(builds[i]);
    }
    return out + "]}";
}

// Hydra's evals listing as HTML (as root/common.tt renders it) for rows
// newest first, the page `page` of 20 in `total` evals.
std::string evals_html(const std::vector<EvalRow>& rows, int64_t page = 1, int64_t total = -1) {
    const int64_t first = (page - 1) * 20 + 1;
    const int64_t shown = static_cast<int64_t>(rows.size());
    if (total < 0) {
        total = first - 1 + shown;
    }
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                      "<title>Hydra - Evaluations of jobset p:j</title>\n</head>\n<body>\n"
                      "<p>Showing evaluations " +
                      std::to_string(first) + " - " + std::to_string(first - 1 + shown) +
                      " out of " + std::to_string(total) + ".</p>\n<table>\n<tbody>";
    const auto badge = [](const char* kind, int64_t count, bool always) {
        return count > 0 || always ? "<span class=\"badge badge-" + std::string(kind) + "\">" +
                                         std::to_string(count) + "</span>"
                                   : std::string();
    };
    for (const auto& row : rows) {
        const std::string id = std::to_string(row.id);
        out += "<tr>\n<td><a class=\"row-link\" href=\"" + std::string(k_url) + "/eval/" + id +
               "\">" + id + "</a></td>\n<td class=\"nowrap\"><time data-timestamp=\"" +
               std::to_string(row.timestamp) + "\">x</time></td>\n<td>-</td>\n<td>" +
               badge("success", row.succeeded, true) + "</td>\n<td>" +
               badge("danger", row.failed, false) + "</td>\n<td>" +
               badge("secondary", row.queued, false) + "</td>\n<td></td>\n</tr>";
    }
    return out + "</tbody>\n</table>\n</body>\n</html>\n";
}

// A short build object of GET /api/latestbuilds.
std::string latest_json(int64_t id, int status = 0) {
    return R"({"id":)" + std::to_string(id) + R"(,"finished":1,"buildstatus":)" +
           std::to_string(status) + R"(,"project":"p","jobset":"j","job":"x","system":"s"})";
}

// Hydra as a table of answers, keyed by path ("/build/7"); a path without
// an answer is a 404. Every request is logged.
class FakeHydra : public HydraSource {
public:
    struct Answer {
        std::string body;
        Failure failure = Failure::none; // after `cut` bytes of body were sent
        size_t cut = std::string::npos;
        bool gave_up = false; // the failure is a 504, a timeout or a reset
        std::string message = "connection reset";
        Validators validators;
        bool not_modified = false; // to a conditional request
    };
    std::map<std::string, Answer> answers;
    std::vector<std::string> log;
    std::vector<Validators> conditionals;                // sent with each evals page
    uint64_t cap = std::numeric_limits<uint64_t>::max(); // the client's hard cap

    void page(const std::string& query, const std::vector<std::string>& evals,
              const std::string& next = {}) {
        answers["/jobset/p/j/evals" + query].body =
            R"({"evals":)" + array_of(evals) +
            (next.empty() ? "" : R"(,"next":")" + next + R"(")") + "}";
    }
    void builds(const std::string& path, const std::vector<std::string>& elements) {
        answers[path].body = array_of(elements);
    }

    // The listing as HTML (page 1 unless `query`).
    void html(const std::vector<EvalRow>& rows, const std::string& query = {}, int64_t total = -1) {
        const int64_t page = query.empty() ? 1 : std::stoll(query.substr(6));
        answers["html /jobset/p/j/evals" + query].body = evals_html(rows, page, total);
    }
    // An eval object (GET /eval/<id>).
    void eval(int64_t id, const std::vector<int64_t>& members) {
        answers["/eval/" + std::to_string(id)].body = eval_json(id, members);
    }

    FetchResult evals_page(const std::string& project, const std::string& jobset,
                           const std::string& query, BodySink& sink,
                           const Validators& conditional) override {
        conditionals.push_back(conditional);
        return answer("/jobset/" + project + "/" + jobset + "/evals" + query, sink, conditional);
    }
    FetchResult eval_builds(int64_t eval_id, BodySink& sink) override {
        return answer("/eval/" + std::to_string(eval_id) + "/builds", sink, {});
    }
    FetchResult build(int64_t build_id, BodySink& sink) override {
        return answer("/build/" + std::to_string(build_id), sink, {});
    }
    // The listing as HTML is logged as "html /jobset/p/j/evals".
    FetchResult evals_html_page(const std::string& project, const std::string& jobset,
                                const std::string& query, BodySink& sink) override {
        return answer("html /jobset/" + project + "/" + jobset + "/evals" + query, sink, {});
    }
    FetchResult eval(int64_t eval_id, BodySink& sink) override {
        return answer("/eval/" + std::to_string(eval_id), sink, {});
    }
    FetchResult latest_builds(const std::string& project, const std::string& jobset, uint64_t nr,
                              BodySink& sink) override {
        return answer("/api/latestbuilds?nr=" + std::to_string(nr) + "&project=" + project +
                          "&jobset=" + jobset,
                      sink, {});
    }
    uint64_t requests() const override { return log.size(); }
    uint64_t bytes() const override { return m_bytes; }
    bool budget_spent() const override { return log.size() >= cap; }

private:
    FetchResult answer(const std::string& path, BodySink& sink, const Validators& conditional) {
        FetchResult result;
        const std::string shown = path.starts_with("html ") ? path.substr(5) : path;
        const std::string prefix = "unable to download '" + std::string(k_url) + shown + "': ";
        if (budget_spent()) {
            result.failure = Failure::cancelled;
            result.message = prefix + "request budget spent";
            return result;
        }
        log.push_back(path);
        result.tries = 1;
        const auto it = answers.find(path);
        if (it == answers.end()) {
            result.failure = Failure::not_found;
            result.message = prefix + "HTTP error 404";
            return result;
        }
        const Answer& a = it->second;
        if (a.not_modified && !conditional.empty()) {
            result.not_modified = true;
            result.validators = a.validators;
            return result;
        }
        sink.reset();
        const auto sent = std::string_view(a.body).substr(0, a.cut);
        m_bytes += sent.size();
        if (!sink.write(sent)) {
            result.failure = Failure::malformed;
            result.message = prefix + sink.error();
        } else if (a.failure != Failure::none) {
            result.failure = a.failure;
            result.gave_up = a.gave_up;
            result.message = prefix + a.message;
        } else if (!sink.finish()) {
            result.failure = Failure::malformed;
            result.message = prefix + sink.error();
        } else {
            result.validators = a.validators;
        }
        return result;
    }

    uint64_t m_bytes = 0;
};

struct Recorder : SyncObserver {
    std::vector<std::string> done; // "<eval> <builds> <method>"
    std::vector<std::string> warnings;
    void on_eval_done(const std::string&, int64_t eval_id, uint64_t builds,
                      const std::string& method) override {
        done.push_back(std::to_string(eval_id) + " " + std::to_string(builds) + " " + method);
    }
    void on_warning(const std::string& message) override { warnings.push_back(message); }
    std::vector<std::string> incomplete; // "<eval> <have> <members> <remaining>"
    void on_eval_incomplete(const std::string&, int64_t eval_id, uint64_t have, uint64_t members,
                            uint64_t remaining) override {
        incomplete.push_back(std::to_string(eval_id) + " " + std::to_string(have) + " " +
                             std::to_string(members) + " " + std::to_string(remaining));
    }
};

class SyncRun : public testing::Test {
protected:
    SyncRun() : m_index(index::IndexWriter::open((m_dir.path() / "index").string())) {
        options.url = k_url;
        options.jobsets = {{"p", "j"}};
        options.now = 1'000'000;
    }

    SyncSummary run() {
        hydra.log.clear();
        recorder = Recorder{};
        return run_sync(m_index, hydra, options, recorder);
    }

    index::JobsetState state() { return m_index.reader().find_jobset(k_url, "p", "j"); }
    bool has_eval(int64_t eval_id) { return m_index.reader().has_eval(state().instance, eval_id); }
    std::vector<int64_t> unfinished() { return m_index.reader().unfinished_builds(state().id); }
    int64_t count_builds() {
        int64_t count = 0;
        for (const auto& info : m_index.reader().jobsets()) {
            count += info.builds;
        }
        return count;
    }

    test::TempDir m_dir;
    index::IndexWriter m_index;

public:
    FakeHydra hydra;
    SyncOptions options;
    Recorder recorder;
};

TEST_F(SyncRun, FirstSyncIngestsTheNewestMaxEvalsOldestFirst) {
    options.max_evals = 2;
    hydra.page("", {eval_json(30, {3}), eval_json(20, {2})}, "?page=2");
    hydra.page("?page=2", {eval_json(10, {1})});
    for (const int64_t id : {1, 2, 3}) {
        hydra.builds("/eval/" + std::to_string(id * 10) + "/builds", {build_json(id)});
    }
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_TRUE(summary.jobsets.at(0).completed);
    // Enough evals on the first page: the second is never asked for.
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/eval/20/builds",
                                                   "/eval/30/builds"}));
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 1 eval-builds", "30 1 eval-builds"}));
    EXPECT_FALSE(has_eval(10));
    EXPECT_EQ(state().newest_eval, 30);
    EXPECT_EQ(state().synced_at, options.now);
}

TEST_F(SyncRun, LaterSyncFollowsPagesUntilTheNewestIngestedEval) {
    hydra.page("", {eval_json(10, {})});
    ASSERT_TRUE(run().all_ok());
    hydra.page("", {eval_json(40, {}), eval_json(30, {})}, "?page=2");
    hydra.page("?page=2", {eval_json(30, {}), eval_json(20, {}), eval_json(10, {})}, "?page=3");
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    // Eval 10 is known: page 3 is not read; 30, repeated by offset paging,
    // is ingested once.
    EXPECT_EQ(hydra.log,
              (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/jobset/p/j/evals?page=2"}));
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 0 by-id", "30 0 by-id", "40 0 by-id"}));
}

TEST_F(SyncRun, AnUnchangedListingIsAskedForConditionallyAndEndsTheJobset) {
    hydra.page("", {eval_json(10, {})});
    hydra.answers["/jobset/p/j/evals"].validators = {"\"v1\"", ""};
    ASSERT_TRUE(run().all_ok());
    EXPECT_TRUE(hydra.conditionals.back().empty()); // a first sync asks plainly
    hydra.answers["/jobset/p/j/evals"].not_modified = true;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok());
    EXPECT_TRUE(summary.jobsets.at(0).not_modified);
    EXPECT_TRUE(summary.jobsets.at(0).completed);
    EXPECT_EQ(hydra.conditionals.back().etag, "\"v1\"");
    EXPECT_EQ(state().etag, "\"v1\"");
}

TEST_F(SyncRun, AJobsetHydraDoesNotHaveFailsAndTheNextOneStillSyncs) {
    options.jobsets = {{"p", "gone"}, {"p", "j"}};
    hydra.page("", {eval_json(10, {})});
    const auto summary = run();
    ASSERT_EQ(summary.jobsets.size(), 2U);
    EXPECT_FALSE(summary.jobsets[0].ok);
    EXPECT_EQ(summary.jobsets[0].failure, Failure::not_found);
    EXPECT_TRUE(summary.jobsets[0].error.starts_with("jobset p:gone does not exist on " +
                                                     std::string(k_url)))
        << summary.jobsets[0].error;
    EXPECT_TRUE(summary.jobsets[1].completed);
}

TEST_F(SyncRun, ManyUnknownBuildsAreReadWithOneEvalBuildsRequest) {
    hydra.page("", {eval_json(10, {1, 2, 3})});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2), build_json(3)});
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log,
              (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/eval/10/builds"}));
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"10 3 eval-builds"}));
    EXPECT_EQ(count_builds(), 3);
}

TEST_F(SyncRun, OnlyTheBuildsTheIndexLacksAreFetchedById) {
    hydra.page("", {eval_json(10, {1, 2, 3, 4})});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2), build_json(3), build_json(4)});
    ASSERT_TRUE(run().all_ok());
    hydra.page("", {eval_json(20, {1, 2, 3, 4, 5}), eval_json(10, {})});
    hydra.answers["/build/5"].body = build_json(5);
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/build/5"}));
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 1 by-id"}));
}

TEST_F(SyncRun, MembersEvalBuildsLacksAreFetchedByIdAndGoneOnesSkipped) {
    hydra.page("", {eval_json(10, {1, 2, 3, 4})});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2)});
    hydra.answers["/build/3"].body = build_json(3); // build 4 is gone (404)
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/eval/10/builds",
                                                   "/build/3", "/build/4"}));
    ASSERT_EQ(recorder.warnings.size(), 2U);
    EXPECT_EQ(recorder.warnings[0],
              "p:j: eval 10: /eval/10/builds lacks 2 member build(s); fetching them by id");
    EXPECT_EQ(recorder.warnings[1],
              "p:j: build 4 is gone from " + std::string(k_url) + "; skipped");
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"10 3 eval-builds"}));
    EXPECT_TRUE(has_eval(10));
}

TEST_F(SyncRun, AFetchFailingMidwayLeavesItsEvalUncommittedAndEarlierOnesComplete) {
    options.max_evals = 2;
    hydra.page("", {eval_json(20, {3, 4, 5}), eval_json(10, {1, 2})});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2)});
    hydra.builds("/eval/20/builds", {build_json(3), build_json(4), build_json(5)});
    auto& cut = hydra.answers["/eval/20/builds"];
    cut.cut = cut.body.size() / 2;
    cut.failure = Failure::transient;
    const auto summary = run();
    ASSERT_EQ(summary.jobsets.size(), 1U);
    const auto& outcome = summary.jobsets[0];
    EXPECT_FALSE(outcome.ok);
    EXPECT_FALSE(outcome.completed);
    EXPECT_EQ(outcome.failure, Failure::transient);
    EXPECT_EQ(outcome.error, "eval 20: unable to download '" + std::string(k_url) +
                                 "/eval/20/builds': connection reset");
    EXPECT_TRUE(has_eval(10));
    EXPECT_FALSE(has_eval(20));
    EXPECT_EQ(state().newest_eval, 10);
    EXPECT_FALSE(state().synced_at.has_value());
    // The next run starts with the eval that failed.
    cut.cut = std::string::npos;
    cut.failure = Failure::none;
    ASSERT_TRUE(run().all_ok());
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 3 eval-builds"}));
}

TEST_F(SyncRun, AMalformedBuildFailsTheJobsetWithoutCommittingItsEval) {
    hydra.page("", {eval_json(10, {1, 2, 3, 4})});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2), build_json(3), build_json(4)});
    ASSERT_TRUE(run().all_ok());
    hydra.page("", {eval_json(20, {1, 2, 3, 4, 5}), eval_json(10, {})});
    hydra.answers["/build/5"].body = build_json(6); // answers another build
    const auto summary = run();
    const auto& outcome = summary.jobsets.at(0);
    EXPECT_FALSE(outcome.ok);
    EXPECT_EQ(outcome.failure, Failure::malformed);
    EXPECT_EQ(outcome.error, "eval 20: '" + std::string(k_url) + "/build/5': answered build 6");
    EXPECT_FALSE(has_eval(20));
    EXPECT_EQ(state().newest_eval, 10);
}

TEST_F(SyncRun, TheBudgetStopsBeforeTheNextEvalButNotBeforeTheFirst) {
    options.max_evals = 3;
    options.max_requests = 1; // spent by the listing already
    hydra.page("", {eval_json(30, {3}), eval_json(20, {2}), eval_json(10, {1})});
    for (const int64_t id : {1, 2, 3}) {
        hydra.builds("/eval/" + std::to_string(id * 10) + "/builds", {build_json(id)});
    }
    const auto summary = run();
    EXPECT_EQ(summary.stopped, StopReason::budget);
    ASSERT_EQ(summary.jobsets.size(), 1U);
    EXPECT_TRUE(summary.jobsets[0].ok);
    EXPECT_FALSE(summary.jobsets[0].completed);
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"10 1 eval-builds"}));
    EXPECT_FALSE(has_eval(20));
    // The next run goes on where this one stopped.
    EXPECT_EQ(run().stopped, StopReason::budget);
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 1 eval-builds"}));
}

TEST_F(SyncRun, UnfinishedBuildsAreRecheckedByIdAndTheirNewStateWritten) {
    hydra.page("", {eval_json(10, {1, 2, 3, 4})});
    hydra.builds("/eval/10/builds",
                 {build_json(1), build_json(2), build_element(3, false), build_element(4, false)});
    ASSERT_TRUE(run().all_ok());
    EXPECT_EQ(unfinished(), (std::vector<int64_t>{3, 4}));
    hydra.answers["/build/3"].body = build_json(3);
    hydra.answers["/build/4"].body = build_element(4, false);
    options.now += 60; // the newest eval is not due yet
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(summary.jobsets[0].rechecked, 2U);
    EXPECT_EQ(hydra.log.at(0), k_probe);
    EXPECT_EQ(hydra.log.at(1), "/jobset/p/j/evals");
    EXPECT_EQ(hydra.log.at(2), "/api/latestbuilds?nr=2&project=p&jobset=j"); // 404 here
    EXPECT_EQ(std::set<std::string>(hydra.log.begin() + 3, hydra.log.end()),
              (std::set<std::string>{"/build/3", "/build/4"}));
    EXPECT_EQ(unfinished(), std::vector<int64_t>{4});
}

TEST_F(SyncRun, TheNewestEvalIsReadWholeOncePerRecheckInterval) {
    hydra.page("", {eval_json(10, {1, 2})});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2)});
    ASSERT_TRUE(run().all_ok());
    options.now += options.recheck_interval - 1;
    ASSERT_TRUE(run().all_ok());
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/jobset/p/j/evals"}));
    options.now += 1;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok());
    EXPECT_EQ(hydra.log,
              (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/eval/10/builds"}));
    EXPECT_EQ(summary.jobsets[0].rechecked, 2U);
    EXPECT_EQ(state().rechecked_at, options.now);
}

TEST_F(SyncRun, AFailedRecheckBatchKeepsTheBatchesCommittedBeforeIt) {
    // k_by_id_batch + 1 pending builds in an eval of three times as many:
    // by id, in two batches.
    const auto pending = static_cast<int64_t>(k_by_id_batch) + 1;
    std::vector<int64_t> members;
    std::vector<std::string> elements;
    for (int64_t id = 1; id <= 3 * pending; ++id) {
        members.push_back(id);
        elements.push_back(build_element(id, id > pending));
        if (id <= pending) {
            hydra.answers["/build/" + std::to_string(id)].body = build_json(id);
        }
    }
    hydra.page("", {eval_json(10, members)});
    hydra.builds("/eval/10/builds", elements);
    ASSERT_TRUE(run().all_ok());
    ASSERT_EQ(unfinished().size(), static_cast<size_t>(pending));
    hydra.answers["/build/" + std::to_string(pending)].failure = Failure::transient;
    const int64_t synced_at = options.now;
    // The batches start where the clock says: at the first build when now
    // is a multiple of the count.
    options.now += pending - options.now % pending;
    const auto summary = run();
    EXPECT_FALSE(summary.jobsets.at(0).ok);
    // The listing as HTML (404 here), the JSON listing, latestbuilds (404).
    EXPECT_EQ(hydra.log.size(), 3U + static_cast<size_t>(pending));
    EXPECT_EQ(hydra.log.back(), "/build/" + std::to_string(pending));
    EXPECT_EQ(summary.jobsets[0].rechecked, k_by_id_batch);
    EXPECT_EQ(unfinished(), std::vector<int64_t>{pending});
    EXPECT_EQ(state().synced_at, synced_at); // this run did not complete
}

// --- /eval/<id>/builds giving up: by id instead, resumable ----------------

// An eval `eval_id` of builds first..first+count-1, each answerable by id,
// listed alone; /eval/<id>/builds gives up (504, a timeout or a reset) after
// half its answer, with `message`.
void large_eval(FakeHydra& hydra, int64_t eval_id, int64_t first, int64_t count,
                const std::string& message) {
    std::vector<int64_t> members;
    std::vector<std::string> elements;
    for (int64_t id = first; id < first + count; ++id) {
        members.push_back(id);
        elements.push_back(build_json(id));
        hydra.answers["/build/" + std::to_string(id)].body = build_json(id);
    }
    hydra.page("", {eval_json(eval_id, members)});
    const std::string path = "/eval/" + std::to_string(eval_id) + "/builds";
    hydra.builds(path, elements);
    auto& answer = hydra.answers[path];
    answer.cut = answer.body.size() / 2;
    answer.failure = Failure::transient;
    answer.gave_up = true;
    answer.message = message;
}

size_t count_of(const std::vector<std::string>& log, std::string_view prefix) {
    return static_cast<size_t>(std::count_if(
        log.begin(), log.end(), [&](const std::string& p) { return p.starts_with(prefix); }));
}

class EvalBuildsGaveUp : public SyncRun, public testing::WithParamInterface<const char*> {};

TEST_P(EvalBuildsGaveUp, TheEvalIsReadByIdInTheSameRunWithoutAskingAgain) {
    large_eval(hydra, 10, 1, 5, GetParam());
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_TRUE(summary.jobsets[0].completed);
    EXPECT_EQ(hydra.log,
              (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/eval/10/builds", "/build/1",
                                        "/build/2", "/build/3", "/build/4", "/build/5"}));
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"10 5 by-id"}));
    ASSERT_EQ(recorder.warnings.size(), 1U);
    EXPECT_EQ(recorder.warnings[0], "p:j: eval 10: unable to download '" + std::string(k_url) +
                                        "/eval/10/builds': " + GetParam() +
                                        "; not asked again, its builds are read by id");
    EXPECT_TRUE(has_eval(10));
    EXPECT_EQ(count_builds(), 5);
    EXPECT_EQ(state().eval_builds_failed_at, options.now);
    EXPECT_EQ(state().eval_builds_failed_members, 5);
}

INSTANTIATE_TEST_SUITE_P(Failures, EvalBuildsGaveUp,
                         testing::Values("HTTP error 504", "operation timed out after 900000 ms",
                                         "connection reset by peer"),
                         [](const auto& row) {
                             return std::string(row.index == 0   ? "GatewayTimeout"
                                                : row.index == 1 ? "Timeout"
                                                                 : "Reset");
                         });

TEST_F(SyncRun, OtherFailuresOfEvalBuildsStillFailTheJobset) {
    large_eval(hydra, 10, 1, 5, "HTTP error 503 (gave up after 6 tries)");
    hydra.answers["/eval/10/builds"].gave_up = false;
    const auto summary = run();
    EXPECT_FALSE(summary.jobsets.at(0).ok);
    EXPECT_EQ(count_of(hydra.log, "/build/"), 0U);
    EXPECT_FALSE(state().eval_builds_failed_at.has_value());
}

TEST_F(SyncRun, TheFailureIsRememberedForEvalsAsLargeUntilTheRetryTime) {
    large_eval(hydra, 10, 1, 5, "HTTP error 504");
    ASSERT_TRUE(run().all_ok());
    // A new eval as large, all new: by id, /eval/20/builds never asked.
    large_eval(hydra, 20, 101, 5, "HTTP error 504");
    hydra.answers["/eval/20/builds"] = {};
    hydra.builds("/eval/20/builds", {build_json(101)}); // would be wrong if asked
    options.now += 3600;
    auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(count_of(hydra.log, "/eval/"), 0U);
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 5 by-id"}));
    // A smaller eval may try /eval/<id>/builds.
    large_eval(hydra, 30, 201, 4, "");
    hydra.answers["/eval/30/builds"] = {};
    hydra.builds("/eval/30/builds",
                 {build_json(201), build_json(202), build_json(203), build_json(204)});
    summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"30 4 eval-builds"}));
    // Past eval-builds-retry, an eval as large tries it again.
    large_eval(hydra, 40, 301, 6, "");
    hydra.answers["/eval/40/builds"] = {};
    hydra.builds("/eval/40/builds", {build_json(301), build_json(302), build_json(303),
                                     build_json(304), build_json(305), build_json(306)});
    options.now = *state().eval_builds_failed_at + options.eval_builds_retry;
    summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"40 6 eval-builds"}));
}

TEST_F(SyncRun, AByIdReadResumesAcrossRunsWithinTheBudget) {
    const auto batch = static_cast<int64_t>(k_by_id_batch);
    const int64_t members = 2 * batch + batch / 2;
    large_eval(hydra, 10, 1, members, "HTTP error 504");
    options.max_requests = static_cast<uint64_t>(batch) + 20;
    auto summary = run();
    // The listing, /eval/10/builds, then batches of k_by_id_batch until
    // the budget is spent: two (the first always, the second as 102 < 120).
    EXPECT_EQ(summary.stopped, StopReason::budget);
    EXPECT_TRUE(summary.jobsets.at(0).ok);
    EXPECT_FALSE(summary.jobsets[0].completed);
    EXPECT_EQ(summary.jobsets[0].builds, static_cast<uint64_t>(2 * batch)); // written
    EXPECT_EQ(count_of(hydra.log, "/eval/10/builds"), 1U);
    EXPECT_EQ(count_of(hydra.log, "/build/"), static_cast<size_t>(2 * batch));
    EXPECT_EQ(recorder.incomplete, (std::vector<std::string>{"10 " + std::to_string(2 * batch) +
                                                             " " + std::to_string(members) + " " +
                                                             std::to_string(batch / 2)}));
    // The builds are in, the eval is not: a committed eval never names a
    // build the index lacks.
    EXPECT_FALSE(has_eval(10));
    EXPECT_EQ(count_builds(), 2 * batch);
    EXPECT_FALSE(state().newest_eval.has_value());
    // The next run goes on by id with the rest, without /eval/10/builds.
    options.now += 3600;
    summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(summary.stopped, StopReason::none);
    EXPECT_TRUE(summary.jobsets[0].completed);
    EXPECT_EQ(count_of(hydra.log, "/eval/"), 0U);
    EXPECT_EQ(count_of(hydra.log, "/build/"), static_cast<size_t>(batch / 2));
    EXPECT_EQ(hydra.log.at(2), "/build/" + std::to_string(2 * batch + 1));
    EXPECT_TRUE(has_eval(10));
    EXPECT_EQ(count_builds(), members);
    EXPECT_EQ(recorder.done,
              (std::vector<std::string>{"10 " + std::to_string(batch / 2) + " by-id"}));
}

// ---------------------------------------------------------------------------
// The listing as HTML, and re-checks at scale

TEST(UseLatestBuilds, AsksWhenTheShortListCostsHydraLessThanEveryPendingBuild) {
    EXPECT_FALSE(use_latest_builds(0, 0));
    EXPECT_FALSE(use_latest_builds(1, 4)); // 4/4 + 1 = 2 objects: as much as one by id
    EXPECT_TRUE(use_latest_builds(1, 3));
    EXPECT_TRUE(use_latest_builds(2, 11));
    EXPECT_FALSE(use_latest_builds(2, 12));
    EXPECT_TRUE(use_latest_builds(5000, 30'000)); // trunk after a new eval
    EXPECT_FALSE(use_latest_builds(100'000, k_latest_max + 1));
    EXPECT_TRUE(use_latest_builds(100'000, k_latest_max));
}

TEST(JudgeLatest, ListedPendingBuildsFinishedAndAShortAnswerCoversTheRest) {
    const std::vector<LatestBuild> answer{{9, true, 0}, {7, true, 1}, {2, true, 0}};
    const auto verdict = judge_latest({3, 7, 8, 9}, answer, 10);
    EXPECT_EQ(verdict.finished, (std::vector<int64_t>{7, 9}));
    EXPECT_TRUE(verdict.uncovered.empty()); // 3 and 8 are still unfinished
}

TEST(JudgeLatest, AFullAnswerCannotTellAboutOlderBuilds) {
    const std::vector<LatestBuild> answer{{9, true, 0}, {7, true, 1}};
    const auto verdict = judge_latest({3, 5, 7, 8}, answer, 2);
    EXPECT_EQ(verdict.finished, std::vector<int64_t>{7});
    EXPECT_EQ(verdict.uncovered, (std::vector<int64_t>{3, 5}));
}

TEST_F(SyncRun, FirstSyncFromTheHtmlListingReadsEvalObjectsNotTheJsonListing) {
    options.max_evals = 2;
    hydra.html({{30, 100, 1, 0, 0}, {20, 90, 1, 0, 0}, {10, 80, 1, 0, 0}});
    hydra.eval(20, {2});
    hydra.eval(30, {3});
    hydra.builds("/eval/20/builds", {build_json(2)});
    hydra.builds("/eval/30/builds", {build_json(3)});
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_TRUE(summary.jobsets[0].completed);
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/eval/20", "/eval/20/builds",
                                                   "/eval/30", "/eval/30/builds"}));
    EXPECT_TRUE(recorder.warnings.empty());
    EXPECT_EQ(state().newest_eval, 30);
    EXPECT_EQ(state().listing_digest,
              listing_digest({{30, 100, 1, 0, 0}, {20, 90, 1, 0, 0}, {10, 80, 1, 0, 0}}));
}

TEST_F(SyncRun, NothingChangedIsOneRequestWhateverIsPending) {
    hydra.html({{10, 100, 1, 0, 1}});
    hydra.eval(10, {1, 2});
    hydra.builds("/eval/10/builds", {build_json(1), build_element(2, false)});
    ASSERT_TRUE(run().all_ok());
    ASSERT_EQ(unfinished(), std::vector<int64_t>{2});
    options.now += 3600;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok());
    EXPECT_TRUE(summary.jobsets[0].completed);
    EXPECT_EQ(hydra.log, std::vector<std::string>{k_probe});
    EXPECT_EQ(summary.jobsets[0].requests, 1U);
    EXPECT_EQ(state().synced_at, options.now);
}

TEST_F(SyncRun, NewEvalsAreReadByEvalObjectAndOnlyTheirUnknownBuildsFetched) {
    hydra.html({{10, 100, 4, 0, 0}});
    hydra.eval(10, {1, 2, 3, 4});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2), build_json(3), build_json(4)});
    ASSERT_TRUE(run().all_ok());
    hydra.html({{20, 200, 5, 0, 0}, {10, 100, 4, 0, 0}});
    hydra.eval(20, {1, 2, 3, 4, 5});
    hydra.answers["/build/5"].body = build_json(5);
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/eval/20", "/build/5"}));
    EXPECT_EQ(recorder.done, (std::vector<std::string>{"20 1 by-id"}));
}

TEST_F(SyncRun, TheHtmlListingIsPagedOnlyWhileEveryEvalIsNew) {
    hydra.html({{10, 100, 0, 0, 0}});
    hydra.eval(10, {});
    ASSERT_TRUE(run().all_ok());
    // 45 evals: page 1 (40..21) all new, page 2 reaches eval 10.
    std::vector<EvalRow> page1;
    std::vector<EvalRow> page2;
    for (int64_t id = 40; id > 20; --id) {
        page1.push_back({id, id, 0, 0, 0});
        hydra.eval(id, {});
    }
    for (int64_t id = 20; id > 9; --id) {
        page2.push_back({id, id, 0, 0, 0});
        hydra.eval(id, {});
    }
    hydra.html(page1, "", 45);
    hydra.html(page2, "?page=2", 45);
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log.at(0), k_probe);
    EXPECT_EQ(hydra.log.at(1), "html /jobset/p/j/evals?page=2");
    EXPECT_EQ(hydra.log.at(2), "/eval/11");
    EXPECT_EQ(summary.jobsets[0].evals, 30U);
    EXPECT_EQ(state().newest_eval, 40);
}

TEST_F(SyncRun, ANonsensePageFallsBackToTheJsonListingWithOneWarning) {
    hydra.answers[k_probe].body =
        "<!DOCTYPE html>\n<html><head><title>Quiet Harbor</title></head><body>"
        "<p>orbit <a href=\"/eval/12\">lantern</a></p></body></html>\n";
    hydra.page("", {eval_json(10, {1})});
    hydra.builds("/eval/10/builds", {build_json(1)});
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log,
              (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/eval/10/builds"}));
    ASSERT_EQ(recorder.warnings.size(), 1U);
    EXPECT_EQ(recorder.warnings[0],
              "p:j: the evals listing as HTML is not Hydra's page ('" + std::string(k_url) +
                  "/jobset/p/j/evals': not Hydra's evaluations page (title)); reading the JSON "
                  "listing instead");
    EXPECT_TRUE(has_eval(10));
    EXPECT_EQ(state().listing_digest, ""); // the next run re-checks what is pending
}

TEST_F(SyncRun, AnEmptyHtmlListingWhereTheIndexHasEvalsIsNotTrusted) {
    hydra.html({{10, 100, 1, 0, 0}});
    hydra.eval(10, {1});
    hydra.builds("/eval/10/builds", {build_json(1)});
    ASSERT_TRUE(run().all_ok());
    hydra.html({});
    hydra.page("", {eval_json(10, {1})});
    ASSERT_TRUE(run().all_ok());
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/jobset/p/j/evals"}));
    EXPECT_EQ(recorder.warnings.size(), 1U);
}

TEST_F(SyncRun, AFinishedBuildIsLearnedFromLatestBuildsAndOnlyItIsReRead) {
    hydra.html({{10, 100, 1, 0, 3}});
    hydra.eval(10, {1, 2, 3, 4});
    hydra.builds("/eval/10/builds", {build_json(1), build_element(2, false),
                                     build_element(3, false), build_element(4, false)});
    ASSERT_TRUE(run().all_ok());
    ASSERT_EQ(unfinished(), (std::vector<int64_t>{2, 3, 4}));
    // Build 3 finished: the counts changed.
    hydra.html({{10, 100, 2, 0, 2}});
    hydra.answers["/api/latestbuilds?nr=3&project=p&jobset=j"].body =
        array_of({latest_json(3), latest_json(1)});
    hydra.answers["/build/3"].body = build_json(3);
    options.now += 3600;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log, (std::vector<std::string>{
                             k_probe, "/api/latestbuilds?nr=3&project=p&jobset=j", "/build/3"}));
    EXPECT_EQ(summary.jobsets[0].rechecked, 1U);
    EXPECT_EQ(unfinished(), (std::vector<int64_t>{2, 4}));
}

TEST_F(SyncRun, PendingBuildsAFullLatestBuildsAnswerCannotCoverGoById) {
    options.max_evals = 2;
    // Builds 5-9 of eval 20 are newer than pending build 2 of eval 10.
    hydra.html({{20, 200, 4, 0, 1}, {10, 100, 1, 0, 1}});
    hydra.eval(10, {1, 2});
    hydra.eval(20, {5, 6, 7, 8, 9});
    hydra.builds("/eval/10/builds", {build_json(1), build_element(2, false)});
    hydra.builds("/eval/20/builds", {build_json(5), build_json(6), build_json(7), build_json(8),
                                     build_element(9, false)});
    ASSERT_TRUE(run().all_ok());
    ASSERT_EQ(unfinished(), (std::vector<int64_t>{2, 9}));
    hydra.html({{20, 200, 5, 0, 0}, {10, 100, 1, 0, 1}});
    // nr = 6 (builds 2, 5-9); Hydra has 6 newer finished ones, so build 2
    // (older than the oldest listed) is not covered.
    hydra.answers["/api/latestbuilds?nr=6&project=p&jobset=j"].body =
        array_of({latest_json(10), latest_json(9), latest_json(8), latest_json(7), latest_json(6),
                  latest_json(5)});
    hydra.answers["/build/2"].body = build_element(2, false);
    hydra.answers["/build/9"].body = build_json(9);
    options.now += 3600;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log.at(1), "/api/latestbuilds?nr=6&project=p&jobset=j");
    EXPECT_EQ(std::set<std::string>(hydra.log.begin() + 2, hydra.log.end()),
              (std::set<std::string>{"/build/2", "/build/9"}));
    EXPECT_EQ(unfinished(), std::vector<int64_t>{2});
}

TEST_F(SyncRun, ARefusedLatestBuildsAnswerFallsBackToReadingPendingById) {
    hydra.html({{10, 100, 1, 0, 2}});
    hydra.eval(10, {1, 2, 3});
    hydra.builds("/eval/10/builds",
                 {build_json(1), build_element(2, false), build_element(3, false)});
    ASSERT_TRUE(run().all_ok());
    hydra.html({{10, 100, 2, 0, 1}});
    hydra.answers["/api/latestbuilds?nr=2&project=p&jobset=j"].body = R"({"error":"x"})";
    hydra.answers["/build/2"].body = build_json(2);
    hydra.answers["/build/3"].body = build_element(3, false);
    options.now += 3600;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log.at(1), "/api/latestbuilds?nr=2&project=p&jobset=j");
    EXPECT_EQ(std::set<std::string>(hydra.log.begin() + 2, hydra.log.end()),
              (std::set<std::string>{"/build/2", "/build/3"}));
    ASSERT_EQ(recorder.warnings.size(), 1U);
    EXPECT_TRUE(recorder.warnings[0].ends_with("re-reading 2 unfinished build(s) by id"))
        << recorder.warnings[0];
    EXPECT_EQ(unfinished(), std::vector<int64_t>{3});
}

TEST_F(SyncRun, TheNewestEvalIsStillReadWholeOncePerIntervalWhenTheCostModelSaysSo) {
    hydra.html({{10, 100, 2, 0, 0}});
    hydra.eval(10, {1, 2});
    hydra.builds("/eval/10/builds", {build_json(1), build_json(2)});
    ASSERT_TRUE(run().all_ok());
    options.now += options.recheck_interval;
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok());
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/eval/10/builds"}));
    EXPECT_EQ(state().rechecked_at, options.now);
    // Not due again: one request.
    options.now += 60;
    ASSERT_TRUE(run().all_ok());
    EXPECT_EQ(hydra.log, std::vector<std::string>{k_probe});
}

TEST_F(SyncRun, ARestartedFailureIsSeenWhenTheFailedCountDropsAndReadById) {
    hydra.html({{10, 100, 1, 2, 0}});
    hydra.eval(10, {1, 2, 3});
    auto failed = [](int64_t id) {
        std::string json = build_json(id);
        json.replace(json.find(R"("buildstatus":0)"), 15, R"("buildstatus":1)");
        return json;
    };
    hydra.builds("/eval/10/builds", {build_json(1), failed(2), failed(3)});
    ASSERT_TRUE(run().all_ok());
    ASSERT_TRUE(unfinished().empty());
    // Build 3 was restarted: one failed fewer, one queued.
    hydra.html({{10, 100, 1, 1, 1}});
    hydra.answers["/build/2"].body = failed(2);
    hydra.answers["/build/3"].body = build_element(3, false);
    options.now += 3600; // not due
    const auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log, (std::vector<std::string>{k_probe, "/build/2", "/build/3"}));
    EXPECT_EQ(unfinished(), std::vector<int64_t>{3});
    ASSERT_EQ(recorder.warnings.size(), 1U);
    EXPECT_EQ(recorder.warnings[0], "p:j: eval 10 shows 1 failed build(s) where the index has 2; "
                                    "re-reading those by id");
}

TEST_F(SyncRun, ADueNewestEvalThatEvalBuildsCannotServeGoesByIdForItsFailedBuildsOnly) {
    auto failed = [](int64_t id) {
        std::string json = build_json(id);
        json.replace(json.find(R"("buildstatus":0)"), 15, R"("buildstatus":1)");
        return json;
    };
    hydra.html({{10, 100, 1, 2, 0}});
    hydra.eval(10, {1, 2, 3});
    hydra.builds("/eval/10/builds", {build_json(1), failed(2), failed(3)});
    auto& builds = hydra.answers["/eval/10/builds"];
    builds.cut = builds.body.size() / 2;
    builds.failure = Failure::transient;
    builds.gave_up = true; // a 504: the eval is read by id, and that is remembered
    hydra.answers["/build/1"].body = build_json(1);
    hydra.answers["/build/2"].body = failed(2);
    hydra.answers["/build/3"].body = failed(3);
    ASSERT_TRUE(run().all_ok());
    ASSERT_TRUE(state().eval_builds_failed_at.has_value());
    // Due, and /eval/10/builds unusable: not read whole. The listing shows
    // as many failed builds as the index has: nothing to re-read.
    options.now += options.recheck_interval;
    auto summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log, std::vector<std::string>{k_probe});
    EXPECT_EQ(state().rechecked_at, options.now);
    // Due again without the listing as HTML: its failed builds by id.
    hydra.answers.erase(k_probe);
    hydra.page("", {eval_json(10, {1, 2, 3})});
    options.now += options.recheck_interval;
    summary = run();
    ASSERT_TRUE(summary.all_ok()) << summary.jobsets.at(0).error;
    EXPECT_EQ(hydra.log,
              (std::vector<std::string>{k_probe, "/jobset/p/j/evals", "/build/2", "/build/3"}));
    EXPECT_EQ(state().rechecked_at, options.now);
}

TEST_F(SyncRun, AStopRequestEndsTheRunBeforeTheNextStep) {
    std::atomic<bool> stop{true};
    options.stop = &stop;
    hydra.page("", {eval_json(10, {})});
    const auto summary = run();
    EXPECT_EQ(summary.stopped, StopReason::signal);
    EXPECT_TRUE(summary.jobsets.empty());
    EXPECT_TRUE(hydra.log.empty());
}

} // namespace
} // namespace hs::sync
