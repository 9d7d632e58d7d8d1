#include "cli/report_cmd.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace hs::cli {
namespace {

// name ids: 1 x86_64-linux, 2 aarch64-linux, jobs from 10 on
const std::vector<std::string> k_names{"",
                                       "x86_64-linux",
                                       "aarch64-linux",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "hello",
                                       "curl",
                                       "perl",
                                       "git",
                                       "openssl",
                                       "python2",
                                       "<script>alert('x')</script>&\""};

index::EvalMember member(int64_t build_id, int64_t job, int64_t system, std::optional<int> status) {
    index::EvalMember m;
    m.build_id = build_id;
    m.job = job;
    m.system = system;
    m.finished = status.has_value();
    m.buildstatus = status;
    return m;
}

index::EvalContents contents(int64_t id, std::vector<index::EvalMember> builds) {
    index::EvalContents out;
    out.eval = {id, id * 1000, {{"nixpkgs", std::string(40, static_cast<char>('a' + id % 6))}}};
    out.builds = std::move(builds);
    return out;
}

// against (eval 1) -> eval 2:
//   hello  succeeded -> failed            newly failing (x86_64)
//   curl   failed (same build)            still failing (x86_64)
//   perl   failed -> succeeded            newly fixed (aarch64)
//   git    aborted -> failed              newly failing (aarch64)
//   openssl                               new
//   python2                               removed
//   hostile succeeded -> queued           not listed
Report sample() {
    const auto against =
        contents(1, {member(1, 10, 1, 0), member(2, 11, 1, 1), member(3, 12, 2, 1),
                     member(4, 13, 2, 3), member(6, 15, 1, 0), member(7, 16, 1, 0)});
    const auto eval =
        contents(2, {member(2, 11, 1, 1), member(10, 10, 1, 1), member(11, 12, 2, 0),
                     member(12, 13, 2, 1), member(13, 14, 1, 0), member(14, 16, 1, std::nullopt)});
    auto report = compare_evals(eval, against, k_names);
    report.url = "https://hydra.example.org";
    report.jobset = "nixpkgs:trunk";
    return report;
}

size_t total(const Report& report, Change change) {
    return report.totals[static_cast<size_t>(change)];
}

TEST(CompareEvals, SortsEveryJobIntoItsCategory) {
    const auto report = sample();
    EXPECT_EQ(total(report, Change::newly_failing), 2U);
    EXPECT_EQ(total(report, Change::newly_fixed), 1U);
    EXPECT_EQ(total(report, Change::still_failing), 1U);
    EXPECT_EQ(total(report, Change::new_job), 1U);
    EXPECT_EQ(total(report, Change::removed_job), 1U);
    ASSERT_EQ(report.rows.size(), 6U);
    EXPECT_EQ(report.rows[0].change, Change::newly_failing);
    EXPECT_EQ(report.rows[0].job, "git"); // aarch64-linux sorts first
    EXPECT_EQ(report.rows[0].before->status.word, "aborted");
    EXPECT_EQ(report.rows[1].job, "hello");
    EXPECT_EQ(report.rows[1].now->build_id, 10);
    EXPECT_EQ(report.rows[1].before->build_id, 1);
    EXPECT_EQ(report.rows[4].change, Change::new_job);
    EXPECT_FALSE(report.rows[4].before.has_value());
    EXPECT_EQ(report.rows[5].job, "python2");
    EXPECT_FALSE(report.rows[5].now.has_value());
}

TEST(CompareEvals, CountsPerSystem) {
    const auto report = sample();
    const auto& x86 = report.by_system.at("x86_64-linux");
    const auto& arm = report.by_system.at("aarch64-linux");
    EXPECT_EQ(x86[static_cast<size_t>(Change::newly_failing)], 1U);
    EXPECT_EQ(x86[static_cast<size_t>(Change::still_failing)], 1U);
    EXPECT_EQ(arm[static_cast<size_t>(Change::newly_failing)], 1U);
    EXPECT_EQ(arm[static_cast<size_t>(Change::newly_fixed)], 1U);
    EXPECT_EQ(report_exit_code(report), 1);
}

TEST(CompareEvals, NothingNewlyFailingExitsZero) {
    const auto same = contents(1, {member(1, 10, 1, 1)});
    const auto report = compare_evals(contents(2, {member(1, 10, 1, 1)}), same, k_names);
    EXPECT_EQ(total(report, Change::still_failing), 1U);
    EXPECT_EQ(report_exit_code(report), 0);
}

TEST(PickEvals, DefaultsToTheNewestAndTheOneBefore) {
    const std::vector<index::EvalInfo> evals{{30, 0, {}}, {20, 0, {}}, {10, 0, {}}};
    EXPECT_EQ(pick_evals(evals, std::nullopt, std::nullopt, "p:j"),
              std::make_pair(int64_t{30}, int64_t{20}));
    EXPECT_EQ(pick_evals(evals, 20, std::nullopt, "p:j"), std::make_pair(int64_t{20}, int64_t{10}));
    EXPECT_EQ(pick_evals(evals, 10, 30, "p:j"), std::make_pair(int64_t{10}, int64_t{30}));
    EXPECT_THROW(pick_evals(evals, 10, std::nullopt, "p:j"), UsageError);
    EXPECT_THROW(pick_evals(evals, 99, std::nullopt, "p:j"), UsageError);
    EXPECT_THROW(pick_evals(evals, std::nullopt, 99, "p:j"), UsageError);
    EXPECT_THROW(pick_evals({}, std::nullopt, std::nullopt, "p:j"), UsageError);
}

TEST(ReportText, FitsEightyColumnsAndLinksTheLogs) {
    const auto text = report_text(sample(), 80);
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_LE(line.size(), 80U) << line;
    }
    EXPECT_NE(text.find("Newly failing (2):"), std::string::npos) << text;
    EXPECT_NE(text.find("https://hydra.example.org/build/10/log  (was succeeded)"),
              std::string::npos)
        << text;
}

TEST(ReportJson, FirstTheCountsThenOneObjectPerJob) {
    const auto json = report_json(sample());
    EXPECT_EQ(json.rfind("{\"type\":\"report\"", 0), 0U);
    EXPECT_NE(json.find("\"newly-failing\":{\"total\":2,\"systems\":{\"aarch64-linux\":1,"
                        "\"x86_64-linux\":1}}"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find("\"raw_log_url\":\"https://hydra.example.org/log/"), std::string::npos);
    EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 7);
}

} // namespace
} // namespace hs::cli
