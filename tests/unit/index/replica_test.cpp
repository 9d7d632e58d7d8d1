#include "core/error.hpp"
#include "index/index.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <stdexcept>

namespace hs::index {
namespace {

using test::TempDir;

const std::string k_url = "https://hydra.example.org";

core::BuildRecord build(int64_t id, const std::string& hash_char, int status) {
    core::BuildRecord b;
    b.id = id;
    b.drvpath =
        "/nix/store/" + std::string(31, '0') + hash_char + "-pkg" + std::to_string(id) + ".drv";
    b.outputs = {
        {"out", "/nix/store/" + std::string(31, '1') + hash_char + "-pkg" + std::to_string(id)}};
    b.finished = true;
    b.buildstatus = status;
    b.starttime = 100;
    b.stoptime = 200;
    b.project = "nixpkgs";
    b.jobset = "trunk";
    b.job = "pkg" + std::to_string(id);
    b.system = "x86_64-linux";
    return b;
}

// One eval in one transaction, as a sync commits it.
void ingest_eval(IndexWriter& index, int64_t eval_id,
                 const std::vector<core::BuildRecord>& builds) {
    auto txn = index.transaction();
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    core::EvalRecord eval;
    eval.id = eval_id;
    eval.timestamp = 1000 + eval_id;
    for (const auto& b : builds) {
        ASSERT_TRUE(index.put_build(state.instance, b));
        eval.builds.push_back(b.id);
    }
    index.put_eval(state, eval);
    state.synced_at = 5000 + eval_id;
    state.newest_eval = eval_id;
    index.set_jobset_state(state);
    txn.commit();
}

ReplicaSource source_at(const std::string& url, int64_t seq) {
    ReplicaSource source;
    source.url = url;
    source.seq = seq;
    return source;
}

int64_t count(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    const int64_t n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
}

std::optional<int> status_of(IndexReader& reader, const core::BuildRecord& b) {
    const auto rows = reader.builds_of_drv(core::parse_store_path(b.drvpath)->hash);
    return rows.empty() ? std::nullopt : rows.front().buildstatus;
}

TEST(Replica, EachWriteTransactionTakesTheNextChangeSequence) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    EXPECT_EQ(index.reader().change_seq(), 0);
    ingest_eval(index, 1, {build(1, "a", 0), build(2, "b", 1)});
    EXPECT_EQ(index.reader().change_seq(), 1);
    ingest_eval(index, 2, {build(3, "c", 0)});
    EXPECT_EQ(index.reader().change_seq(), 2);
    const auto changes = index.reader().eval_changes(0, 2);
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].seq, 1);
    EXPECT_EQ(changes[0].eval_id, 1);
    EXPECT_EQ(changes[1].eval_id, 2);
    EXPECT_EQ(index.reader().eval_changes(1, 2).size(), 1u);
}

TEST(Replica, DeltaHoldsOnlyTheRowsTheChangesWrote) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    auto index = IndexWriter::open(path);
    ingest_eval(index, 1, {build(1, "a", 0), build(2, "b", 1)});
    // Eval 2 re-lists build 1 unchanged and re-checks build 2 (now good).
    ingest_eval(index, 2, {build(1, "a", 0), build(2, "b", 0), build(3, "c", 0)});
    const auto info = write_delta(path, dir.file("d.sqlite"), 1, 2);
    EXPECT_FALSE(info.base);
    EXPECT_EQ(info.from, 1);
    EXPECT_EQ(info.to, 2);
    EXPECT_EQ(count(dir.file("d.sqlite"), "SELECT count(*) FROM build"), 2); // 2 and 3
    EXPECT_EQ(count(dir.file("d.sqlite"), "SELECT count(*) FROM build WHERE id = 1"), 0);
    EXPECT_EQ(count(dir.file("d.sqlite"), "SELECT count(*) FROM output"), 2);
    EXPECT_EQ(count(dir.file("d.sqlite"), "SELECT count(*) FROM eval"), 1);
    EXPECT_EQ(count(dir.file("d.sqlite"),
                    "SELECT count(*) FROM sqlite_master WHERE name = 'local_failure'"),
              0);
    const auto read = read_replica_info(dir.file("d.sqlite"));
    EXPECT_EQ(read.to, 2);
}

TEST(Replica, BaseLeavesOutLocalFailuresAndApplyKeepsTheClients) {
    TempDir dir;
    const auto pub = dir.file("pub.sqlite");
    auto publisher = IndexWriter::open(pub);
    ingest_eval(publisher, 1, {build(1, "a", 0), build(2, "b", 1)});
    const auto secret = *core::parse_store_path("/nix/store/" + std::string(32, '2') + "-x.drv");
    publisher.record_local_failure(secret, 10, "", "publisher's own");
    const auto info = write_base(pub, dir.file("base.sqlite"));
    EXPECT_TRUE(info.base);
    EXPECT_EQ(info.to, 1);
    EXPECT_EQ(count(dir.file("base.sqlite"), "SELECT count(*) FROM local_failure"), 0);
    EXPECT_EQ(count(dir.file("base.sqlite"), "SELECT count(*) FROM build"), 2);

    auto client = IndexWriter::open(dir.file("client.sqlite"));
    const auto mine = *core::parse_store_path("/nix/store/" + std::string(32, '3') + "-y.drv");
    client.record_local_failure(mine, 20, "", "client's own");
    ReplicaSource source;
    source.url = "file:///srv/snap";
    source.seq = 1;
    client.apply_replica(dir.file("base.sqlite"), source);
    EXPECT_EQ(status_of(client.reader(), build(2, "b", 1)), 1);
    EXPECT_TRUE(client.reader().local_failure(mine.hash, 0).has_value());
    EXPECT_FALSE(client.reader().local_failure(secret.hash, 0).has_value());
    ASSERT_TRUE(client.reader().replica_source().has_value());
    EXPECT_EQ(client.reader().replica_source()->seq, 1);
    EXPECT_EQ(client.reader().change_seq(), 1);
}

TEST(Replica, MergedDeltasApplyInOneTransactionOrNotAtAll) {
    TempDir dir;
    const auto pub = dir.file("pub.sqlite");
    auto publisher = IndexWriter::open(pub);
    ingest_eval(publisher, 1, {build(1, "a", 0)});
    write_base(pub, dir.file("base.sqlite"));
    ingest_eval(publisher, 2, {build(2, "b", 1)});
    ingest_eval(publisher, 3, {build(2, "b", 0), build(3, "c", 0)});
    write_delta(pub, dir.file("d2.sqlite"), 1, 2);
    write_delta(pub, dir.file("d3.sqlite"), 2, 3);
    EXPECT_THROW(merge_replica(dir.file("d3.sqlite"), dir.file("d2.sqlite")), Error);
    merge_replica(dir.file("d2.sqlite"), dir.file("d3.sqlite"));
    EXPECT_EQ(read_replica_info(dir.file("d2.sqlite")).to, 3);

    auto client = IndexWriter::open(dir.file("client.sqlite"));
    client.apply_replica(dir.file("base.sqlite"), source_at("u", 1));
    // Stopped just before the commit: nothing of it stays.
    EXPECT_THROW(client.apply_replica(dir.file("d2.sqlite"), source_at("u", 3),
                                      [] { throw std::runtime_error("stop"); }),
                 std::runtime_error);
    EXPECT_FALSE(status_of(client.reader(), build(3, "c", 0)).has_value());
    EXPECT_EQ(client.reader().replica_source()->seq, 1);
    client.apply_replica(dir.file("d2.sqlite"), source_at("u", 3));
    EXPECT_EQ(status_of(client.reader(), build(2, "b", 0)), 0);
    EXPECT_EQ(status_of(client.reader(), build(3, "c", 0)), 0);
    EXPECT_EQ(client.reader().replica_source()->seq, 3);
}

TEST(Replica, SyncFromHydraDropsThePullState) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    index.set_replica_source(source_at("file:///x", 4));
    ASSERT_TRUE(index.reader().replica_source().has_value());
    ingest_eval(index, 1, {build(1, "a", 0)});
    EXPECT_FALSE(index.reader().replica_source().has_value());
}

TEST(Replica, NotASnapshotFileIsRefused) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    EXPECT_THROW(read_replica_info(dir.file("i.sqlite")), Error);
    EXPECT_THROW(read_replica_info(dir.file("missing.sqlite")), Error);
}

} // namespace
} // namespace hs::index
