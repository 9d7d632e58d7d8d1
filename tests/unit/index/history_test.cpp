#include "core/error.hpp"
#include "index/index.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace hs::index {
namespace {

const std::string k_url = "https://hydra.example.org";

// A drv path whose hash differs per n (n < 32).
std::string drv(int n, const std::string& name) {
    std::string hash(32, '0');
    hash[0] = "0123456789abcdfghijklmnpqrsvwxyz"[n];
    return "/nix/store/" + hash + "-" + name + ".drv";
}

core::BuildRecord build(int64_t id, const std::string& job, std::optional<int> status) {
    core::BuildRecord b;
    b.id = id;
    b.drvpath = drv(static_cast<int>(id % 32), "hello-1.0");
    b.finished = status.has_value();
    b.buildstatus = status;
    b.stoptime = 1000 + id;
    b.project = "nixpkgs";
    b.jobset = "trunk";
    b.job = job;
    b.system = "x86_64-linux";
    return b;
}

core::EvalRecord eval(int64_t id, std::vector<int64_t> builds, const std::string& rev) {
    core::EvalRecord e;
    e.id = id;
    e.timestamp = 100 * id;
    e.builds = std::move(builds);
    e.inputs = {{"nixpkgs", rev}, {"small", "true"}};
    return e;
}

// Evals 1-4 of nixpkgs:trunk. hello: build 1 (succeeded) in evals 1-2,
// build 5 (failed) in 3-4. curl: build 2 (failed) in 1-3, not in 4. Many
// other builds (ids 100-399) make the member lists longer than a job.
class HistoryIndexTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto writer = IndexWriter::open(dir.file("index.sqlite"));
        auto txn = writer.transaction();
        auto state = writer.jobset(k_url, "nixpkgs", "trunk");
        std::vector<int64_t> others;
        for (int64_t id = 100; id < 400; ++id) {
            ASSERT_TRUE(writer.put_build(state.instance, build(id, "job" + std::to_string(id), 0)));
            others.push_back(id);
        }
        ASSERT_TRUE(writer.put_build(state.instance, build(1, "hello", 0)));
        ASSERT_TRUE(writer.put_build(state.instance, build(2, "curl", 1)));
        ASSERT_TRUE(writer.put_build(state.instance, build(5, "hello", 1)));
        const auto with = [&](std::vector<int64_t> ids) {
            ids.insert(ids.end(), others.begin(), others.end());
            return ids;
        };
        writer.put_eval(state, eval(1, with({1, 2}), "aaa"));
        writer.put_eval(state, eval(2, with({1, 2}), "bbb"));
        writer.put_eval(state, eval(3, with({2, 5}), "ccc"));
        writer.put_eval(state, eval(4, with({5}), "ddd"));
        state.synced_at = 1000;
        writer.set_jobset_state(state);
        txn.commit();
    }

    IndexReader reader() { return IndexReader::open(dir.file("index.sqlite")); }
    JobsetState trunk(IndexReader& index) {
        const auto rows = index.jobsets_named("nixpkgs", "trunk");
        EXPECT_EQ(rows.size(), 1U);
        return rows.front();
    }

    test::TempDir dir;
};

TEST_F(HistoryIndexTest, JobsetsNamedFindsTheRowWithItsUrl) {
    auto index = reader();
    const auto rows = index.jobsets_named("nixpkgs", "trunk");
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].url, k_url);
    EXPECT_EQ(rows[0].synced_at, 1000);
    EXPECT_TRUE(index.jobsets_named("nixpkgs", "staging").empty());
}

TEST_F(HistoryIndexTest, JobsetEvalsNewestFirstWithInputs) {
    auto index = reader();
    const auto evals = index.jobset_evals(trunk(index).id);
    ASSERT_EQ(evals.size(), 4U);
    EXPECT_EQ(evals[0].eval_id, 4);
    EXPECT_EQ(evals[0].timestamp, 400);
    EXPECT_EQ(evals[3].eval_id, 1);
    const std::vector<std::pair<std::string, std::string>> inputs{{"nixpkgs", "ddd"},
                                                                  {"small", "true"}};
    EXPECT_EQ(evals[0].inputs, inputs);
}

TEST_F(HistoryIndexTest, JobHistoryHasTheJobsBuildPerEval) {
    auto index = reader();
    const auto history = index.job_history(trunk(index), "hello");
    ASSERT_EQ(history.size(), 4U);
    std::vector<int64_t> ids;
    for (const auto& entry : history) {
        ASSERT_TRUE(entry.build.has_value());
        ids.push_back(entry.build->build_id);
    }
    EXPECT_EQ(ids, (std::vector<int64_t>{5, 5, 1, 1}));
    EXPECT_EQ(history[0].build->job, "hello");
    EXPECT_EQ(history[0].build->hydra_url, k_url);
    EXPECT_EQ(history[0].build->buildstatus, 1);
    EXPECT_EQ(history[0].eval.inputs.front().second, "ddd");
}

TEST_F(HistoryIndexTest, JobHistoryMarksEvalsWithoutTheJob) {
    auto index = reader();
    const auto history = index.job_history(trunk(index), "curl");
    ASSERT_EQ(history.size(), 4U);
    EXPECT_FALSE(history[0].build.has_value()); // eval 4 dropped curl
    EXPECT_EQ(history[1].build->build_id, 2);
}

TEST_F(HistoryIndexTest, JobHistoryStopsWhenEnough) {
    auto index = reader();
    const auto history =
        index.job_history(trunk(index), "hello",
                          [](const std::vector<JobEval>& so_far) { return so_far.size() == 2; });
    EXPECT_EQ(history.size(), 2U);
}

TEST_F(HistoryIndexTest, JobHistoryOfAnUnknownJobIsEmpty) {
    auto index = reader();
    EXPECT_TRUE(index.job_history(trunk(index), "nosuch").empty());
}

TEST_F(HistoryIndexTest, EvalContentsListsMembersWithNames) {
    auto index = reader();
    const auto state = trunk(index);
    const std::vector<int64_t> ids{3, 99, 4};
    const auto all = index.eval_contents(state.instance, ids);
    ASSERT_EQ(all.size(), 3U);
    EXPECT_FALSE(all[1].has_value());
    ASSERT_TRUE(all[2].has_value());
    EXPECT_EQ(all[2]->builds.size(), 301U);
    EXPECT_EQ(all[2]->builds[0].build_id, 5);
    const auto& contents = all[0];
    ASSERT_TRUE(contents.has_value());
    EXPECT_EQ(contents->eval.eval_id, 3);
    ASSERT_EQ(contents->builds.size(), 302U);
    EXPECT_EQ(contents->builds[0].build_id, 2);
    EXPECT_EQ(contents->builds[1].build_id, 5);
    const auto names = index.names();
    EXPECT_EQ(names.at(static_cast<size_t>(contents->builds[0].job)), "curl");
    EXPECT_EQ(names.at(static_cast<size_t>(contents->builds[1].system)), "x86_64-linux");
    EXPECT_EQ(contents->builds[1].buildstatus, 1);
}

TEST_F(HistoryIndexTest, DrvsOfBuilds) {
    auto index = reader();
    const std::vector<int64_t> ids{5, 12345};
    const auto drvs = index.drvs_of_builds(trunk(index).instance, ids);
    ASSERT_EQ(drvs.size(), 2U);
    EXPECT_EQ(drvs[0].second, "hello-1.0");
    EXPECT_NE(drvs[0].first, core::HashBytes{});
    EXPECT_EQ(drvs[1].second, "");
}

// The plan SQLite picks for a job's builds: a seek on build_by_job, not a
// scan of every build (1 s at 2,000,000 builds; bench/history.py).
std::string job_query_plan(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db,
                                 "EXPLAIN QUERY PLAN SELECT id FROM build WHERE job = (SELECT id "
                                 "FROM name WHERE text = 'hello') AND jobset = 1",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
        plan += "\n";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return plan;
}

TEST_F(HistoryIndexTest, JobBuildsAreOneIndexSeek) {
    EXPECT_NE(job_query_plan(dir.file("index.sqlite")).find("USING COVERING INDEX build_by_job"),
              std::string::npos)
        << job_query_plan(dir.file("index.sqlite"));
}

TEST_F(HistoryIndexTest, MigrationFromVersionFourAddsTheJobIndex) {
    const auto path = dir.file("index.sqlite");
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "DROP INDEX build_by_job; PRAGMA user_version = 4", nullptr,
                               nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    EXPECT_EQ(job_query_plan(path).find("build_by_job"), std::string::npos);
    { auto writer = IndexWriter::open(path); }
    EXPECT_NE(job_query_plan(path).find("build_by_job"), std::string::npos);
    auto index = reader();
    EXPECT_EQ(index.job_history(trunk(index), "hello").size(), 4U);
}

} // namespace
} // namespace hs::index
