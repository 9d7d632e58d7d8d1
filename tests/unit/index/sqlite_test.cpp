#include "core/error.hpp"
#include "index/sqlite.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace hs::index {
namespace {

std::string file_in(const test::TempDir& dir, const std::string& name) {
    return (dir.path() / name).string();
}

// A file with table t (x INTEGER, s TEXT, b BLOB) in WAL mode.
Database table_db(const std::string& path) {
    Database db(path, OpenMode::read_write);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER UNIQUE, s TEXT, b BLOB)");
    return db;
}

int64_t count_rows(Database& db) {
    Statement stmt(db, "SELECT count(*) FROM t");
    auto use = stmt.use();
    EXPECT_TRUE(use.next());
    return use.get_int(0);
}

// The error that body throws; fails the test if it throws none.
template <class F>
Error error_of(F&& body) {
    try {
        body();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "expected an hs::Error";
    return Error("none");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(Database, ReadWriteOpenCreatesTheFile) {
    test::TempDir dir;
    const auto path = file_in(dir, "new.sqlite");
    Database db(path, OpenMode::read_write);
    db.exec("CREATE TABLE t (x)");
    EXPECT_EQ(db.path(), path);
    EXPECT_FALSE(db.read_only());
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
}

// A sync writes its batches like this: the lock held, then free for a few
// milliseconds (BuildStager). SQLite's own busy timeout sleeps up to 100 ms
// between tries and would find such a gap only by chance; a `record` must
// find it and write within a batch or two, never after the 10 s timeout.
TEST(Database, AWaitingWriterTakesTheLockInAGapOfMilliseconds) {
    using namespace std::chrono_literals;
    using Clock = std::chrono::steady_clock;
    test::TempDir dir;
    const auto path = file_in(dir, "busy.sqlite");
    {
        Database db(path, OpenMode::read_write);
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("CREATE TABLE t (x)");
    }
    std::atomic<bool> done{false};
    std::atomic<bool> holding{false};
    std::thread holder([&] {
        Database db(path, OpenMode::read_write);
        const auto until = Clock::now() + 20s;
        while (!done && Clock::now() < until) {
            Transaction txn(db);
            db.exec("INSERT INTO t VALUES (1)");
            holding = true;
            std::this_thread::sleep_for(200ms);
            txn.commit();
            std::this_thread::sleep_for(5ms);
        }
    });
    while (!holding) {
        std::this_thread::sleep_for(1ms);
    }
    Database db(path, OpenMode::read_write);
    const auto start = Clock::now();
    {
        Transaction txn(db);
        db.exec("INSERT INTO t VALUES (2)");
        txn.commit();
    }
    const auto waited = Clock::now() - start;
    done = true;
    holder.join();
    const char* scale = std::getenv("HS_TEST_TIME_SCALE");  // slower under sanitizers
    EXPECT_LT(waited, 1s * (scale ? std::atoi(scale) : 1)); // 1.0-4.6 s with that timeout
}

TEST(Database, ReadOnlyOpenOfAMissingFileIsExitFiveNamingIt) {
    test::TempDir dir;
    const auto path = file_in(dir, "missing.sqlite");
    const Error e = error_of([&] { Database db(path, OpenMode::read_only); });
    EXPECT_EQ(e.code(), ExitCode::no_index);
    EXPECT_TRUE(contains(e.what(), path + ": cannot open index: ")) << e.what();
    struct stat st {};
    EXPECT_NE(::stat(path.c_str(), &st), 0); // nothing created
}

TEST(Database, ReadWriteOpenInAMissingDirectoryIsExitFive) {
    test::TempDir dir;
    const auto path = file_in(dir, "no/such/dir.sqlite");
    const Error e = error_of([&] { Database db(path, OpenMode::read_write); });
    EXPECT_EQ(e.code(), ExitCode::no_index);
    EXPECT_TRUE(contains(e.what(), path + ": cannot open index: ")) << e.what();
}

TEST(Database, ReadWriteOpenOfAFileThatMayNotBeWrittenIsReadOnly) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root may write any file";
    }
    test::TempDir dir;
    const auto path = file_in(dir, "ro.sqlite");
    { table_db(path); }
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
    Database db(path, OpenMode::read_write);
    EXPECT_TRUE(db.read_only());
}

TEST(Database, ReadOnlyConnectionsRefuseWritesWithExitFive) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    { table_db(path); }
    for (const OpenMode mode : {OpenMode::read_only, OpenMode::immutable}) {
        Database db(path, mode);
        EXPECT_TRUE(db.read_only());
        EXPECT_EQ(count_rows(db), 0);
        const Error e = error_of([&] { db.exec("INSERT INTO t (x) VALUES (1)"); });
        EXPECT_EQ(e.code(), ExitCode::no_index);
        EXPECT_TRUE(contains(e.what(), path + ": cannot run statement: ")) << e.what();
    }
}

TEST(Database, ForeignFileIsExitFiveNamingIt) {
    test::TempDir dir;
    const auto path = file_in(dir, "junk.sqlite");
    std::ofstream(path) << std::string(4096, 'x');
    const Error e = error_of([&] {
        Database db(path, OpenMode::read_only);
        db.exec("SELECT 1 FROM sqlite_master");
    });
    EXPECT_EQ(e.code(), ExitCode::no_index);
    EXPECT_TRUE(contains(e.what(), path + ": ")) << e.what();
    EXPECT_TRUE(contains(e.what(), "not a database")) << e.what();
}

TEST(Database, PrepareErrorIsExitFiveNamingTheFile) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    Database db = table_db(path);
    const Error e = error_of([&] { Statement stmt(db, "SELECT nonsense FROM nowhere"); });
    EXPECT_EQ(e.code(), ExitCode::no_index);
    EXPECT_TRUE(contains(e.what(), path + ": cannot prepare statement: no such table")) << e.what();
}

TEST(Database, PathWithUriCharactersOpensImmutable) {
    test::TempDir dir;
    const auto path = file_in(dir, "a?b=1#c%41 d.sqlite");
    {
        Database db = table_db(path);
        db.exec("INSERT INTO t (x) VALUES (7)");
        db.exec("PRAGMA journal_mode = DELETE");
    }
    Database db(path, OpenMode::immutable);
    EXPECT_EQ(count_rows(db), 1);
}

TEST(Database, ChangesAndLastInsertRowidAreOfTheLastStatement) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    db.exec("INSERT INTO t (x) VALUES (1), (2), (3)");
    EXPECT_EQ(db.changes(), 3);
    EXPECT_EQ(db.last_insert_rowid(), 3);
    db.exec("DELETE FROM t WHERE x > 1");
    EXPECT_EQ(db.changes(), 2);
}

TEST(Database, MovedDatabaseKeepsTheConnection) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    Database first = table_db(path);
    Statement insert(first, "INSERT INTO t (x) VALUES (?1)");
    Database second = std::move(first);
    insert.use().bind(int64_t{5}).exec();
    EXPECT_EQ(second.path(), path);
    EXPECT_EQ(count_rows(second), 1);
}

TEST(Statement, BindsEachTypeAndReadsItBack) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    const std::array<uint8_t, 3> blob{0, 1, 255};
    {
        Statement insert(db, "INSERT INTO t (x, s, b) VALUES (?1, ?2, ?3)");
        insert.use().bind(int64_t{42}).bind(std::string_view("hi\0there", 8)).bind(blob).exec();
        insert.use().bind(std::optional<int64_t>()).bind_null().bind_null().exec();
    }
    Statement select(db, "SELECT x, s, b FROM t ORDER BY rowid");
    auto use = select.use();
    ASSERT_TRUE(use.next());
    EXPECT_EQ(use.get_int(0), 42);
    EXPECT_EQ(use.get_opt_int(0), 42);
    EXPECT_EQ(use.get_str(1), std::string("hi\0there", 8));
    const auto read = use.get_blob(2);
    EXPECT_EQ(std::vector<uint8_t>(read.begin(), read.end()),
              std::vector<uint8_t>(blob.begin(), blob.end()));
    ASSERT_TRUE(use.next());
    EXPECT_TRUE(use.is_null(0));
    EXPECT_EQ(use.get_opt_int(0), std::nullopt);
    EXPECT_EQ(use.get_str(1), "");
    EXPECT_TRUE(use.get_blob(2).empty());
    EXPECT_FALSE(use.next());
}

TEST(Statement, EachUseStartsOverWithItsBindingsCleared) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    db.exec("INSERT INTO t (x) VALUES (1), (2), (3)");
    Statement stmt(db, "SELECT x FROM t WHERE ?1 IS NULL OR x >= ?1 ORDER BY x");
    {
        auto use = stmt.use();
        use.bind(int64_t{2});
        ASSERT_TRUE(use.next());
        EXPECT_EQ(use.get_int(0), 2); // left before the last row
    }
    {
        auto use = stmt.use(); // reset, and ?1 unbound (NULL): every row, from the first
        ASSERT_TRUE(use.next());
        EXPECT_EQ(use.get_int(0), 1);
    }
    auto use = stmt.use();
    use.bind(int64_t{3});
    ASSERT_TRUE(use.next());
    EXPECT_EQ(use.get_int(0), 3);
    EXPECT_FALSE(use.next());
}

TEST(Statement, StepErrorIsExitFiveNamingTheFileAndLeavesTheStatementUsable) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    Database db = table_db(path);
    Statement insert(db, "INSERT INTO t (x) VALUES (?1)");
    insert.use().bind(int64_t{1}).exec();
    const Error e = error_of([&] { insert.use().bind(int64_t{1}).exec(); });
    EXPECT_EQ(e.code(), ExitCode::no_index);
    EXPECT_TRUE(contains(e.what(), path + ": cannot execute statement: UNIQUE constraint failed"))
        << e.what();
    insert.use().bind(int64_t{2}).exec();
    EXPECT_EQ(count_rows(db), 2);
}

TEST(Transaction, CommitKeepsTheWrites) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    Database db = table_db(path);
    {
        Transaction txn(db);
        EXPECT_TRUE(db.in_transaction());
        db.exec("INSERT INTO t (x) VALUES (1)");
        txn.commit();
        EXPECT_FALSE(txn.active());
        EXPECT_FALSE(db.in_transaction());
    }
    Database other(path, OpenMode::read_only);
    EXPECT_EQ(count_rows(other), 1);
}

TEST(Transaction, DestructionWithoutCommitRollsBack) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    {
        Transaction txn(db);
        db.exec("INSERT INTO t (x) VALUES (1)");
        EXPECT_EQ(count_rows(db), 1);
    }
    EXPECT_FALSE(db.in_transaction());
    EXPECT_EQ(count_rows(db), 0);
}

TEST(Transaction, MovedTransactionEndsOnce) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    std::optional<Transaction> first;
    first.emplace(db);
    db.exec("INSERT INTO t (x) VALUES (1)");
    {
        Transaction second(std::move(*first));
        EXPECT_FALSE(first->active());
        EXPECT_TRUE(second.active());
        second.commit();
    }
    Transaction later(db);
    db.exec("INSERT INTO t (x) VALUES (2)");
    first.reset(); // must not roll back `later`
    EXPECT_TRUE(db.in_transaction());
    later.commit();
    EXPECT_EQ(count_rows(db), 2);
}

TEST(Transaction, SecondWriterWaitsAndThenFailsWithExitFive) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    Database db = table_db(path);
    Database other(path, OpenMode::read_write);
    other.exec("PRAGMA busy_timeout = 0"); // the 10 s of every connection, shortened
    Transaction txn(db);
    const Error e = error_of([&] { Transaction second(other); });
    EXPECT_EQ(e.code(), ExitCode::no_index);
    EXPECT_TRUE(contains(e.what(), "database is locked")) << e.what();
    EXPECT_TRUE(contains(e.what(), "write lock")) << e.what();
}

TEST(Snapshot, BeginsAndEndsAReadTransaction) {
    test::TempDir dir;
    const auto path = file_in(dir, "i.sqlite");
    Database writer = table_db(path);
    Database reader(path, OpenMode::read_only);
    {
        const Snapshot snapshot(reader);
        EXPECT_TRUE(reader.in_transaction());
        EXPECT_EQ(count_rows(reader), 0);
        writer.exec("INSERT INTO t (x) VALUES (1)");
        EXPECT_EQ(count_rows(reader), 0); // one state for the whole snapshot
    }
    EXPECT_FALSE(reader.in_transaction());
    EXPECT_EQ(count_rows(reader), 1);
}

TEST(Snapshot, InsideATransactionIsPartOfIt) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    Transaction txn(db);
    db.exec("INSERT INTO t (x) VALUES (1)");
    {
        const Snapshot snapshot(db);
        EXPECT_EQ(count_rows(db), 1); // sees the transaction's writes
    }
    EXPECT_TRUE(db.in_transaction()); // ending the snapshot ended nothing
    db.exec("INSERT INTO t (x) VALUES (2)");
    txn.commit();
    EXPECT_EQ(count_rows(db), 2);
}

TEST(Snapshot, MovedSnapshotEndsOnce) {
    test::TempDir dir;
    Database db = table_db(file_in(dir, "i.sqlite"));
    std::optional<Snapshot> first;
    first.emplace(db);
    {
        const Snapshot second(std::move(*first));
        EXPECT_TRUE(db.in_transaction());
    }
    EXPECT_FALSE(db.in_transaction()); // ended by the one it moved to
    Transaction txn(db);
    db.exec("INSERT INTO t (x) VALUES (1)");
    first.reset(); // must not end `txn`
    EXPECT_TRUE(db.in_transaction());
    txn.commit();
    EXPECT_EQ(count_rows(db), 1);
}

} // namespace
} // namespace hs::index
