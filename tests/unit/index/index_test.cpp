#include "core/error.hpp"
#include "core/id_list.hpp"
#include "index/index.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace hs::index {
namespace {

namespace fs = std::filesystem;

const std::string k_url = "https://hydra.example.org";
const std::string k_drv_a = "/nix/store/0a7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-hello-2.12.1.drv";
const std::string k_out_a = "/nix/store/1b7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-hello-2.12.1";
const std::string k_dev_a = "/nix/store/2c7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-hello-2.12.1-dev";
const std::string k_drv_b = "/nix/store/3d7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-bad-leaf.drv";

using test::TempDir;

core::BuildRecord build(int64_t id, const std::string& drv, bool finished,
                        std::optional<int> status, std::optional<int64_t> stoptime,
                        const std::string& jobset = "trunk") {
    core::BuildRecord b;
    b.id = id;
    b.drvpath = drv;
    b.finished = finished;
    b.buildstatus = status;
    b.starttime = stoptime ? std::optional<int64_t>(*stoptime - 10) : std::nullopt;
    b.stoptime = stoptime;
    b.project = "nixpkgs";
    b.jobset = jobset;
    b.job = "hello.x86_64-linux";
    b.system = "x86_64-linux";
    return b;
}

core::Key key_of(const std::string& text) {
    auto key = core::parse_key(text);
    EXPECT_TRUE(key.has_value()) << text;
    return *key;
}

// Writes builds in one transaction and marks the jobset synced.
void ingest(IndexWriter& index, const std::vector<core::BuildRecord>& builds,
            const std::string& jobset = "trunk") {
    auto txn = index.transaction();
    auto state = index.jobset(k_url, "nixpkgs", jobset);
    for (const auto& b : builds) {
        ASSERT_TRUE(index.put_build(state.instance, b));
    }
    state.synced_at = 1000;
    index.set_jobset_state(state);
    txn.commit();
}

// What an admin's sqlite3 session leaves: the last connection to close,
// without SQLITE_FCNTL_PERSIST_WAL, checkpoints and deletes -wal and -shm.
void close_like_the_sqlite3_shell(const std::string& path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "SELECT count(*) FROM build", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
}

// Runs sql on a connection of its own, as an admin's sqlite3 session would.
void run_sql(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
}

// Creates path with sql, as an earlier hydra-status would have written it.
void create_with_sql(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
}

int64_t user_version(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
    const int64_t version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
}

int64_t count_builds(IndexReader& index) {
    int64_t count = 0;
    for (const auto& info : index.jobsets()) {
        count += info.builds;
    }
    return count;
}

std::optional<int> status_of(IndexReader& index, const std::string& drv) {
    const auto rows = index.builds_of_drv(core::parse_store_path(drv)->hash);
    EXPECT_EQ(rows.size(), 1u) << drv;
    return rows.empty() ? std::nullopt : rows.front().buildstatus;
}

TEST(Index, ReadOnlyOpenOfMissingFileFailsWithExitFive) {
    TempDir dir;
    try {
        IndexReader::open(dir.file("none.sqlite"));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::no_index);
        EXPECT_NE(std::string(e.what()).find("run 'hydra-status sync'"), std::string::npos);
    }
}

TEST(Index, RandomBytesAreNotAnIndex) {
    TempDir dir;
    const auto path = dir.file("junk.sqlite");
    std::ofstream(path) << std::string(8192, 'x');
    try {
        IndexReader::open(path);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::no_index);
    }
}

TEST(Index, CreatesSchemaWithUserVersion) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    { auto index = IndexWriter::open(path); }
    EXPECT_EQ(user_version(path), k_schema_version);
    auto index = IndexReader::open(path);
    EXPECT_FALSE(index.ever_synced());
}

TEST(Index, NewerSchemaVersionIsRefused) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    { auto index = IndexWriter::open(path); }
    run_sql(path, "PRAGMA user_version = 99");
    EXPECT_THROW(IndexReader::open(path), Error);
    EXPECT_THROW(IndexWriter::open(path), Error);
}

TEST(Index, MigratesOnlyOnceAndKeepsData) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(1, k_drv_a, true, 0, 100)});
    }
    auto index = IndexWriter::open(path);
    EXPECT_EQ(count_builds(index.reader()), 1);
}

TEST(Index, MigratesVersionOneKeepingData) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    // Schema version 1: the released v2 index without the jobset table's
    // validators.
    fs::copy_file(std::string(HS_TEST_DATA) + "/index-v2/index.sqlite", path);
    run_sql(path, "ALTER TABLE jobset DROP COLUMN etag; ALTER TABLE jobset DROP COLUMN "
                  "last_modified; PRAGMA user_version = 1");
    auto index = IndexWriter::open(path);
    EXPECT_EQ(user_version(path), k_schema_version);
    EXPECT_GT(count_builds(index.reader()), 60);
    const auto jobsets = index.reader().jobsets();
    ASSERT_FALSE(jobsets.empty());
    const auto& first = jobsets.front().state;
    auto state = index.jobset(first.url, first.project, first.name);
    EXPECT_TRUE(state.synced_at);
    EXPECT_EQ(state.etag, "");
    EXPECT_EQ(state.last_modified, "");
}

// The schema of version 2 as it was released (v1 and migration 2), with
// one synced jobset, one eval and one build written as that version did.
constexpr const char* k_schema_v2_text = R"sql(
CREATE TABLE hydra (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);
CREATE TABLE jobset (
    id INTEGER PRIMARY KEY, hydra INTEGER NOT NULL REFERENCES hydra (id),
    project TEXT NOT NULL, name TEXT NOT NULL, synced_at INTEGER,
    newest_eval INTEGER, rechecked_at INTEGER, UNIQUE (hydra, project, name));
CREATE TABLE name (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE eval (
    id INTEGER PRIMARY KEY, jobset INTEGER NOT NULL REFERENCES jobset (id),
    timestamp INTEGER NOT NULL, inputs TEXT NOT NULL, builds BLOB NOT NULL);
CREATE INDEX eval_by_jobset ON eval (jobset);
CREATE TABLE build (
    id INTEGER PRIMARY KEY, drv BLOB NOT NULL, name TEXT NOT NULL,
    jobset INTEGER NOT NULL REFERENCES jobset (id),
    job INTEGER NOT NULL REFERENCES name (id),
    system INTEGER NOT NULL REFERENCES name (id),
    finished INTEGER NOT NULL, status INTEGER, starttime INTEGER, stoptime INTEGER);
CREATE INDEX build_by_drv ON build (drv);
CREATE INDEX build_unfinished ON build (jobset) WHERE finished = 0;
CREATE TABLE output (hash BLOB PRIMARY KEY, build INTEGER NOT NULL, name TEXT NOT NULL)
    WITHOUT ROWID;
CREATE TABLE local_failure (
    drv BLOB PRIMARY KEY, name TEXT NOT NULL, count INTEGER NOT NULL,
    first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, log TEXT NOT NULL,
    reason TEXT NOT NULL) WITHOUT ROWID;
ALTER TABLE jobset ADD COLUMN etag TEXT;
ALTER TABLE jobset ADD COLUMN last_modified TEXT;
PRAGMA user_version = 2;
)sql";

std::vector<std::string> sql_rows(const std::string& path, const std::string& sql);

std::string hex(std::string_view bytes) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        out += k_digits[byte >> 4];
        out += k_digits[byte & 15];
    }
    return out;
}

// The same rows in schema version 2 (as released) and version 3 (issue 15's
// jobset columns) migrate to the current version and read back.
class IndexMigration : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(FromVersion, IndexMigration, ::testing::Values(2, 3));

TEST_P(IndexMigration, KeepsRows) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    const std::string v3 = GetParam() < 3 ? ""
                                          : "ALTER TABLE jobset ADD COLUMN listing_digest TEXT;"
                                            "ALTER TABLE jobset ADD COLUMN eval_builds_failed_at "
                                            "INTEGER;"
                                            "ALTER TABLE jobset ADD COLUMN "
                                            "eval_builds_failed_members INTEGER;"
                                            "PRAGMA user_version = 3;";
    const auto drv = core::parse_store_path(k_drv_a);
    ASSERT_TRUE(drv.has_value());
    const std::string drv_hex =
        hex({reinterpret_cast<const char*>(drv->hash.data()), drv->hash.size()});
    const int64_t key = (int64_t{1} << k_instance_shift) | 42;
    const int64_t eval_key = (int64_t{1} << k_instance_shift) | 7;
    const std::string rows =
        std::string(k_schema_v2_text) + "INSERT INTO hydra VALUES (1, '" + k_url +
        "');"
        "INSERT INTO jobset VALUES (1, 1, 'nixpkgs', 'trunk', 1000, 7, 900, '\"e1\"', "
        "'Wed, 01 Jan 2025 00:00:00 GMT');"
        "INSERT INTO name VALUES (1, 'hello.x86_64-linux'), (2, 'x86_64-linux');"
        "INSERT INTO build VALUES (" +
        std::to_string(key) + ", X'" + drv_hex +
        "', 'hello-2.12.1', 1, 1, 2, 1, 0, 90, 100);"
        "INSERT INTO eval VALUES (" +
        std::to_string(eval_key) + ", 1, 500, 'nixpkgs abc\n', X'" +
        hex(core::encode_id_list({42})) + "');" + v3;
    create_with_sql(path, rows.c_str());
    ASSERT_EQ(user_version(path), GetParam());

    {
        auto index = IndexWriter::open(path);
        EXPECT_EQ(user_version(path), k_schema_version);
        auto state = index.jobset(k_url, "nixpkgs", "trunk");
        EXPECT_EQ(state.id, 1);
        EXPECT_EQ(state.synced_at, 1000);
        EXPECT_EQ(state.newest_eval, 7);
        EXPECT_EQ(state.rechecked_at, 900);
        EXPECT_EQ(state.etag, "\"e1\"");
        EXPECT_EQ(state.last_modified, "Wed, 01 Jan 2025 00:00:00 GMT");
        EXPECT_EQ(state.listing_digest, "");
        EXPECT_EQ(state.eval_builds_failed_at, std::nullopt);
        EXPECT_EQ(state.eval_builds_failed_members, std::nullopt);
        EXPECT_EQ(index.reader().eval_builds(1, 7), (std::vector<int64_t>{42}));
        const auto found = index.reader().builds_for_key(key_of(k_drv_a));
        ASSERT_EQ(found.size(), 1U);
        EXPECT_EQ(found.front().build_id, 42);
        EXPECT_EQ(found.front().buildstatus, 0);
        EXPECT_EQ(found.front().job, "hello.x86_64-linux");
        EXPECT_EQ(found.front().starttime, 90);
        EXPECT_EQ(found.front().stoptime, 100);
    }
    EXPECT_EQ(sql_rows(path, "SELECT id FROM build"), std::vector<std::string>{"42"});
    EXPECT_EQ(sql_rows(path, "SELECT id FROM eval"), std::vector<std::string>{"7"});
    // Opened again: already the current version, nothing to migrate.
    auto index = IndexReader::open(path);
    EXPECT_EQ(count_builds(index), 1);
}

TEST(Index, JobsetStateKeepsVersionThreeFields) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    state.listing_digest = "3f2a";
    state.eval_builds_failed_at = 1'700'000'000;
    state.eval_builds_failed_members = 250'000;
    index.set_jobset_state(state);
    auto again = index.reader().find_jobset(k_url, "nixpkgs", "trunk");
    EXPECT_EQ(again.listing_digest, "3f2a");
    EXPECT_EQ(again.eval_builds_failed_at, 1'700'000'000);
    EXPECT_EQ(again.eval_builds_failed_members, 250'000);
    again.listing_digest.clear();
    again.eval_builds_failed_at.reset();
    again.eval_builds_failed_members.reset();
    index.set_jobset_state(again);
    const auto cleared = index.jobset(k_url, "nixpkgs", "trunk");
    EXPECT_EQ(cleared.listing_digest, "");
    EXPECT_EQ(cleared.eval_builds_failed_at, std::nullopt);
    EXPECT_EQ(cleared.eval_builds_failed_members, std::nullopt);
}

TEST(Index, JobsetStateKeepsListingValidators) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    state.etag = "\"abc\"";
    state.last_modified = "Wed, 01 Jan 2025 00:00:00 GMT";
    index.set_jobset_state(state);
    auto again = index.jobset(k_url, "nixpkgs", "trunk");
    EXPECT_EQ(again.etag, "\"abc\"");
    EXPECT_EQ(again.last_modified, "Wed, 01 Jan 2025 00:00:00 GMT");
    again.etag.clear();
    index.set_jobset_state(again);
    EXPECT_EQ(index.reader().find_jobset(k_url, "nixpkgs", "trunk").etag, "");
}

TEST(Index, FindJobsetWritesNothing) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    const auto missing = index.reader().find_jobset(k_url, "nixpkgs", "nope");
    EXPECT_EQ(missing.id, 0);
    EXPECT_EQ(missing.instance, 0);
    EXPECT_EQ(missing.project, "nixpkgs");
    EXPECT_EQ(missing.name, "nope");
    EXPECT_TRUE(index.reader().jobsets().empty());
    const auto created = index.jobset(k_url, "nixpkgs", "trunk");
    const auto found = index.reader().find_jobset(k_url, "nixpkgs", "trunk");
    EXPECT_EQ(found.id, created.id);
    EXPECT_EQ(found.instance, created.instance);
    EXPECT_EQ(index.reader().find_jobset(k_url, "nixpkgs", "nope").id, 0);
    EXPECT_EQ(index.reader().jobsets().size(), 1U);
}

TEST(Index, EvalIdsAreNewestFirst) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto txn = index.transaction();
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    for (const int64_t id : {5, 9, 7}) {
        core::EvalRecord eval;
        eval.id = id;
        eval.builds = {1, 2};
        index.put_eval(state, eval);
    }
    txn.commit();
    EXPECT_EQ(index.reader().eval_ids(state.id), (std::vector<int64_t>{9, 7, 5}));
    EXPECT_TRUE(index.reader().eval_ids(state.id + 1).empty());
}

TEST(Index, LookupByDrvPathBasenameAndHash) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(4, k_drv_a, true, 1, 100)});
    for (const auto& text : {k_drv_a, k_drv_a.substr(11), k_drv_a.substr(11, 32)}) {
        const auto rows = index.reader().builds_for_key(key_of(text));
        ASSERT_EQ(rows.size(), 1u) << text;
        EXPECT_EQ(rows[0].build_id, 4);
        EXPECT_EQ(rows[0].drv_path(), k_drv_a);
        EXPECT_EQ(rows[0].hydra_url, k_url);
        EXPECT_EQ(rows[0].project, "nixpkgs");
        EXPECT_EQ(rows[0].jobset, "trunk");
        EXPECT_EQ(rows[0].job, "hello.x86_64-linux");
        EXPECT_EQ(rows[0].buildstatus, 1);
        EXPECT_EQ(rows[0].synced_at, 1000);
    }
}

TEST(Index, SameHashWithOtherNameIsUnknown) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(4, k_drv_a, true, 1, 100)});
    const auto other = k_drv_a.substr(0, 44) + "other.drv";
    EXPECT_TRUE(index.reader().builds_for_key(key_of(other)).empty());
}

TEST(Index, LookupByOutputPathAndOutputHash) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto b = build(4, k_drv_a, true, 0, 100);
    b.outputs = {{"out", k_out_a}, {"dev", k_dev_a}};
    ingest(index, {b});
    for (const auto& text : {k_out_a, k_dev_a, k_dev_a.substr(11, 32)}) {
        const auto rows = index.reader().builds_for_key(key_of(text));
        ASSERT_EQ(rows.size(), 1u) << text;
        EXPECT_EQ(rows[0].drv_path(), k_drv_a);
    }
}

TEST(Index, LatestStoptimeWinsAcrossJobsets) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(10, k_drv_a, true, 1, 500)}, "trunk");
    ingest(index, {build(11, k_drv_a, true, 0, 900, "staging")}, "staging");
    ingest(index, {build(12, k_drv_a, true, 3, 700)}, "trunk");
    const auto rows = index.reader().builds_of_drv(key_of(k_drv_a).hash);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].build_id, 11);
    EXPECT_EQ(rows[0].jobset, "staging");
    EXPECT_EQ(rows[1].build_id, 12);
    EXPECT_EQ(rows[2].build_id, 10);
}

TEST(Index, EqualStoptimeFallsBackToGreatestBuildId) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(20, k_drv_a, true, 1, 500), build(21, k_drv_a, true, 0, 500)});
    EXPECT_EQ(index.reader().builds_of_drv(key_of(k_drv_a).hash).front().build_id, 21);
}

TEST(Index, FinishedBuildDecidesBeforeUnfinished) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(30, k_drv_a, true, 1, 500), build(31, k_drv_a, false, 3, 900)});
    const auto rows = index.reader().builds_of_drv(key_of(k_drv_a).hash);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].build_id, 30);
    EXPECT_FALSE(rows[1].finished);
}

TEST(Index, DecidingStateIsThatOfTheFirstBuild) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    const auto hash = key_of(k_drv_a).hash;
    EXPECT_FALSE(index.reader().deciding_state(hash)); // never built
    // Each step adds a build that decides over the ones before it.
    const std::vector<core::BuildRecord> steps = {
        build(40, k_drv_a, false, std::nullopt, std::nullopt), // queued
        build(41, k_drv_a, false, 0, 900),                     // unfinished, stale fields
        build(42, k_drv_a, true, 1, std::nullopt),             // finished beats unfinished
        build(39, k_drv_a, true, 0, 100),                      // a stoptime beats none
        build(43, k_drv_a, true, 3, 100),                      // same stoptime: greater id
        build(44, k_drv_a, true, 0, 200),                      // later stoptime
    };
    for (const auto& step : steps) {
        ingest(index, {step});
        const auto state = index.reader().deciding_state(hash);
        const auto rows = index.reader().builds_of_drv(hash);
        ASSERT_TRUE(state);
        ASSERT_FALSE(rows.empty());
        EXPECT_EQ(rows.front().build_id, step.id);
        EXPECT_EQ(state->finished, step.finished) << step.id;
        EXPECT_EQ(state->buildstatus, step.buildstatus) << step.id;
    }
    const auto rows = index.reader().builds_of_drv(hash);
    std::vector<int64_t> ids;
    for (const auto& row : rows) {
        ids.push_back(row.build_id);
    }
    EXPECT_EQ(ids, (std::vector<int64_t>{44, 43, 39, 42, 41, 40}));
}

TEST(Index, HasLocalFailuresHonoursExpiry) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    EXPECT_FALSE(index.reader().has_local_failures(0));
    index.record_local_failure(*core::parse_store_path(k_drv_b), 1000, "", "");
    EXPECT_TRUE(index.reader().has_local_failures(1000));
    EXPECT_FALSE(index.reader().has_local_failures(1001));
}

TEST(Index, RestartedBuildIsUpdatedInPlace) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(46, k_drv_a, false, 3, 500)});
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    EXPECT_EQ(index.reader().unfinished_builds(state.id), std::vector<int64_t>{46});
    ingest(index, {build(46, k_drv_a, true, 0, 900)});
    const auto rows = index.reader().builds_of_drv(key_of(k_drv_a).hash);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(rows[0].finished);
    EXPECT_EQ(rows[0].buildstatus, 0);
    EXPECT_TRUE(index.reader().unfinished_builds(state.id).empty());
}

TEST(Index, RepointedBuildMovesToTheNewDrv) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(50, k_drv_a, true, 1, 500)});
    ingest(index, {build(50, k_drv_b, false, std::nullopt, std::nullopt)});
    EXPECT_TRUE(index.reader().builds_of_drv(key_of(k_drv_a).hash).empty());
    EXPECT_EQ(index.reader().builds_of_drv(key_of(k_drv_b).hash).size(), 1u);
}

TEST(Index, InvalidDrvPathIsRefusedWithReason) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto txn = index.transaction();
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    const auto written =
        index.put_build(state.instance, build(1, "/nix/store/eeee-x.drv", true, 0, 1));
    ASSERT_FALSE(written);
    EXPECT_NE(written.error().find("invalid drvpath"), std::string::npos) << written.error();
}

TEST(Index, BuildsToFetchAreUnknownOrUnfinished) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index,
           {build(1, k_drv_a, true, 0, 100), build(2, k_drv_b, false, std::nullopt, std::nullopt)});
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    const std::vector<int64_t> ids{1, 2, 3};
    EXPECT_EQ(index.reader().builds_to_fetch(state.instance, ids), (std::vector<int64_t>{2, 3}));
}

TEST(Index, EvalMembershipRoundTrips) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    core::EvalRecord eval;
    eval.id = 7;
    eval.timestamp = 123;
    eval.builds = {900, 5, 17, 5, 1'000'000'000};
    eval.inputs = {{"nixpkgs", "c0ffee"}};
    EXPECT_FALSE(index.reader().has_eval(state.instance, 7));
    index.put_eval(state, eval);
    EXPECT_TRUE(index.reader().has_eval(state.instance, 7));
    EXPECT_EQ(index.reader().eval_builds(state.instance, 7),
              (std::vector<int64_t>{5, 17, 900, 1'000'000'000}));
}

TEST(Index, SeparateInstancesKeepSeparateBuildIds) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto txn = index.transaction();
    auto one = index.jobset("https://one.example", "p", "j");
    auto two = index.jobset("https://two.example", "p", "j");
    auto b1 = build(5, k_drv_a, true, 0, 100, "j");
    b1.project = "p";
    auto b2 = build(5, k_drv_b, true, 1, 100, "j");
    b2.project = "p";
    ASSERT_TRUE(index.put_build(one.instance, b1));
    ASSERT_TRUE(index.put_build(two.instance, b2));
    txn.commit();
    EXPECT_EQ(index.reader().builds_of_drv(key_of(k_drv_a).hash).front().hydra_url,
              "https://one.example");
    EXPECT_EQ(index.reader().builds_of_drv(key_of(k_drv_b).hash).front().hydra_url,
              "https://two.example");
}

TEST(Index, RolledBackTransactionLeavesNothing) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    {
        auto txn = index.transaction();
        auto state = index.jobset(k_url, "nixpkgs", "trunk");
        ASSERT_TRUE(index.put_build(state.instance, build(1, k_drv_a, true, 0, 100)));
    }
    EXPECT_EQ(count_builds(index.reader()), 0);
    EXPECT_TRUE(index.reader().jobsets().empty());
}

TEST(Index, RolledBackTransactionDropsTheWritersCachedNames) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    {
        auto txn = index.transaction();
        auto state = index.jobset(k_url, "nixpkgs", "trunk");
        ASSERT_TRUE(index.put_build(state.instance, build(1, k_drv_a, true, 0, 100)));
    }
    // The job and system names interned by the rolled-back write are gone:
    // a cached id would name no row, and the build would not read back.
    ingest(index, {build(2, k_drv_b, true, 0, 100)});
    const auto rows = index.reader().builds_of_drv(key_of(k_drv_b).hash);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].job, "hello.x86_64-linux");
    EXPECT_EQ(rows[0].system, "x86_64-linux");
}

TEST(Index, LocalFailureCountsAndExpires) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    const auto drv = *core::parse_store_path(k_drv_b);
    index.record_local_failure(drv, 1000, "/tmp/log", "exit 1");
    index.record_local_failure(drv, 2000, "/tmp/log2", "exit 2");
    const auto failure = index.reader().local_failure(drv.hash, 1500);
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->count, 2);
    EXPECT_EQ(failure->first_at, 1000);
    EXPECT_EQ(failure->last_at, 2000);
    EXPECT_EQ(failure->log, "/tmp/log2");
    EXPECT_EQ(failure->reason, "exit 2");
    EXPECT_EQ(failure->drv_path(), k_drv_b);
    EXPECT_FALSE(index.reader().local_failure(drv.hash, 2001)); // expired
    EXPECT_TRUE(index.forget_local_failure(drv.hash));
    EXPECT_FALSE(index.forget_local_failure(drv.hash));
    EXPECT_FALSE(index.reader().local_failure(drv.hash, 0));
}

TEST(Index, RepeatedRecordKeepsEarlierLogAndReason) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    const auto drv = *core::parse_store_path(k_drv_b);
    index.record_local_failure(drv, 1000, "", "");
    auto failure = index.reader().local_failure(drv.hash, 0);
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->log, "");
    EXPECT_EQ(failure->reason, "");
    index.record_local_failure(drv, 2000, "/tmp/log", "exit 1");
    index.record_local_failure(drv, 3000, "", "");
    failure = index.reader().local_failure(drv.hash, 0);
    EXPECT_EQ(failure->count, 3);
    EXPECT_EQ(failure->last_at, 3000);
    EXPECT_EQ(failure->log, "/tmp/log");
    EXPECT_EQ(failure->reason, "exit 1");
    index.record_local_failure(drv, 4000, "", "out of memory");
    failure = index.reader().local_failure(drv.hash, 0);
    EXPECT_EQ(failure->log, "/tmp/log");
    EXPECT_EQ(failure->reason, "out of memory");
    index.record_local_failure(drv, 5000, "/tmp/log2", "");
    failure = index.reader().local_failure(drv.hash, 0);
    EXPECT_EQ(failure->log, "/tmp/log2");
    EXPECT_EQ(failure->reason, "out of memory");
    EXPECT_EQ(failure->first_at, 1000);
}

TEST(Index, ReadOnlyOpenWithoutWalAndShmCreatesNothing) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(4, k_drv_a, true, 1, 100)});
    }
    close_like_the_sqlite3_shell(path);
    ASSERT_EQ(dir.names(), std::vector<std::string>{"i.sqlite"});
    {
        auto index = IndexReader::open(path);
        const auto snapshot = index.snapshot();
        EXPECT_TRUE(index.ever_synced());
        EXPECT_EQ(status_of(index, k_drv_a), 1);
        EXPECT_EQ(index.jobsets().size(), 1u);
        EXPECT_EQ(dir.names(), std::vector<std::string>{"i.sqlite"});
    }
    EXPECT_EQ(dir.names(), std::vector<std::string>{"i.sqlite"});
}

TEST(Index, ReaderOfTheMainFileAloneSeesAWriterThatCameLater) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(4, k_drv_a, true, 0, 100)});
    }
    close_like_the_sqlite3_shell(path);
    auto reader = IndexReader::open(path);
    ASSERT_EQ(dir.names(), std::vector<std::string>{"i.sqlite"}); // it reads the main file alone
    const auto snapshot = reader.snapshot();                      // as lookup and gate hold one
    EXPECT_EQ(status_of(reader, k_drv_a), 0);                     // its pages are now cached
    {
        // A sync: the build failed when restarted, and a checkpoint writes
        // the change into the main file.
        auto writer = IndexWriter::open(path);
        ingest(writer, {build(4, k_drv_a, true, 1, 200)});
        run_sql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    EXPECT_EQ(status_of(reader, k_drv_a), 1);
    // The reader's lock kept the writer from deleting what it created.
    EXPECT_EQ(dir.names(), (std::vector<std::string>{"i.sqlite", "i.sqlite-shm", "i.sqlite-wal"}));
}

TEST(Index, ReadOnlyOpenReadsTransactionsStillInTheWal) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(4, k_drv_a, true, 0, 100)});
    }
    close_like_the_sqlite3_shell(path);
    auto writer = IndexWriter::open(path); // stays open: its commit stays in the -wal
    ingest(writer, {build(5, k_drv_b, true, 1, 100)});
    auto reader = IndexReader::open(path);
    EXPECT_EQ(status_of(reader, k_drv_a), 0);
    EXPECT_EQ(status_of(reader, k_drv_b), 1);
}

TEST(Index, ReadOnlyOpenOfAPathWithUriCharacters) {
    TempDir dir;
    const auto path = dir.file("a?b=1#c%41 d.sqlite");
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(4, k_drv_a, true, 1, 100)});
    }
    close_like_the_sqlite3_shell(path);
    auto index = IndexReader::open(path);
    EXPECT_EQ(status_of(index, k_drv_a), 1);
    EXPECT_EQ(dir.names(), std::vector<std::string>{"a?b=1#c%41 d.sqlite"});
}

TEST(Index, JobsetInfoCountsEvalsAndBuilds) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(1, k_drv_a, true, 0, 100), build(2, k_drv_b, true, 1, 100)});
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    core::EvalRecord eval;
    eval.id = 3;
    eval.builds = {1, 2};
    index.put_eval(state, eval);
    const auto infos = index.reader().jobsets();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].evals, 1);
    EXPECT_EQ(infos[0].builds, 2);
    EXPECT_EQ(infos[0].state.synced_at, 1000);
}

TEST(Index, JobLookupFindsLatestBuildOfJob) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    ingest(index, {build(1, k_drv_a, true, 1, 100), build(2, k_drv_b, true, 0, 200)});
    const auto rows = index.reader().builds_of_job("nixpkgs", "trunk", "hello.x86_64-linux");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].build_id, 2);
    EXPECT_TRUE(index.reader().builds_of_job("nixpkgs", "staging", "hello.x86_64-linux").empty());
}

// --- schema v4 (issue 16): sizes, keys and lookups ----------------------

// The rows of one query on a connection of its own, as text ("|" between
// columns, NULL as "NULL").
std::vector<std::string> sql_rows(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::vector<std::string> rows;
    while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
        std::string row;
        for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
            const auto* text = sqlite3_column_text(stmt, i);
            row += (i ? "|" : "") +
                   (text ? std::string(reinterpret_cast<const char*>(text)) : std::string("NULL"));
        }
        rows.push_back(row);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
}

const std::string k_fixture_v2 = std::string(HS_TEST_DATA) + "/index-v2/index.sqlite";

TEST(IndexSchema, FirstInstanceKeysBuildsAndEvalsByHydraIds) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        auto txn = index.transaction();
        auto one = index.jobset("https://one.example", "p", "j");
        auto two = index.jobset("https://two.example", "p", "j");
        ASSERT_TRUE(index.put_build(one.instance, build(280'000'001, k_drv_a, true, 0, 100, "j")));
        ASSERT_TRUE(index.put_build(two.instance, build(5, k_drv_b, true, 1, 100, "j")));
        core::EvalRecord eval;
        eval.id = 1'800'000;
        eval.builds = {280'000'001};
        index.put_eval(one, eval);
        index.put_eval(two, eval);
        txn.commit();
        EXPECT_EQ(index.reader().builds_of_drv(key_of(k_drv_a).hash).front().build_id, 280'000'001);
        EXPECT_EQ(index.reader().builds_of_drv(key_of(k_drv_b).hash).front().build_id, 5);
        EXPECT_EQ(index.reader().builds_to_fetch(two.instance, std::vector<int64_t>{5, 6}),
                  std::vector<int64_t>{6});
        EXPECT_EQ(index.reader().eval_builds(two.instance, 1'800'000),
                  std::vector<int64_t>{280'000'001});
    }
    EXPECT_EQ(sql_rows(path, "SELECT id FROM build ORDER BY id"),
              (std::vector<std::string>{"280000001", std::to_string((int64_t{1} << 40) | 5)}));
    EXPECT_EQ(sql_rows(path, "SELECT id FROM eval ORDER BY id"),
              (std::vector<std::string>{"1800000", std::to_string((int64_t{1} << 40) | 1800000)}));
}

TEST(IndexSchema, OutputsAreKeyedByAnEightBytePrefixWithOutAsNull) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    // k_dev_a's hash differs from k_out_a's in its last bytes only (nix32's
    // first characters): its key would be k_out_a's. This one differs in
    // its first bytes.
    const std::string dev = "/nix/store/2c7wp2nnn3kzqymkz4ba3ip8qlxdq7zz-hello-2.12.1-dev";
    {
        auto index = IndexWriter::open(path);
        auto b = build(4, k_drv_a, true, 0, 100);
        b.outputs = {{"out", k_out_a}, {"dev", dev}};
        ingest(index, {b});
    }
    EXPECT_EQ(sql_rows(path, "SELECT length(hash), coalesce(name, 'NULL') FROM output "
                             "ORDER BY 2"),
              (std::vector<std::string>{"8|NULL", "8|dev"}));
    auto index = IndexReader::open(path);
    for (const auto& text : {k_out_a, dev, k_out_a.substr(11, 32)}) {
        const auto answer = index.answer_key(key_of(text), 0);
        ASSERT_EQ(answer.builds.size(), 1u) << text;
        EXPECT_EQ(answer.builds[0].drv_path(), k_drv_a);
    }
}

TEST(IndexSchema, DrvIndexHoldsAPrefixAndTheRowTheFullHash) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    // Two drvs whose hashes share their first 8 bytes (the first 13 nix32
    // characters, and more: nix32 puts the last bytes first).
    const std::string a = "/nix/store/0a7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-a.drv";
    const std::string b = "/nix/store/zz7wp2nnn3kzqymkz4ba3ip8qlxdq7wl-b.drv";
    const auto hash_a = key_of(a).hash;
    const auto hash_b = key_of(b).hash;
    ASSERT_NE(hash_a, hash_b);
    ASSERT_TRUE(std::equal(hash_a.begin(), hash_a.begin() + 8, hash_b.begin()));
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(1, a, true, 0, 100), build(2, b, true, 1, 100)});
    }
    EXPECT_EQ(sql_rows(path, "SELECT sql FROM sqlite_master WHERE name = 'build_by_drv'"),
              std::vector<std::string>{"CREATE INDEX build_by_drv ON build (substr(drv, 1, 8))"});
    auto index = IndexReader::open(path);
    for (const auto& [drv, id] : {std::pair{a, 1}, std::pair{b, 2}}) {
        const auto answer = index.answer_key(key_of(drv), 0);
        ASSERT_EQ(answer.builds.size(), 1u) << drv;
        EXPECT_EQ(answer.builds[0].build_id, id);
        EXPECT_EQ(index.builds_of_drv(key_of(drv).hash).size(), 1u);
        EXPECT_EQ(index.deciding_state(key_of(drv).hash)->buildstatus, id - 1);
    }
}

TEST(IndexSchema, DurationIsStoredAndStarttimeDerivedFromIt) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    auto running = build(2, k_drv_b, false, std::nullopt, std::nullopt);
    running.starttime = 50; // started, not stopped: no duration yet
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(1, k_drv_a, true, 0, 100), running});
    }
    EXPECT_EQ(sql_rows(path, "SELECT id, coalesce(duration, 'NULL') FROM build ORDER BY id"),
              (std::vector<std::string>{"1|10", "2|NULL"}));
    auto index = IndexReader::open(path);
    const auto done = index.answer_key(key_of(k_drv_a), 0).builds.at(0);
    EXPECT_EQ(done.starttime, 90);
    EXPECT_EQ(done.stoptime, 100);
    EXPECT_FALSE(index.answer_key(key_of(k_drv_b), 0).builds.at(0).starttime);
}

TEST(IndexSchema, InterningNeverInsertsANameTwice) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        ingest(index, {build(1, k_drv_a, true, 0, 100)});
        { // interns a new job, then rolls back
            auto txn = index.transaction();
            auto state = index.jobset(k_url, "nixpkgs", "trunk");
            auto b = build(2, k_drv_b, true, 0, 100);
            b.job = "rolled-back";
            ASSERT_TRUE(index.put_build(state.instance, b));
        }
        auto b = build(3, k_drv_b, true, 0, 100);
        b.job = "rolled-back";
        ingest(index, {b, build(4, k_drv_a, true, 0, 200)});
    }
    { // another writer, with no names cached
        auto index = IndexWriter::open(path);
        auto b = build(5, k_drv_b, true, 0, 300, "staging");
        b.job = "rolled-back";
        ingest(index, {b, build(6, k_drv_a, true, 0, 300, "staging")}, "staging");
    }
    EXPECT_EQ(
        sql_rows(path, "SELECT text, count(*) FROM name GROUP BY text ORDER BY text"),
        (std::vector<std::string>{"hello.x86_64-linux|1", "rolled-back|1", "x86_64-linux|1"}));
    EXPECT_TRUE(sql_rows(path, "SELECT name FROM sqlite_master WHERE tbl_name = 'name' AND "
                               "type = 'index'")
                    .empty());
}

// put_builds writes a batch (out of id order, as Hydra sends it) in id and
// output-key order: what it leaves is what put_build leaves, build by build
// in arrival order: a repeated id keeps its later row, an output path built
// twice keeps its first build.
TEST(IndexSchema, PutBuildsLeavesWhatPutBuildLeavesInTurn) {
    std::vector<core::BuildRecord> batch;
    for (const int64_t id : {9, 3, 7, 1, 5, 3, 8}) {
        auto b = build(id, k_drv_a, true, 0, 100 + id);
        b.drvpath = "/nix/store/" + std::string(31, 'a') + std::to_string(id) + "-x.drv";
        b.job = "job" + std::to_string(id);
        b.outputs = {
            {"out", "/nix/store/" + std::string(31, 'b') + std::to_string(id) + "-x"},
            {"dev", "/nix/store/" + std::string(30, 'c') + std::to_string(id + 10) + "-x-dev"}};
        batch.push_back(b);
    }
    batch[5].buildstatus = 1; // id 3 again: this row stays
    batch[3].outputs = {      // id 1 shares an output path with id 9 (came first)
                        {"out", batch[0].outputs[0].second}};
    const char* dump = "SELECT b.id, hex(b.drv), b.name, n.text, b.status, b.stoptime FROM build "
                       "b JOIN name n ON n.id = b.job ORDER BY b.id";
    const char* outputs = "SELECT hex(hash), build, name FROM output ORDER BY hash";
    TempDir dir;
    const auto one = dir.file("one.sqlite");
    const auto all = dir.file("all.sqlite");
    {
        auto index = IndexWriter::open(one);
        auto txn = index.transaction();
        auto state = index.jobset(k_url, "nixpkgs", "trunk");
        for (const auto& b : batch) {
            ASSERT_TRUE(index.put_build(state.instance, b));
        }
        txn.commit();
    }
    {
        auto index = IndexWriter::open(all);
        auto txn = index.transaction();
        auto state = index.jobset(k_url, "nixpkgs", "trunk");
        ASSERT_TRUE(index.put_builds(state.instance, batch));
        txn.commit();
    }
    EXPECT_EQ(sql_rows(all, dump), sql_rows(one, dump));
    EXPECT_EQ(sql_rows(all, outputs), sql_rows(one, outputs));
    EXPECT_EQ(sql_rows(all, "SELECT status FROM build WHERE id = 3"),
              std::vector<std::string>{"1"});
    EXPECT_EQ(sql_rows(all, "SELECT build FROM output WHERE name IS NULL AND build IN (1, 9)"),
              std::vector<std::string>{"9"});
}

TEST(IndexSchema, PutBuildsRefusesAnInvalidBuildWithItsReason) {
    TempDir dir;
    auto index = IndexWriter::open(dir.file("i.sqlite"));
    auto txn = index.transaction();
    auto state = index.jobset(k_url, "nixpkgs", "trunk");
    std::vector<core::BuildRecord> batch{build(2, k_drv_a, true, 0, 100),
                                         build(1, "/nix/store/not-a-drv", true, 0, 100)};
    EXPECT_NE(index.put_builds(state.instance, batch).error().find("invalid drvpath"),
              std::string::npos);
    batch[1] = build(1, k_drv_b, true, 0, 100);
    batch[1].outputs = {{"out", "/tmp/x"}};
    EXPECT_NE(index.put_builds(state.instance, batch).error().find("invalid output path"),
              std::string::npos);
}

TEST(NameTable, FindsEveryNameInsertedAndNoOther) {
    NameTable names;
    EXPECT_FALSE(names.find("a").has_value());
    // Enough names to grow the slots several times; a long one, an empty
    // one and names that differ only at the end.
    const std::string long_name(3 << 20, 'x');
    names.insert("", 1);
    names.insert(long_name.substr(0, 100'000), 2);
    names.reserve(150'001); // a size that is no power of two; then grows past it
    EXPECT_EQ(names.find(""), 1);
    for (int64_t i = 0; i < 200'000; ++i) {
        names.insert("python312Packages.name-" + std::to_string(i) + ".x86_64-linux", i + 3);
    }
    EXPECT_EQ(names.size(), 200'002U);
    names.insert(long_name, 300'000); // any length: only its hash is kept
    EXPECT_EQ(names.find(long_name), 300'000);
    EXPECT_EQ(names.find(""), 1);
    EXPECT_EQ(names.find(long_name.substr(0, 100'000)), 2);
    EXPECT_FALSE(names.find(long_name.substr(0, 99'999)).has_value());
    for (int64_t i = 0; i < 200'000; i += 997) {
        EXPECT_EQ(names.find("python312Packages.name-" + std::to_string(i) + ".x86_64-linux"),
                  i + 3);
    }
    EXPECT_FALSE(names.find("python312Packages.name-200000.x86_64-linux").has_value());
    EXPECT_FALSE(names.find("python312Packages.name-1.x86_64-linu").has_value());
    // A row id past 32 bits is refused rather than cut.
    EXPECT_THROW(names.insert("big", int64_t{1} << 32), Error);
    EXPECT_THROW(names.insert("zero", 0), Error);
    EXPECT_FALSE(names.find("big").has_value());
    names.clear();
    EXPECT_EQ(names.size(), 0U);
    EXPECT_FALSE(names.find("").has_value());
    names.insert("again", 7);
    EXPECT_EQ(names.find("again"), 7);
}

// answer_key (one statement) and answer_keys (a batch, maps) agree with the
// reads they replace, for every kind of key, with and without a local
// failure record and a build.
TEST(IndexLookup, AnswerKeyAndAnswerKeysAgreeWithBuildsForKey) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    const std::string unknown = "/nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-nowhere.drv";
    {
        auto index = IndexWriter::open(path);
        auto a = build(4, k_drv_a, true, 1, 100);
        a.outputs = {{"out", k_out_a}, {"dev", k_dev_a}};
        ingest(index, {a, build(5, k_drv_a, true, 0, 90, "staging")});
        ingest(index, {build(6, k_drv_b, false, std::nullopt, std::nullopt)}, "staging");
        index.record_local_failure(*core::parse_store_path(k_drv_b), 500, "/log", "oom");
        index.record_local_failure(*core::parse_store_path(unknown), 500, "", "");
    }
    auto index = IndexReader::open(path);
    std::vector<core::Key> keys;
    for (const auto& text :
         {k_drv_a, k_drv_a.substr(11), k_drv_a.substr(11, 32), k_out_a, k_dev_a.substr(11, 32),
          k_drv_b, unknown, unknown.substr(11, 32), k_drv_a.substr(0, 44) + "other.drv",
          std::string("/nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-nowhere")}) {
        keys.push_back(key_of(text));
    }
    const auto snapshot = index.snapshot();
    const auto batch = index.answer_keys(keys, 400);
    ASSERT_EQ(batch.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        const auto single = index.answer_key(keys[i], 400);
        const auto old = index.builds_for_key(keys[i]);
        for (const auto* answer : {&single, &batch[i]}) {
            ASSERT_EQ(answer->builds.size(), old.size()) << i;
            for (size_t j = 0; j < old.size(); ++j) {
                const auto& [got, want] = std::tie(answer->builds[j], old[j]);
                EXPECT_EQ(got.build_id, want.build_id);
                EXPECT_EQ(got.hydra_url, want.hydra_url);
                EXPECT_EQ(got.drv_path(), want.drv_path());
                EXPECT_EQ(got.project + ":" + got.jobset, want.project + ":" + want.jobset);
                EXPECT_EQ(got.job + " " + got.system, want.job + " " + want.system);
                EXPECT_EQ(got.finished, want.finished);
                EXPECT_EQ(got.buildstatus, want.buildstatus);
                EXPECT_EQ(got.starttime, want.starttime);
                EXPECT_EQ(got.stoptime, want.stoptime);
                EXPECT_EQ(got.synced_at, want.synced_at);
            }
            // The drv whose local record counts, as lookup asked before.
            std::optional<core::HashBytes> drv;
            if (!old.empty()) {
                drv = old.front().drv_hash;
            } else if (keys[i].kind != core::KeyKind::output_path) {
                drv = keys[i].hash;
            }
            const auto local = drv ? index.local_failure(*drv, 400) : std::nullopt;
            EXPECT_EQ(answer->local.has_value(), local.has_value()) << i;
            if (local && answer->local) {
                EXPECT_EQ(answer->local->drv_path(), local->drv_path());
                EXPECT_EQ(answer->local->count, local->count);
                EXPECT_EQ(answer->local->last_at, local->last_at);
                EXPECT_EQ(answer->local->log, local->log);
                EXPECT_EQ(answer->local->reason, local->reason);
            }
            EXPECT_EQ(answer->ever_synced, std::optional<bool>(true)) << i;
        }
    }
    EXPECT_FALSE(index.answer_key(keys[0], 501).local); // expired
}

TEST(IndexLookup, EverSyncedIsToldOnlyWhenNoSyncedBuildAnswers) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    {
        auto index = IndexWriter::open(path);
        auto txn = index.transaction();
        auto state = index.jobset(k_url, "nixpkgs", "trunk"); // never marked synced
        ASSERT_TRUE(index.put_build(state.instance, build(1, k_drv_a, true, 0, 100)));
        txn.commit();
    }
    auto index = IndexReader::open(path);
    EXPECT_EQ(index.answer_key(key_of(k_drv_a), 0).ever_synced, std::optional<bool>(false));
    EXPECT_EQ(index.answer_key(key_of(k_drv_b), 0).ever_synced, std::optional<bool>(false));
    const auto snapshot = index.snapshot();
    const std::vector<core::Key> keys{key_of(k_drv_a), key_of(k_drv_b)};
    for (const auto& answer : index.answer_keys(keys, 0)) {
        EXPECT_EQ(answer.ever_synced, std::optional<bool>(false));
    }
}

TEST(IndexSchema, ReaderRefusesAnOlderSchemaAndLeavesItAlone) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    fs::copy_file(k_fixture_v2, path);
    const auto size = fs::file_size(path);
    try {
        IndexReader::open(path);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::no_index);
        EXPECT_NE(std::string(e.what()).find("schema version 2 is older"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("run 'hydra-status sync'"), std::string::npos);
    }
    EXPECT_EQ(user_version(path), 2);
    EXPECT_EQ(fs::file_size(path), size);
}

TEST(IndexSchema, WriterMigratesTheReleasedV2Index) {
    TempDir dir;
    const auto path = dir.file("i.sqlite");
    fs::copy_file(k_fixture_v2, path);
    const auto builds = sql_rows(path, "SELECT id & 1099511627775, hex(drv), name, jobset, job, "
                                       "system, finished, status, stoptime - starttime, "
                                       "stoptime FROM build ORDER BY id");
    ASSERT_GT(builds.size(), 60u);
    { auto index = IndexWriter::open(path); }
    EXPECT_EQ(user_version(path), k_schema_version);
    EXPECT_EQ(sql_rows(path, "SELECT id, hex(drv), name, jobset, job, system, finished, status, "
                             "duration, stoptime FROM build ORDER BY id"),
              builds);
    EXPECT_EQ(sql_rows(path, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    auto index = IndexReader::open(path);
    EXPECT_TRUE(index.ever_synced());
    EXPECT_EQ(count_builds(index), static_cast<int64_t>(builds.size()));
}

} // namespace
} // namespace hs::index
