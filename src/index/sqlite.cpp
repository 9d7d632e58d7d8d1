#include "index/sqlite.hpp"

#include "core/error.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <string>
#include <utility>

namespace hs::index {

namespace {

// SQLite's message, plus what the operating system said when an I/O call
// failed: "disk I/O error" alone does not tell a full disk, a file size
// limit or a directory given as the index ("Is a directory") apart.
std::string describe(sqlite3* db, int rc) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int primary = rc & 0xff;
    if (db && (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN)) {
        if (const int os_error = sqlite3_system_errno(db); os_error != 0) {
            message += " (";
            message += std::strerror(os_error);
            message += ")";
        } else if (rc == SQLITE_IOERR_WRITE) {
            // SQLite keeps errno only for some calls; a failed write is
            // nearly always a full disk or a file size limit (EFBIG).
            message += " (writing failed: disk full or file size limit?)";
        }
    }
    if (primary == SQLITE_READONLY) {
        // Also what a reader of a WAL index gets when it may not create the
        // -shm file next to it.
        message += " (the index or its directory is not writable)";
    }
    if (primary == SQLITE_BUSY) {
        message += " (another process held the index's write lock for more than 10 s)";
    }
    return message;
}

// Throws hs::Error "<path>: <what>: <message>"; a damaged or foreign file
// is a missing index (exit 5), anything else a failure.
[[noreturn]] void throw_error(sqlite3* db, std::string_view path, int rc, std::string_view what) {
    const std::string message = describe(db, rc);
    // Whatever SQLite refused (a damaged or foreign file, a file or directory
    // the user cannot write, a write lock held past the busy timeout, a full
    // disk), the index could not be used: exit 5, as the contract says for
    // every command. Never 1, the code for "a failure was found".
    throw Error(std::string(path) + ": " + std::string(what) + ": " + message, ExitCode::no_index);
}

// A statement's error. The statement's connection and file name are asked
// from SQLite, never from the Database the statement was prepared on: that
// object may have moved since (an Index is returned and stored by value),
// and its old address then holds garbage (a crash on every error path).
[[noreturn]] void statement_error(sqlite3_stmt* stmt, int rc, std::string_view what) {
    sqlite3* const db = sqlite3_db_handle(stmt);
    const char* const file = db ? sqlite3_db_filename(db, "main") : nullptr;
    throw_error(db, file ? file : "", rc, what);
}

// A file name as an SQLite URI (https://sqlite.org/uri.html) with the given
// query: "file://" and the absolute path, or "file:" and the relative one,
// with the characters that a URI path gives a meaning ('%', '?', '#') escaped.
std::string file_uri(const std::string& path, std::string_view query) {
    std::string uri = path.starts_with('/') ? "file://" : "file:";
    for (const char c : path) {
        switch (c) {
        case '%':
            uri += "%25";
            break;
        case '?':
            uri += "%3f";
            break;
        case '#':
            uri += "%23";
            break;
        default:
            uri += c;
        }
    }
    uri += '?';
    uri += query;
    return uri;
}

} // namespace

Database::Database(const std::string& path, OpenMode mode) : m_path(path) {
    int flags = SQLITE_OPEN_READONLY;
    std::string name = path;
    if (mode == OpenMode::read_write) {
        flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    } else if (mode == OpenMode::immutable) {
        flags |= SQLITE_OPEN_URI;
        name = file_uri(path, "immutable=1");
    }
    const int rc = sqlite3_open_v2(name.c_str(), &m_db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = describe(m_db, rc);
        sqlite3_close(m_db);
        m_db = nullptr;
        throw Error(path + ": cannot open index: " + message, ExitCode::no_index);
    }
    sqlite3_extended_result_codes(m_db, 1);
    if (mode != OpenMode::read_write) {
        // A reader never writes the main file: no checkpoint when it is the
        // last connection to close (it could not write one anyway when the
        // file is not its own, and it must not when it is).
        sqlite3_db_config(m_db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    }
    // Writers wait for each other; readers never wait in WAL mode.
    sqlite3_busy_handler(m_db, retry_every_millisecond, nullptr);
}

// SQLite's own busy timeout sleeps ever longer between tries (up to 100 ms
// each): a `record` waiting for a sync that commits a batch and begins the
// next a few milliseconds later would seldom try in that gap. Trying every
// millisecond finds it (BuildStager leaves one between its batches), for
// 10 s in all, as before.
int Database::retry_every_millisecond(void* /*unused*/, int tries) {
    using Clock = std::chrono::steady_clock;
    thread_local Clock::time_point since; // of this thread's wait: one at a time
    if (tries == 0) {
        since = Clock::now();
    } else if (Clock::now() - since >= std::chrono::seconds(10)) {
        return 0; // SQLITE_BUSY: "database is locked"
    }
    sqlite3_sleep(1);
    return 1;
}

Database::~Database() {
    sqlite3_close_v2(m_db);
}

Database::Database(Database&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)), m_path(std::move(other.m_path)) {}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        sqlite3_close_v2(m_db);
        m_db = std::exchange(other.m_db, nullptr);
        m_path = std::move(other.m_path);
    }
    return *this;
}

bool Database::read_only() const {
    return sqlite3_db_readonly(m_db, "main") == 1;
}

void Database::fail(int rc, std::string_view what) const {
    throw_error(m_db, m_path, rc, what);
}

void Database::exec(const char* sql) {
    const int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        fail(rc, "cannot run statement");
    }
}

int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(m_db);
}

int Database::changes() const {
    return sqlite3_changes(m_db);
}

bool Database::in_transaction() const {
    return sqlite3_get_autocommit(m_db) == 0;
}

void Database::keep_wal_on_close() {
    // Not an error where it means nothing (an in-memory database says
    // SQLITE_NOTFOUND).
    int persist = 1;
    sqlite3_file_control(m_db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

void Database::exec_quietly(const char* sql) noexcept {
    sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr);
}

Statement::Statement(Database& db, const char* sql) {
    const int rc =
        sqlite3_prepare_v3(db.m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &m_stmt, nullptr);
    if (rc != SQLITE_OK) {
        db.fail(rc, "cannot prepare statement");
    }
}

Statement::~Statement() {
    sqlite3_finalize(m_stmt);
}

Statement::Statement(Statement&& other) noexcept : m_stmt(std::exchange(other.m_stmt, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(m_stmt);
        m_stmt = std::exchange(other.m_stmt, nullptr);
    }
    return *this;
}

Statement::Use::~Use() {
    sqlite3_reset(m_stmt.m_stmt);
    sqlite3_clear_bindings(m_stmt.m_stmt);
}

Statement::Use& Statement::Use::bind(int64_t value) {
    const int rc = sqlite3_bind_int64(m_stmt.m_stmt, m_next_param++, value);
    if (rc != SQLITE_OK) {
        statement_error(m_stmt.m_stmt, rc, "cannot bind value");
    }
    return *this;
}

Statement::Use& Statement::Use::bind(std::string_view text) {
    const int rc = sqlite3_bind_text64(m_stmt.m_stmt, m_next_param++, text.data(), text.size(),
                                       SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        statement_error(m_stmt.m_stmt, rc, "cannot bind text");
    }
    return *this;
}

Statement::Use& Statement::Use::bind(std::span<const uint8_t> blob) {
    const int rc = sqlite3_bind_blob64(m_stmt.m_stmt, m_next_param++, blob.data(), blob.size(),
                                       SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        statement_error(m_stmt.m_stmt, rc, "cannot bind blob");
    }
    return *this;
}

Statement::Use& Statement::Use::bind_null() {
    const int rc = sqlite3_bind_null(m_stmt.m_stmt, m_next_param++);
    if (rc != SQLITE_OK) {
        statement_error(m_stmt.m_stmt, rc, "cannot bind null");
    }
    return *this;
}

bool Statement::Use::next() {
    const int rc = sqlite3_step(m_stmt.m_stmt);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    statement_error(m_stmt.m_stmt, rc, "cannot execute statement");
}

void Statement::Use::exec() {
    while (next()) {
    }
}

bool Statement::Use::is_null(int col) const {
    return sqlite3_column_type(m_stmt.m_stmt, col) == SQLITE_NULL;
}

int64_t Statement::Use::get_int(int col) const {
    return sqlite3_column_int64(m_stmt.m_stmt, col);
}

std::optional<int64_t> Statement::Use::get_opt_int(int col) const {
    if (is_null(col)) {
        return std::nullopt;
    }
    return get_int(col);
}

std::string Statement::Use::get_str(int col) const {
    const auto* text = sqlite3_column_text(m_stmt.m_stmt, col);
    if (!text) {
        return {};
    }
    return {reinterpret_cast<const char*>(text),
            static_cast<size_t>(sqlite3_column_bytes(m_stmt.m_stmt, col))};
}

std::span<const uint8_t> Statement::Use::get_blob(int col) const {
    const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(m_stmt.m_stmt, col));
    const auto size = static_cast<size_t>(sqlite3_column_bytes(m_stmt.m_stmt, col));
    return {data, data ? size : 0};
}

Snapshot::Snapshot(Database& db) : m_db(&db), m_own(!db.in_transaction()) {
    if (m_own) {
        m_db->exec("BEGIN");
    }
}

Snapshot::Snapshot(Snapshot&& other) noexcept
    : m_db(other.m_db), m_own(std::exchange(other.m_own, false)) {}

Snapshot::~Snapshot() {
    if (m_own) {
        // Ending a read-only transaction cannot lose anything; never throws.
        m_db->exec_quietly("COMMIT");
    }
}

Transaction::Transaction(Database& db) : m_db(&db) {
    m_db->exec("BEGIN IMMEDIATE");
}

Transaction::Transaction(Transaction&& other) noexcept
    : m_db(other.m_db), m_active(std::exchange(other.m_active, false)) {}

Transaction::~Transaction() {
    if (m_active) {
        // Never throws: a failed rollback leaves SQLite to roll back on close.
        m_db->exec_quietly("ROLLBACK");
    }
}

void Transaction::commit() {
    m_db->exec("COMMIT");
    m_active = false;
}

Attachment::Attachment(Database& db, const std::string& path, const char* schema)
    : m_db(&db), m_detach(std::string("DETACH DATABASE ") + schema) {
    Statement attach(db, (std::string("ATTACH DATABASE ?1 AS ") + schema).c_str());
    attach.use().bind(path).exec();
}

Attachment::~Attachment() {
    m_db->exec_quietly(m_detach.c_str());
}

} // namespace hs::index
