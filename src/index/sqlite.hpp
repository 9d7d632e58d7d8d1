#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace hs::index {

// read_only: SQLITE_OPEN_READONLY (the same as the URI parameter mode=ro).
// It reads a WAL index as long as its -wal and -shm files exist; it never
// checkpoints, not even on close.
// immutable: the URI parameter immutable=1, also read-only: SQLite reads the
// main file alone, with no locks, and ignores the -wal and -shm files. Only
// safe while nothing writes the index; IndexReader::open decides when.
// read_write: creates the file if needed.
enum class OpenMode { read_only, immutable, read_write };

// Owns one sqlite3 connection. Errors throw hs::Error naming the file.
class Database {
public:
    Database() = default;
    Database(const std::string& path, OpenMode mode);
    ~Database();
    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(const char* sql);
    int64_t last_insert_rowid() const;
    int changes() const;
    const std::string& path() const { return m_path; }
    // Whether SQLite opened the file read-only (a read_write open falls back
    // to read-only when the file is not writable).
    bool read_only() const;
    // Whether a transaction is open (BEGIN without its end yet).
    bool in_transaction() const;
    // SQLITE_FCNTL_PERSIST_WAL: the -wal and -shm files stay when the last
    // connection closes (a no-op for an in-memory database).
    void keep_wal_on_close();

    // Throws hs::Error "<path>: <what>: <sqlite message>" for result code rc.
    [[noreturn]] void fail(int rc, std::string_view what) const;

private:
    static int retry_every_millisecond(void* unused, int tries);
    friend class Statement;
    friend class Snapshot;
    friend class Transaction;
    friend class Attachment;
    // Runs sql, ignoring errors: for the ends of transactions in destructors.
    void exec_quietly(const char* sql) noexcept;

    sqlite3* m_db = nullptr;
    std::string m_path;
};

// A prepared statement, prepared once and reused. bind() then step(); the
// statement is reset (and bindings cleared) by Use's destructor.
class Statement {
public:
    Statement() = default;
    Statement(Database& db, const char* sql);
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    class Use {
    public:
        explicit Use(Statement& stmt) : m_stmt(stmt) {}
        ~Use();
        Use(const Use&) = delete;
        Use& operator=(const Use&) = delete;

        Use& bind(int64_t value);
        Use& bind(std::string_view text);
        Use& bind(std::span<const uint8_t> blob);
        Use& bind_null();
        template <class T>
        Use& bind(const std::optional<T>& value) {
            return value ? bind(*value) : bind_null();
        }

        // Steps once: true while a row is available.
        bool next();
        // Steps to completion (for statements that return no rows).
        void exec();

        bool is_null(int col) const;
        int64_t get_int(int col) const;
        std::optional<int64_t> get_opt_int(int col) const;
        std::string get_str(int col) const; // "" for NULL
        std::span<const uint8_t> get_blob(int col) const;

    private:
        Statement& m_stmt;
        int m_next_param = 1;
    };

    Use use() { return Use(*this); }

private:
    sqlite3_stmt* m_stmt = nullptr;
};

// A read snapshot: BEGIN on construction unless a transaction is already
// open (then it is part of that one and ends nothing), and its end in the
// destructor. Many reads in one snapshot take the WAL read lock once
// instead of once per statement. Obtained from IndexReader::snapshot().
class Snapshot {
public:
    explicit Snapshot(Database& db);
    ~Snapshot();
    Snapshot(Snapshot&& other) noexcept;
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    Snapshot& operator=(Snapshot&&) = delete;

private:
    Database* m_db;
    bool m_own;
};

// BEGIN IMMEDIATE on construction; ROLLBACK in the destructor unless commit().
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(Transaction&& other) noexcept;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    void commit();
    // Whether neither commit() nor a move ended it.
    bool active() const { return m_active; }

private:
    Database* m_db;
    bool m_active = true;
};

// ATTACH of another database file as `schema` on construction (never inside
// a transaction: SQLite refuses), DETACH in the destructor.
class Attachment {
public:
    Attachment(Database& db, const std::string& path, const char* schema);
    ~Attachment();
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;
    Attachment(Attachment&&) = delete;
    Attachment& operator=(Attachment&&) = delete;

private:
    Database* m_db;
    std::string m_detach;
};

} // namespace hs::index
