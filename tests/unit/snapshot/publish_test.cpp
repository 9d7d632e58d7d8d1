#include "core/error.hpp"
#include "index/index.hpp"
#include "snapshot/publish.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace hs::snapshot {
namespace {

core::BuildRecord build(int64_t id) {
    core::BuildRecord b;
    b.id = id;
    b.drvpath = "/nix/store/" + std::string(30, '0') + std::to_string(10 + id) + "-p.drv";
    b.finished = true;
    b.buildstatus = 0;
    b.project = "nixpkgs";
    b.jobset = "trunk";
    b.job = "p" + std::to_string(id);
    b.system = "x86_64-linux";
    return b;
}

void ingest_eval(hs::index::IndexWriter& writer, int64_t eval_id) {
    auto txn = writer.transaction();
    auto state = writer.jobset("https://h", "nixpkgs", "trunk");
    core::EvalRecord eval;
    eval.id = eval_id;
    ASSERT_TRUE(writer.put_build(state.instance, build(eval_id)));
    eval.builds = {eval_id};
    writer.put_eval(state, eval);
    txn.commit();
    // The sync's closing state, in a transaction of its own.
    auto txn2 = writer.transaction();
    state.synced_at = eval_id;
    writer.set_jobset_state(state);
    txn2.commit();
}

PublishOptions options(const test::TempDir& dir) {
    PublishOptions o;
    o.index_path = dir.file("i.sqlite");
    o.dir = dir.file("www");
    o.key = *parse_secret_key(generate_key_pair("k").secret);
    o.hydra_url = "https://h";
    o.keep_deltas = 4;
    o.now = 100;
    return o;
}

TEST(Publish, BaseThenOneDeltaPerEvalThenNothing) {
    test::TempDir dir;
    auto writer = hs::index::IndexWriter::open(dir.file("i.sqlite"));
    ingest_eval(writer, 1);
    auto o = options(dir);
    o.keep_deltas = 8;
    auto first = publish(o);
    EXPECT_TRUE(first.new_base);
    EXPECT_TRUE(first.new_deltas.empty());
    ingest_eval(writer, 2);
    ingest_eval(writer, 3);
    auto second = publish(o);
    EXPECT_FALSE(second.new_base);
    ASSERT_EQ(second.new_deltas.size(), 2u);
    EXPECT_EQ(second.new_deltas[0].evals, (std::vector<int64_t>{2}));
    EXPECT_EQ(second.new_deltas[1].evals, (std::vector<int64_t>{3}));
    EXPECT_EQ(second.manifest.seq, writer.reader().change_seq());
    const auto before = test::read_file(dir.file("www/manifest.json"));
    auto third = publish(o);
    EXPECT_FALSE(third.changed);
    EXPECT_EQ(test::read_file(dir.file("www/manifest.json")), before);
}

TEST(Publish, NewBaseAtHalfTheDeltasAndOldFilesPruned) {
    test::TempDir dir;
    auto writer = hs::index::IndexWriter::open(dir.file("i.sqlite"));
    ingest_eval(writer, 1);
    const auto o = options(dir);
    const auto first_base = publish(o).manifest.base.file;
    std::vector<PublishResult> results;
    for (int64_t eval = 2; eval <= 7; ++eval) {
        ingest_eval(writer, eval);
        results.push_back(publish(o));
    }
    EXPECT_TRUE(results[1].new_base); // 2 deltas after the base: keep_deltas / 2
    const auto& last = results.back().manifest;
    EXPECT_LE(last.deltas.size(), 4u);
    EXPECT_FALSE(std::filesystem::exists(dir.file("www/" + first_base)));
    EXPECT_TRUE(std::filesystem::exists(dir.file("www/" + last.base.file)));
    for (const auto& delta : last.deltas) {
        EXPECT_TRUE(std::filesystem::exists(dir.file("www/" + delta.file))) << delta.file;
    }
}

TEST(Publish, MissingIndexIsExitFive) {
    test::TempDir dir;
    try {
        publish(options(dir));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::no_index);
    }
}

} // namespace
} // namespace hs::snapshot
