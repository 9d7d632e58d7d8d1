#include "index/index.hpp"

#include "core/error.hpp"
#include "core/id_list.hpp"
#include "index/rows.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <type_traits>

namespace hs::index {

namespace {

// Schema version 1. Hashes are stored as 20 bytes, not 32 characters; job and
// system strings are interned in `name`; an eval's member builds are one
// delta-encoded blob. Lookup by drv hash is one seek on build_by_drv, by
// output hash one seek on output's primary key.
// Foreign keys stay declared but unenforced (SQLite's default, PRAGMA
// foreign_keys is never set): the only writer is this class, which takes
// every referenced id from the table it references, and enforcement costs a
// parent lookup per row of a 250k-build eval.
constexpr const char* k_schema_v1 = R"sql(
CREATE TABLE hydra (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE
);
CREATE TABLE jobset (
    id INTEGER PRIMARY KEY,
    hydra INTEGER NOT NULL REFERENCES hydra (id),
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    synced_at INTEGER,     -- unix time of the last successful sync
    newest_eval INTEGER,   -- Hydra id of the newest eval ingested
    rechecked_at INTEGER,  -- unix time of the last re-read of the newest eval
    UNIQUE (hydra, project, name)
);
CREATE TABLE name (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE eval (
    id INTEGER PRIMARY KEY, -- hydra << 40 | eval id
    jobset INTEGER NOT NULL REFERENCES jobset (id),
    timestamp INTEGER NOT NULL,
    inputs TEXT NOT NULL,   -- "name revision" lines
    builds BLOB NOT NULL    -- member build ids: sorted deltas as LEB128 varints
);
CREATE INDEX eval_by_jobset ON eval (jobset);
CREATE TABLE build (
    id INTEGER PRIMARY KEY, -- hydra << 40 | build id
    drv BLOB NOT NULL,      -- 20-byte hash of the drv path
    name TEXT NOT NULL,     -- drv name without .drv
    jobset INTEGER NOT NULL REFERENCES jobset (id),
    job INTEGER NOT NULL REFERENCES name (id),
    system INTEGER NOT NULL REFERENCES name (id),
    finished INTEGER NOT NULL,
    status INTEGER,
    starttime INTEGER,
    stoptime INTEGER
);
CREATE INDEX build_by_drv ON build (drv);
CREATE INDEX build_unfinished ON build (jobset) WHERE finished = 0;
CREATE TABLE output (
    hash BLOB PRIMARY KEY,  -- 20-byte hash of the output path
    build INTEGER NOT NULL, -- a build of the drv producing it
    name TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE local_failure (
    drv BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    log TEXT NOT NULL,
    reason TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Schema version 2: the evals listing's validators per jobset, for
// conditional requests (If-None-Match / If-Modified-Since).
constexpr const char* k_migration_v2 = R"sql(
ALTER TABLE jobset ADD COLUMN etag TEXT;
ALTER TABLE jobset ADD COLUMN last_modified TEXT;
)sql";

// Schema version 3 (issue 15): a digest of the evals listing's first page
// (eval ids and their counts) from the last complete sync, to tell "nothing
// changed" from one cheap request; and when GET /eval/<id>/builds last
// failed for the jobset (504, timeout, reset) with the member count of the
// eval it failed on, so that later runs read evals at least that large by id.
constexpr const char* k_migration_v3 = R"sql(
ALTER TABLE jobset ADD COLUMN listing_digest TEXT;
ALTER TABLE jobset ADD COLUMN eval_builds_failed_at INTEGER;
ALTER TABLE jobset ADD COLUMN eval_builds_failed_members INTEGER;
)sql";

// Schema version 4 (bench/ANALYSIS.md §7), the same content in fewer bytes:
// - build and eval keys are ((instance - 1) << 40 | id), so that the first
//   instance's are Hydra's own ids (4-byte integers, not 6);
// - build_by_drv indexes the first 8 bytes of the drv hash; a lookup
//   compares the full hash in the build row;
// - output is keyed by the first 8 bytes of the output hash (a path not in
//   the index matches one of n outputs with probability n / 2^64), and the
//   common name "out" is NULL;
// - build keeps the duration (stoptime - starttime, a small integer) instead
//   of starttime: the estimate of a local build's time needs it, nothing
//   shows starttime;
// - name has no UNIQUE index on text: the only writer interns in memory
//   (IndexWriter::intern) and never inserts a name twice.
// The tables are rebuilt in key order; a key collision of two outputs keeps
// the first.
constexpr const char* k_migration_v4 = R"sql(
CREATE TABLE name_v4 (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL
);
INSERT INTO name_v4 (id, text) SELECT id, text FROM name;
DROP TABLE name;
ALTER TABLE name_v4 RENAME TO name;
CREATE TABLE build_v4 (
    id INTEGER PRIMARY KEY, -- (hydra - 1) << 40 | build id
    drv BLOB NOT NULL,      -- 20-byte hash of the drv path
    name TEXT NOT NULL,     -- drv name without .drv
    jobset INTEGER NOT NULL REFERENCES jobset (id),
    job INTEGER NOT NULL REFERENCES name (id),
    system INTEGER NOT NULL REFERENCES name (id),
    finished INTEGER NOT NULL,
    status INTEGER,
    duration INTEGER,       -- stoptime - starttime; NULL unless both are known
    stoptime INTEGER
);
INSERT INTO build_v4
    SELECT id - (1 << 40), drv, name, jobset, job, system, finished, status,
           stoptime - starttime, stoptime
    FROM build ORDER BY id;
DROP TABLE build;
ALTER TABLE build_v4 RENAME TO build;
CREATE INDEX build_by_drv ON build (substr(drv, 1, 8));
CREATE INDEX build_unfinished ON build (jobset) WHERE finished = 0;
CREATE TABLE output_v4 (
    hash BLOB PRIMARY KEY,  -- first 8 bytes of the hash of the output path
    build INTEGER NOT NULL, -- a build of the drv producing it
    name TEXT               -- NULL for "out"
) WITHOUT ROWID;
INSERT OR IGNORE INTO output_v4
    SELECT substr(hash, 1, 8), build - (1 << 40), nullif(name, 'out')
    FROM output ORDER BY hash;
DROP TABLE output;
ALTER TABLE output_v4 RENAME TO output;
CREATE TABLE eval_v4 (
    id INTEGER PRIMARY KEY, -- (hydra - 1) << 40 | eval id
    jobset INTEGER NOT NULL REFERENCES jobset (id),
    timestamp INTEGER NOT NULL,
    inputs TEXT NOT NULL,   -- "name revision" lines
    builds BLOB NOT NULL    -- member build ids: sorted deltas as LEB128 varints
);
INSERT INTO eval_v4 SELECT id - (1 << 40), jobset, timestamp, inputs, builds FROM eval ORDER BY id;
DROP TABLE eval;
ALTER TABLE eval_v4 RENAME TO eval;
CREATE INDEX eval_by_jobset ON eval (jobset);
)sql";

// Schema version 5 (issue 18): a job's builds in one seek, for history and
// bisect (history.cpp); without it they scan every build (1 s at 2,000,000;
// +16 B a build). IF NOT EXISTS: an index taken back to an older version by
// hand may keep it.
constexpr const char* k_migration_v5 = R"sql(
CREATE INDEX IF NOT EXISTS build_by_job ON build (job, jobset);
)sql";

// Schema version 6 (issue 17): snapshots. Each write transaction of a sync
// takes the next change sequence (meta 'seq'); the build, eval, jobset and
// name rows it writes carry it, and `change` says which eval it committed, so that
// `snapshot publish` writes the rows each eval changed (re-checks included)
// as a delta file. Rows from before v6 carry none: they are in every base.
// `meta` also keeps a pulled index's source (sync --from). A build's seq is
// a small integer: 2 to 4 bytes a row.
// The seq columns are added where missing (migrate_v6): an index taken back
// to an older version by hand may have them.
constexpr const char* k_migration_v6 = R"sql(
CREATE TABLE IF NOT EXISTS change (
    seq INTEGER NOT NULL,
    eval INTEGER NOT NULL, -- (hydra - 1) << 40 | eval id
    PRIMARY KEY (seq, eval)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
)sql";

constexpr const char* k_build_columns = R"sql(
    SELECT b.id, h.url, b.drv, b.name, j.project, j.name, jn.text, sn.text,
           b.finished, b.status, b.duration, b.stoptime, j.synced_at
    FROM build b
    JOIN jobset j ON j.id = b.jobset
    JOIN hydra h ON h.id = j.hydra
    JOIN name jn ON jn.id = b.job
    JOIN name sn ON sn.id = b.system
)sql";

// The builds of drv ?1: a seek on build_by_drv's 8-byte prefix, the full
// hash compared in the row.
constexpr const char* k_drv_is_1 = " WHERE substr(b.drv, 1, 8) = substr(?1, 1, 8) AND b.drv = ?1";

// The drv a key names, k.d: ?1 a drv key's hash; ?2 a bare hash, which
// names a drv with builds, else the drv of an output, else (for a local
// record) itself; ?3 an output key's or a bare hash. Unused ones are NULL.
// Then a row per build of k.d, or one row of NULLs but k.d, with k.d's
// local failure record (last_at >= ?4).
constexpr const char* k_key_drv = R"sql(
    WITH k (d) AS (SELECT coalesce(
        ?1,
        (SELECT drv FROM build WHERE substr(drv, 1, 8) = substr(?2, 1, 8) AND drv = ?2 LIMIT 1),
        (SELECT b.drv FROM output o JOIN build b ON b.id = o.build
         WHERE o.hash = substr(?3, 1, 8)),
        ?2))
)sql";

// One key's answer (IndexReader::answer_key), in one statement. Whether any
// jobset was ever synced is asked only when the row's jobset never was.
// bench/measure.py runs k_key_drv + this in the sqlite3 CLI to compare.
constexpr const char* k_answer_key = R"sql(
    SELECT k.d, b.id, h.url, b.name, j.project, j.name, jn.text, sn.text,
           b.finished, b.status, b.duration, b.stoptime, j.synced_at,
           lf.name, lf.count, lf.first_at, lf.last_at, lf.log, lf.reason,
           CASE WHEN j.synced_at IS NULL
                THEN EXISTS (SELECT 1 FROM jobset WHERE synced_at IS NOT NULL) END
    FROM k
    LEFT JOIN build b ON substr(b.drv, 1, 8) = substr(k.d, 1, 8) AND b.drv = k.d
    LEFT JOIN jobset j ON j.id = b.jobset
    LEFT JOIN hydra h ON h.id = j.hydra
    LEFT JOIN name jn ON jn.id = b.job
    LEFT JOIN name sn ON sn.id = b.system
    LEFT JOIN local_failure lf ON lf.drv = k.d AND lf.last_at >= ?4
)sql";

// The same for a batch (IndexReader::answer_keys): the ids of jobset, job
// and system, resolved from maps, instead of four more B-tree descents.
constexpr const char* k_answer_batch_key = R"sql(
    SELECT k.d, b.id, b.jobset, b.name, b.job, b.system, b.finished, b.status,
           b.duration, b.stoptime,
           lf.name, lf.count, lf.first_at, lf.last_at, lf.log, lf.reason
    FROM k
    LEFT JOIN build b ON substr(b.drv, 1, 8) = substr(k.d, 1, 8) AND b.drv = k.d
    LEFT JOIN local_failure lf ON lf.drv = k.d AND lf.last_at >= ?4
)sql";

// Which of a drv's builds decides its answer: finished before unfinished,
// then the greatest stoptime (none counts as the least), then the greatest
// build id. Sorted here rather than by ORDER BY, whose sorter costs more
// than the index seek of a lookup (bench/ANALYSIS.md).
struct DecidingOrder {
    bool finished = false;
    std::optional<int64_t> stoptime;
    int64_t build_id = 0;

    bool operator<(const DecidingOrder& other) const { // "decides before"
        if (finished != other.finished) {
            return finished;
        }
        if (stoptime != other.stoptime) {
            return stoptime > other.stoptime;
        }
        return build_id > other.build_id;
    }
};

std::optional<int64_t> starttime_of(std::optional<int64_t> stoptime,
                                    std::optional<int64_t> duration) {
    if (!stoptime || !duration) {
        return std::nullopt;
    }
    return *stoptime - *duration;
}

// Columns 3 to 12 of a build row (read_builds, answer_key): drv name,
// project, jobset, job, system, finished, status, duration, stoptime,
// synced_at.
void read_build_columns(const Statement::Use& use, BuildRow& row) {
    row.drv_name = use.get_str(3);
    row.project = use.get_str(4);
    row.jobset = use.get_str(5);
    row.job = use.get_str(6);
    row.system = use.get_str(7);
    row.finished = use.get_int(8) != 0;
    if (const auto status = use.get_opt_int(9)) {
        row.buildstatus = static_cast<int>(*status);
    }
    row.stoptime = use.get_opt_int(11);
    row.starttime = starttime_of(row.stoptime, use.get_opt_int(10));
    row.synced_at = use.get_opt_int(12);
}

void sort_deciding_first(std::vector<BuildRow>& rows);

DecidingOrder order_of(const BuildRow& row) {
    return {row.finished, row.stoptime, row.build_id};
}

void sort_deciding_first(std::vector<BuildRow>& rows) {
    std::stable_sort(rows.begin(), rows.end(), [](const BuildRow& a, const BuildRow& b) {
        return order_of(a) < order_of(b);
    });
}

std::span<const uint8_t> bytes(const core::HashBytes& hash) {
    return {hash.data(), hash.size()};
}

// The key of table output: the first bytes of the output path's hash.
constexpr size_t k_output_key_bytes = 8;

// Hydra's strings are stored printable: a job or system name with control
// characters (a hostile or broken server) must not reach a terminal raw.
std::string stored(const std::string& text) {
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte >= 0x20 && byte < 0x7f;
    });
    return plain ? text : printable(text);
}

std::optional<std::string_view> text_or_null(const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string_view>(text);
}

int64_t user_version(Database& db) {
    Statement stmt(db, "PRAGMA user_version");
    auto use = stmt.use();
    return use.next() ? use.get_int(0) : 0;
}

void check_version(Database& db, int64_t version) {
    if (version > k_schema_version) {
        throw Error(db.path() + ": index schema version " + std::to_string(version) +
                        " is newer than this hydra-status supports (" +
                        std::to_string(k_schema_version) + "); upgrade hydra-status",
                    ExitCode::no_index);
    }
}

// Numbered migrations: migration N takes the schema from version N-1 to N.
void migrate(Database& db) {
    const int64_t version = user_version(db);
    check_version(db, version);
    if (version == k_schema_version) {
        return;
    }
    Transaction txn(db);
    if (version < 1) {
        db.exec(k_schema_v1);
    }
    if (version < 2) {
        db.exec(k_migration_v2);
    }
    if (version < 3) {
        db.exec(k_migration_v3);
    }
    if (version < 4) {
        db.exec(k_migration_v4);
    }
    if (version < 5) {
        db.exec(k_migration_v5);
    }
    if (version < 6) {
        for (const char* table : {"build", "eval", "jobset", "name"}) {
            Statement columns(db, ("SELECT 1 FROM pragma_table_info('" + std::string(table) +
                                   "') WHERE name = 'seq'")
                                      .c_str());
            if (!columns.use().next()) {
                db.exec(("ALTER TABLE " + std::string(table) + " ADD COLUMN seq INTEGER").c_str());
            }
        }
        db.exec(k_migration_v6);
    }
    db.exec(("PRAGMA user_version = " + std::to_string(k_schema_version)).c_str());
    txn.commit();
}

} // namespace

std::string BuildRow::drv_basename() const {
    return core::format_basename(drv_hash, drv_name, core::k_drv_suffix);
}

std::string BuildRow::drv_path() const {
    return core::format_store_path(drv_hash, drv_name, core::k_drv_suffix);
}

std::string LocalFailure::drv_path() const {
    return core::format_store_path(drv_hash, drv_name, core::k_drv_suffix);
}

// A statement prepared on first use: a lookup needs two or three of them,
// and preparing the rest would cost more than the lookup itself.
class LazyStatement {
public:
    explicit LazyStatement(std::string sql) : m_sql(std::move(sql)) {}
    Statement& get(Database& db) {
        if (!m_stmt) {
            m_stmt.emplace(db, m_sql.c_str());
        }
        return *m_stmt;
    }

private:
    std::string m_sql;
    std::optional<Statement> m_stmt;
};

// Every statement a reader runs. None writes.
struct IndexReader::Statements {
    LazyStatement answer_key{std::string(k_key_drv) + k_answer_key};
    LazyStatement answer_batch_key{std::string(k_key_drv) + k_answer_batch_key};
    LazyStatement all_jobsets{"SELECT j.id, j.project, j.name, h.url, j.synced_at "
                              "FROM jobset j JOIN hydra h ON h.id = j.hydra"};
    LazyStatement all_names{"SELECT id, text FROM name"};
    LazyStatement name_text{"SELECT text FROM name WHERE id = ?1"};
    LazyStatement builds_of_drv{std::string(k_build_columns) + k_drv_is_1};
    LazyStatement deciding_state{"SELECT finished, status, stoptime, id FROM build "
                                 "WHERE substr(drv, 1, 8) = substr(?1, 1, 8) AND drv = ?1"};
    LazyStatement drv_of_output{"SELECT b.drv, b.name FROM output o JOIN build b ON b.id = "
                                "o.build WHERE o.hash = substr(?1, 1, 8)"};
    LazyStatement builds_of_job{std::string(k_build_columns) +
                                " WHERE j.project = ?1 AND j.name = ?2 AND jn.text = ?3"};
    LazyStatement ever_synced{"SELECT 1 FROM jobset WHERE synced_at IS NOT NULL LIMIT 1"};
    LazyStatement jobsets{R"sql(
        SELECT j.id, j.hydra, h.url, j.project, j.name, j.synced_at, j.newest_eval,
               j.rechecked_at,
               (SELECT count(*) FROM eval e WHERE e.jobset = j.id),
               (SELECT count(*) FROM build b WHERE b.jobset = j.id)
        FROM jobset j JOIN hydra h ON h.id = j.hydra
        ORDER BY h.url, j.project, j.name
    )sql"};
    LazyStatement local_failure{"SELECT name, count, first_at, last_at, log, reason "
                                "FROM local_failure WHERE drv = ?1 AND last_at >= ?2"};
    LazyStatement has_local_failures{"SELECT 1 FROM local_failure WHERE last_at >= ?1 LIMIT 1"};
    LazyStatement find_instance{"SELECT id FROM hydra WHERE url = ?1"};
    LazyStatement find_jobset{"SELECT " + std::string(rows::k_jobset_columns) +
                              " FROM jobset j WHERE j.hydra = ?1 AND j.project = ?2 AND "
                              "j.name = ?3"};
    LazyStatement build_state{"SELECT finished FROM build WHERE id = ?1"};
    LazyStatement build_failed{"SELECT 1 FROM build WHERE id = ?1 AND finished = 1 AND "
                               "status IS NOT NULL AND status <> 0"};
    LazyStatement unfinished{"SELECT id FROM build WHERE jobset = ?1 AND finished = 0"};
    LazyStatement eval_builds{"SELECT builds FROM eval WHERE id = ?1"};
    LazyStatement eval_ids{"SELECT id FROM eval WHERE jobset = ?1 ORDER BY id DESC"};
};

// Every statement a writer runs besides its reader's.
struct IndexWriter::Statements {
    LazyStatement all_names{"SELECT id, text FROM name"};
    LazyStatement insert_name{"INSERT INTO name (text, seq) VALUES (?1, ?2)"};
    LazyStatement insert_instance{"INSERT INTO hydra (url) VALUES (?1)"};
    LazyStatement insert_jobset{"INSERT INTO jobset (hydra, project, name) VALUES (?1, ?2, ?3)"};
    LazyStatement update_jobset{"UPDATE jobset SET synced_at = ?2, newest_eval = ?3, "
                                "rechecked_at = ?4, etag = ?5, last_modified = ?6, "
                                "listing_digest = ?7, eval_builds_failed_at = ?8, "
                                "eval_builds_failed_members = ?9, seq = ?10 WHERE id = ?1"};
    LazyStatement upsert_build{R"sql(
        INSERT INTO build (id, drv, name, jobset, job, system, finished, status,
                           duration, stoptime, seq)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (id) DO UPDATE SET
            drv = excluded.drv, name = excluded.name, jobset = excluded.jobset,
            job = excluded.job, system = excluded.system,
            finished = excluded.finished, status = excluded.status,
            duration = excluded.duration, stoptime = excluded.stoptime, seq = excluded.seq
        WHERE (drv, name, jobset, job, system, finished, status, duration, stoptime)
            IS NOT (excluded.drv, excluded.name, excluded.jobset, excluded.job,
                    excluded.system, excluded.finished, excluded.status,
                    excluded.duration, excluded.stoptime)
    )sql"};
    LazyStatement upsert_output{"INSERT INTO output (hash, build, name) VALUES (?1, ?2, ?3) "
                                "ON CONFLICT (hash) DO NOTHING"};
    LazyStatement insert_eval{"INSERT OR REPLACE INTO eval (id, jobset, timestamp, inputs, "
                              "builds, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};
    LazyStatement insert_change{"INSERT OR IGNORE INTO change (seq, eval) VALUES (?1, ?2)"};
    LazyStatement next_seq{"INSERT INTO meta (key, value) VALUES ('seq', 1) "
                           "ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value"};
    LazyStatement drop_source{"DELETE FROM meta WHERE key LIKE 'source\\_%' ESCAPE '\\'"};
    LazyStatement upsert_local{R"sql(
        INSERT INTO local_failure (drv, name, count, first_at, last_at, log, reason)
        VALUES (?1, ?2, 1, ?3, ?3, ?4, ?5)
        ON CONFLICT (drv) DO UPDATE SET
            count = count + 1, last_at = excluded.last_at,
            log = coalesce(nullif(excluded.log, ''), log),
            reason = coalesce(nullif(excluded.reason, ''), reason)
    )sql"};
    LazyStatement delete_local{"DELETE FROM local_failure WHERE drv = ?1"};
    LazyStatement delete_all_local{"DELETE FROM local_failure"};
};

// --- IndexReader: the read-only open ------------------------------------

IndexReader::IndexReader(Database db)
    : m_db(std::move(db)), m_stmts(std::make_unique<Statements>()) {}
IndexReader::~IndexReader() = default;
IndexReader::IndexReader(IndexReader&&) noexcept = default;
IndexReader& IndexReader::operator=(IndexReader&&) noexcept = default;

// Reading an index that may only be read: the system timer's index in
// /var/lib/hydra-status (0755, 0644), read by every other user.
//
// SQLite (3.22 and later) reads a WAL database read-only when its -wal and
// -shm files exist or can be created (https://sqlite.org/wal.html, "Read-Only
// Databases"); the writer keeps them (SQLITE_FCNTL_PERSIST_WAL in
// IndexWriter::open). But they go when another program is the last to close
// the index (an admin's sqlite3 session), and then a reader that may not
// create them fails (SQLITE_READONLY_DIRECTORY, SQLITE_CANTOPEN). Creating
// them is no reader's business anyway: they would belong to the reader, and
// a writer of another uid could not use them. Without them the one way in is
// immutable=1 (https://sqlite.org/uri.html): the main file alone, no locks,
// the -wal ignored. That is right only while nothing writes, so:
//
// 1. The reader holds SQLite's SHARED lock on the main file (ReadLock) while
//    its connection lives. Every SQLite path that writes the main file other
//    than a WAL checkpoint (rollback-journal commits, leaving WAL mode,
//    exclusive locking mode), and every deletion of -wal and -shm (by the
//    last connection to close), needs the EXCLUSIVE lock, which it excludes.
//    A checkpoint needs a WAL writer, and a WAL writer needs a -wal file to
//    write and a -shm file for its wal-index (the heap wal-index of exclusive
//    locking mode needs the EXCLUSIVE lock).
// 2. Under that lock, the main file is read alone only when it holds every
//    committed transaction and the companions tell whether a writer comes:
//    no -wal at all (a writer creates it, and it stays while the lock is
//    held), or an empty -wal and no -shm (a writer creates the -shm, which
//    stays likewise); and no rollback journal, hot or not. A -wal with frames
//    is read by SQLite's WAL code or not at all: the main file alone lacks
//    those transactions.
// 3. After every read (IndexReader::read) the reader checks that the companion
//    whose coming would mean a writer (the -wal, or in the second case the
//    -shm) is still absent, and that the locked main file still has its size
//    and mtime (against writers outside SQLite, which corrupt SQLite's own
//    readers too): two system calls. Unchanged means that no writer came
//    since the connection was made, so every page read was of the one
//    committed state. Changed means a writer came: the connection is
//    replaced (by then usually by a WAL one, as the writer made the -wal and
//    -shm) and the read done again. A read that failed (a page torn by a
//    checkpoint reads as corrupt) is retried alike; it is an error only if
//    nothing changed.
// In every other case the connection is SQLITE_OPEN_READONLY (mode=ro): the
// -wal and -shm exist and SQLite's protocol applies, also when the reader
// cannot write the -shm (SQLite then reads the WAL into private memory).
// The one exception, a -wal with frames but no -shm (a crash's leftovers
// with the -shm deleted): SQLite creates the -shm if the reader may, the
// only way to read those transactions; if not, the error says so.
// A reader never checkpoints (Database: SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE).
void IndexReader::connect(const std::string& path) {
    m_frozen.reset();
    m_sentinel.clear();
    IndexFiles files = observe_index_files(path);
    if (auto db = connect_immutable(path, files)) {
        m_db = std::move(*db);
        m_frozen = files;
        m_sentinel = path + (files.wal ? "-shm" : "-wal");
        return;
    }
    if (files.wal && files.wal_size != 0 && !files.shm) {
        const std::string dir = std::filesystem::path(path).parent_path().string();
        if (::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0) {
            throw Error(path + ": cannot read the index: " + path + "-wal holds changes, but " +
                            path +
                            "-shm, needed to read them, is missing and cannot be created here; "
                            "the next sync restores it",
                        ExitCode::no_index);
        }
    }
    m_db = Database(path, OpenMode::read_only);
}

std::optional<Database> IndexReader::connect_immutable(const std::string& path, IndexFiles& files) {
    for (int attempt = 1; attempt <= 3; ++attempt) {
        if (!m_read_lock->held() || !m_read_lock->main_file_is(files) || files.journal ||
            (files.wal && (files.wal_size != 0 || files.shm))) {
            return std::nullopt;
        }
        Database db(path, OpenMode::immutable);
        // SQLite opened the path after it was observed: the same file, and
        // still no writer?
        const IndexFiles now = observe_index_files(path);
        if (now == files) {
            return db;
        }
        files = now;
    }
    return std::nullopt;
}

bool IndexReader::unchanged() const {
    struct stat st {};
    return m_read_lock->main_file_is(*m_frozen) && ::stat(m_sentinel.c_str(), &st) != 0 &&
           errno == ENOENT;
}

namespace {

// Counts the nesting of IndexReader::read calls.
class Nesting {
public:
    explicit Nesting(int& depth) : m_depth(depth) { ++m_depth; }
    ~Nesting() { --m_depth; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

private:
    int& m_depth;
};

// A writer that keeps coming back is not waited for forever.
constexpr int k_read_attempts = 5;

} // namespace

template <class F>
auto IndexReader::read(F&& body) {
    for (int attempt = 1;; ++attempt) {
        if (!m_frozen || m_read_depth > 0) {
            return body();
        }
        std::optional<std::invoke_result_t<F&>> result;
        {
            const Nesting nesting(m_read_depth);
            try {
                result.emplace(body());
            } catch (const Error&) {
                // Caught to tell a real error from a read torn by a writer
                // that came meanwhile (open, 3): only with the files
                // unchanged is it real; otherwise the read is redone.
                if (unchanged()) {
                    throw;
                }
            }
        }
        if (result && unchanged()) {
            return std::move(*result);
        }
        if (attempt == k_read_attempts) {
            throw Error(m_db.path() +
                            ": the index kept changing while it was read without its -wal and "
                            "-shm files; try again",
                        ExitCode::no_index);
        }
        reconnect();
    }
}

void IndexReader::read_with(const std::function<void()>& body) {
    read([&] {
        body();
        return true;
    });
}

void IndexReader::reconnect() {
    const std::string path = m_db.path();
    const bool in_transaction = m_db.in_transaction();
    // The old connection closes before its lock is released (see ReadLock).
    m_stmts = std::make_unique<Statements>();
    m_maps.reset();
    m_db = Database();
    m_read_lock.reset();
    m_read_lock = std::make_unique<ReadLock>(path);
    connect(path);
    if (in_transaction) {
        // The caller's Snapshot goes on, on the new connection.
        m_db.exec("BEGIN");
    }
}

IndexReader IndexReader::open(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw Error("no index at " + path + " (run 'hydra-status sync' first)", ExitCode::no_index);
    }
    // Whatever is wrong with the file (not a database, corrupt, unreadable),
    // Database::fail reports it with the exit code of a missing index.
    IndexReader reader{Database()};
    reader.m_read_lock = std::make_unique<ReadLock>(path);
    reader.connect(path);
    const int64_t version = reader.read([&] { return user_version(reader.m_db); });
    check_version(reader.m_db, version);
    if (version == 0) {
        throw Error(path + ": not a hydra-status index (run 'hydra-status sync' first)",
                    ExitCode::no_index);
    }
    if (version < k_schema_version) {
        // A reader writes nothing: the next sync (or record) migrates it.
        throw Error(path + ": index schema version " + std::to_string(version) +
                        " is older than this hydra-status reads (" +
                        std::to_string(k_schema_version) +
                        "); run 'hydra-status sync' to upgrade it",
                    ExitCode::no_index);
    }
    return reader;
}

Snapshot IndexReader::snapshot() {
    return Snapshot(m_db);
}

// --- IndexReader: reads -------------------------------------------------

std::vector<BuildRow> IndexReader::read_builds(Statement::Use& use) {
    std::vector<BuildRow> rows;
    while (use.next()) {
        BuildRow row;
        row.build_id = use.get_int(0) & k_id_mask;
        row.hydra_url = use.get_str(1);
        row.drv_hash = rows::to_hash(use.get_blob(2));
        read_build_columns(use, row);
        rows.push_back(std::move(row));
    }
    sort_deciding_first(rows);
    return rows;
}

bool IndexReader::ever_synced() {
    return read([&]() -> bool {
        auto use = m_stmts->ever_synced.get(m_db).use();
        return use.next();
    });
}

std::vector<BuildRow> IndexReader::builds_of_drv(const core::HashBytes& drv) {
    return read([&]() -> std::vector<BuildRow> {
        auto use = m_stmts->builds_of_drv.get(m_db).use();
        use.bind(bytes(drv));
        return read_builds(use);
    });
}

std::optional<IndexReader::BuildState> IndexReader::deciding_state(const core::HashBytes& drv) {
    return read([&]() -> std::optional<BuildState> {
        auto use = m_stmts->deciding_state.get(m_db).use();
        use.bind(bytes(drv));
        std::optional<BuildState> best;
        DecidingOrder best_order;
        while (use.next()) {
            const DecidingOrder order{use.get_int(0) != 0, use.get_opt_int(2),
                                      use.get_int(3) & k_id_mask};
            if (!best || order < best_order) {
                const auto status = use.get_opt_int(1);
                best =
                    BuildState{order.finished, status ? std::optional<int>(*status) : std::nullopt};
                best_order = order;
            }
        }
        return best;
    });
}

std::optional<std::pair<core::HashBytes, std::string>>
IndexReader::drv_of_output(const core::HashBytes& out) {
    return read([&]() -> std::optional<std::pair<core::HashBytes, std::string>> {
        auto use = m_stmts->drv_of_output.get(m_db).use();
        use.bind(bytes(out));
        if (!use.next()) {
            return std::nullopt;
        }
        return std::make_pair(rows::to_hash(use.get_blob(0)), use.get_str(1));
    });
}

std::vector<BuildRow> IndexReader::builds_for_key(const core::Key& key) {
    return read([&]() -> std::vector<BuildRow> {
        switch (key.kind) {
        case core::KeyKind::drv_path:
        case core::KeyKind::drv_basename: {
            auto rows = builds_of_drv(key.hash);
            // The hash names the path; a different name is a different (unknown) path.
            const std::string_view name =
                std::string_view(key.name).substr(0, key.name.size() - core::k_drv_suffix.size());
            if (!rows.empty() && rows.front().drv_name != name) {
                rows.clear();
            }
            return rows;
        }
        case core::KeyKind::output_path: {
            const auto drv = drv_of_output(key.hash);
            return drv ? builds_of_drv(drv->first) : std::vector<BuildRow>{};
        }
        case core::KeyKind::hash: {
            auto rows = builds_of_drv(key.hash);
            if (rows.empty()) {
                if (const auto drv = drv_of_output(key.hash)) {
                    rows = builds_of_drv(drv->first);
                }
            }
            return rows;
        }
        }
        return {};
    });
}

namespace {

// Binds a key to k_key_drv's parameters and local_not_before to ?4.
void bind_key(Statement::Use& use, const core::Key& key, int64_t local_not_before) {
    const auto hash = bytes(key.hash);
    const bool drv = key.kind == core::KeyKind::drv_path || key.kind == core::KeyKind::drv_basename;
    const bool bare = key.kind == core::KeyKind::hash;
    const bool output = key.kind == core::KeyKind::output_path || bare;
    drv ? use.bind(hash) : use.bind_null();
    bare ? use.bind(hash) : use.bind_null();
    output ? use.bind(hash) : use.bind_null();
    use.bind(local_not_before);
}

// The local failure record in columns first.. of a row of k_answer_key or
// k_answer_batch_key, for the drv of column 0.
std::optional<LocalFailure> local_failure_at(const Statement::Use& row, int first) {
    if (row.is_null(first)) {
        return std::nullopt;
    }
    LocalFailure failure;
    failure.drv_hash = rows::to_hash(row.get_blob(0));
    failure.drv_name = row.get_str(first);
    failure.count = row.get_int(first + 1);
    failure.first_at = row.get_int(first + 2);
    failure.last_at = row.get_int(first + 3);
    failure.log = row.get_str(first + 4);
    failure.reason = row.get_str(first + 5);
    return failure;
}

// A drv key names a path: the same hash with another name is another
// (unknown) path.
void check_drv_name(const core::Key& key, KeyAnswer& answer) {
    if (key.kind != core::KeyKind::drv_path && key.kind != core::KeyKind::drv_basename) {
        return;
    }
    const std::string_view name =
        std::string_view(key.name).substr(0, key.name.size() - core::k_drv_suffix.size());
    if (!answer.builds.empty() && answer.builds.front().drv_name != name) {
        answer.builds.clear();
    }
}

} // namespace

// IndexWriter::intern numbers names from 1 on: a map by row id is a vector.
constexpr int64_t k_max_mapped_name = int64_t{1} << 28;

struct IndexReader::Maps {
    struct Jobset {
        std::string project;
        std::string name;
        std::string url;
        std::optional<int64_t> synced_at;
    };
    std::unordered_map<int64_t, Jobset> jobsets;
    std::vector<std::string> names; // by row id
    std::vector<bool> has_name;
    std::optional<bool> ever_synced;
};

void IndexReader::load_jobsets(Maps& maps) {
    maps.jobsets.clear();
    maps.ever_synced.reset();
    auto use = m_stmts->all_jobsets.get(m_db).use();
    while (use.next()) {
        maps.jobsets.emplace(use.get_int(0), Maps::Jobset{use.get_str(1), use.get_str(2),
                                                          use.get_str(3), use.get_opt_int(4)});
    }
}

IndexReader::Maps& IndexReader::maps() {
    if (m_maps) {
        return *m_maps;
    }
    // A batch reads pages all over the file: mapped, they are read in place
    // instead of copied into SQLite's page cache. On the 2M-build index, 100k
    // keys: 2.1 -> 1.7 s of CPU; a larger page cache (64 MiB) costs more than
    // it saves (2.7 s), so the default stays (bench/ANALYSIS.md, lookups).
    m_db.exec("PRAGMA mmap_size = 1073741824");
    auto maps = std::make_unique<Maps>();
    load_jobsets(*maps);
    {
        auto use = m_stmts->all_names.get(m_db).use();
        while (use.next()) {
            const int64_t id = use.get_int(0);
            if (id <= 0 || id > k_max_mapped_name) {
                continue; // not written by IndexWriter::intern: read when asked
            }
            if (static_cast<size_t>(id) >= maps->names.size()) {
                maps->names.resize(static_cast<size_t>(id) + 1);
                maps->has_name.resize(static_cast<size_t>(id) + 1);
            }
            maps->names[static_cast<size_t>(id)] = use.get_str(1);
            maps->has_name[static_cast<size_t>(id)] = true;
        }
    }
    m_maps = std::move(maps);
    return *m_maps;
}

std::string IndexReader::name_text(int64_t id) {
    auto& maps = this->maps();
    if (id > 0 && static_cast<size_t>(id) < maps.names.size() &&
        maps.has_name[static_cast<size_t>(id)]) {
        return maps.names[static_cast<size_t>(id)];
    }
    // Written since the maps were loaded.
    auto use = m_stmts->name_text.get(m_db).use();
    use.bind(id);
    return use.next() ? use.get_str(0) : std::string();
}

KeyAnswer IndexReader::answer_key(const core::Key& key, int64_t local_not_before) {
    return read([&]() -> KeyAnswer {
        KeyAnswer answer;
        auto use = m_stmts->answer_key.get(m_db).use();
        bind_key(use, key, local_not_before);
        while (use.next()) {
            if (!answer.drv && !use.is_null(0)) {
                answer.drv = rows::to_hash(use.get_blob(0));
                answer.local = local_failure_at(use, 13);
            }
            if (!use.is_null(19)) {
                answer.ever_synced = use.get_int(19) != 0;
            } else if (!use.is_null(12)) {
                answer.ever_synced = true;
            }
            if (use.is_null(1)) {
                continue; // no build
            }
            BuildRow row;
            row.build_id = use.get_int(1) & k_id_mask;
            row.hydra_url = use.get_str(2);
            row.drv_hash = *answer.drv;
            read_build_columns(use, row);
            answer.builds.push_back(std::move(row));
        }
        sort_deciding_first(answer.builds);
        check_drv_name(key, answer);
        return answer;
    });
}

bool IndexReader::read_batch_row(const Statement::Use& use, BuildRow& row) {
    auto& maps = this->maps();
    const int64_t jobset_row = use.get_int(2);
    auto jobset = maps.jobsets.find(jobset_row);
    if (jobset == maps.jobsets.end()) {
        load_jobsets(maps); // written since the maps were loaded
        jobset = maps.jobsets.find(jobset_row);
        if (jobset == maps.jobsets.end()) {
            return false; // not written by IndexWriter
        }
    }
    row.build_id = use.get_int(1) & k_id_mask;
    row.hydra_url = jobset->second.url;
    row.project = jobset->second.project;
    row.jobset = jobset->second.name;
    row.synced_at = jobset->second.synced_at;
    row.drv_name = use.get_str(3);
    row.job = name_text(use.get_int(4));
    row.system = name_text(use.get_int(5));
    row.finished = use.get_int(6) != 0;
    if (const auto status = use.get_opt_int(7)) {
        row.buildstatus = static_cast<int>(*status);
    }
    row.stoptime = use.get_opt_int(9);
    row.starttime = starttime_of(row.stoptime, use.get_opt_int(8));
    return true;
}

bool IndexReader::mapped_ever_synced() {
    auto& maps = this->maps();
    if (!maps.ever_synced) {
        maps.ever_synced =
            std::any_of(maps.jobsets.begin(), maps.jobsets.end(),
                        [](const auto& jobset) { return jobset.second.synced_at.has_value(); });
    }
    return *maps.ever_synced;
}

std::vector<KeyAnswer> IndexReader::answer_keys(std::span<const core::Key> keys,
                                                int64_t local_not_before) {
    return read([&]() -> std::vector<KeyAnswer> {
        auto& stmt = m_stmts->answer_batch_key.get(m_db);
        std::vector<KeyAnswer> answers(keys.size());
        for (size_t i = 0; i < keys.size(); ++i) {
            KeyAnswer& answer = answers[i];
            auto use = stmt.use();
            bind_key(use, keys[i], local_not_before);
            bool synced = false;
            while (use.next()) {
                if (!answer.drv && !use.is_null(0)) {
                    answer.drv = rows::to_hash(use.get_blob(0));
                    answer.local = local_failure_at(use, 10);
                }
                BuildRow row;
                if (use.is_null(1) || !read_batch_row(use, row)) {
                    continue; // no build, or a build of no jobset
                }
                row.drv_hash = *answer.drv;
                synced = synced || row.synced_at.has_value();
                answer.builds.push_back(std::move(row));
            }
            sort_deciding_first(answer.builds);
            check_drv_name(keys[i], answer);
            answer.ever_synced = synced || mapped_ever_synced();
        }
        return answers;
    });
}

std::vector<BuildRow> IndexReader::builds_of_job(const std::string& project,
                                                 const std::string& jobset,
                                                 const std::string& job) {
    return read([&]() -> std::vector<BuildRow> {
        auto use = m_stmts->builds_of_job.get(m_db).use();
        use.bind(project).bind(jobset).bind(job);
        return read_builds(use);
    });
}

std::vector<JobsetInfo> IndexReader::jobsets() {
    return read([&]() -> std::vector<JobsetInfo> {
        std::vector<JobsetInfo> out;
        auto use = m_stmts->jobsets.get(m_db).use();
        while (use.next()) {
            JobsetInfo info;
            info.state.id = use.get_int(0);
            info.state.instance = use.get_int(1);
            info.state.url = use.get_str(2);
            info.state.project = use.get_str(3);
            info.state.name = use.get_str(4);
            info.state.synced_at = use.get_opt_int(5);
            info.state.newest_eval = use.get_opt_int(6);
            info.state.rechecked_at = use.get_opt_int(7);
            info.evals = use.get_int(8);
            info.builds = use.get_int(9);
            out.push_back(std::move(info));
        }
        return out;
    });
}

bool IndexReader::has_local_failures(int64_t not_before) {
    return read([&]() -> bool {
        auto use = m_stmts->has_local_failures.get(m_db).use();
        use.bind(not_before);
        return use.next();
    });
}

std::optional<LocalFailure> IndexReader::local_failure(const core::HashBytes& drv,
                                                       int64_t not_before) {
    return read([&]() -> std::optional<LocalFailure> {
        auto use = m_stmts->local_failure.get(m_db).use();
        use.bind(bytes(drv)).bind(not_before);
        if (!use.next()) {
            return std::nullopt;
        }
        LocalFailure failure;
        failure.drv_hash = drv;
        failure.drv_name = use.get_str(0);
        failure.count = use.get_int(1);
        failure.first_at = use.get_int(2);
        failure.last_at = use.get_int(3);
        failure.log = use.get_str(4);
        failure.reason = use.get_str(5);
        return failure;
    });
}

std::optional<int64_t> IndexReader::find_instance(const std::string& url) {
    auto find = m_stmts->find_instance.get(m_db).use();
    find.bind(url);
    if (!find.next()) {
        return std::nullopt;
    }
    return find.get_int(0);
}

bool IndexReader::read_jobset(JobsetState& state) {
    auto find = m_stmts->find_jobset.get(m_db).use();
    find.bind(state.instance).bind(state.project).bind(state.name);
    if (!find.next()) {
        return false;
    }
    rows::read_jobset(find, state);
    return true;
}

JobsetState IndexReader::find_jobset(const std::string& url, const std::string& project,
                                     const std::string& name) {
    return read([&]() -> JobsetState {
        JobsetState state;
        state.url = url;
        state.project = project;
        state.name = name;
        if (const auto instance = find_instance(url)) {
            state.instance = *instance;
            read_jobset(state);
        }
        return state;
    });
}

std::vector<int64_t> IndexReader::builds_to_fetch(int64_t instance, std::span<const int64_t> ids) {
    return read([&]() -> std::vector<int64_t> {
        auto& stmt = m_stmts->build_state.get(m_db);
        // One read transaction for all the ids, not one per statement.
        const Snapshot snapshot(m_db);
        std::vector<int64_t> out;
        for (const int64_t id : ids) {
            auto use = stmt.use();
            use.bind(row_key(instance, id));
            if (!use.next() || use.get_int(0) == 0) {
                out.push_back(id);
            }
        }
        return out;
    });
}

std::vector<int64_t> IndexReader::failed_builds(int64_t instance, std::span<const int64_t> ids) {
    return read([&]() -> std::vector<int64_t> {
        auto& stmt = m_stmts->build_failed.get(m_db);
        const Snapshot snapshot(m_db);
        std::vector<int64_t> out;
        for (const int64_t id : ids) {
            auto use = stmt.use();
            use.bind(row_key(instance, id));
            if (use.next()) {
                out.push_back(id);
            }
        }
        return out;
    });
}

std::vector<int64_t> IndexReader::unfinished_builds(int64_t jobset_row) {
    return read([&]() -> std::vector<int64_t> {
        auto use = m_stmts->unfinished.get(m_db).use();
        use.bind(jobset_row);
        std::vector<int64_t> out;
        while (use.next()) {
            out.push_back(use.get_int(0) & k_id_mask);
        }
        return out;
    });
}

std::vector<int64_t> IndexReader::eval_builds(int64_t instance, int64_t eval_id) {
    return read([&]() -> std::vector<int64_t> {
        auto use = m_stmts->eval_builds.get(m_db).use();
        use.bind(row_key(instance, eval_id));
        if (!use.next()) {
            return {};
        }
        auto ids = core::decode_id_list(use.get_blob(0));
        if (!ids) {
            throw Error(m_db.path() + ": eval " + std::to_string(eval_id) +
                        " has a corrupt member list");
        }
        return std::move(*ids);
    });
}

std::vector<int64_t> IndexReader::eval_ids(int64_t jobset_row) {
    return read([&]() -> std::vector<int64_t> {
        auto use = m_stmts->eval_ids.get(m_db).use();
        use.bind(jobset_row);
        std::vector<int64_t> out;
        while (use.next()) {
            out.push_back(use.get_int(0) & k_id_mask);
        }
        return out;
    });
}

bool IndexReader::has_eval(int64_t instance, int64_t eval_id) {
    return read([&]() -> bool {
        auto use = m_stmts->eval_builds.get(m_db).use();
        use.bind(row_key(instance, eval_id));
        return use.next();
    });
}

// --- IndexWriter ----------------------------------------------------------

IndexWriter::IndexWriter(Database db)
    : m_reader(std::move(db)), m_stmts(std::make_unique<Statements>()) {}
IndexWriter::~IndexWriter() = default;
IndexWriter::IndexWriter(IndexWriter&&) noexcept = default;
IndexWriter& IndexWriter::operator=(IndexWriter&&) noexcept = default;

IndexWriter IndexWriter::open(const std::string& path) {
    Database db(path, OpenMode::read_write);
    if (db.read_only()) {
        // SQLite opened it read-only: record, forget and sync cannot work.
        const int why = ::access(path.c_str(), W_OK) != 0 ? errno : EACCES;
        throw Error(path + ": the index is not writable (" + std::strerror(why) + ")",
                    ExitCode::no_index);
    }
    db.exec("PRAGMA journal_mode = WAL");
    // Keep the -wal file when the last writer closes, so that users who may
    // read but not write the index's directory (a system index) can open it.
    db.keep_wal_on_close();
    // The persisted -wal is truncated when the last connection closes,
    // instead of staying as large as the largest eval's transaction.
    db.exec("PRAGMA journal_size_limit = 0");
    db.exec("PRAGMA synchronous = NORMAL");
    // Statement journals in memory, not in /var/tmp (bench/ANALYSIS.md §1).
    db.exec("PRAGMA temp_store = MEMORY");
    // 56 MiB: the index of a 250,000-build eval (51 MB) fits; a first sync
    // of 1,000,000 stays under 150 MB of RSS (bench/ANALYSIS.md §2).
    db.exec("PRAGMA cache_size = -57344");
    // A checkpoint every 64 MiB of WAL rather than every 4 MiB (1,000 pages):
    // a sync's batch transaction touches up to ~30 MB of pages, which the
    // default copied back into the file (and synced) after every batch.
    // Hydra-shaped 250k first sync: sys 1.6-1.8 -> 1.3 s (bench/ANALYSIS.md §1).
    db.exec("PRAGMA wal_autocheckpoint = 16384");
    migrate(db);
    return IndexWriter(std::move(db));
}

WriteTransaction IndexWriter::transaction() {
    return WriteTransaction(*this);
}

WriteTransaction::WriteTransaction(IndexWriter& writer) : m_writer(&writer), m_txn(writer.db()) {
    m_writer->m_seq.reset();
}

WriteTransaction::~WriteTransaction() {
    if (m_txn.active()) {
        // Rolled back (by m_txn's destructor, next): ids cached meanwhile
        // may name rows that are gone.
        m_writer->forget_caches();
    }
}

void WriteTransaction::commit() {
    m_txn.commit();
    m_writer->m_seq.reset();
}

int64_t IndexWriter::change_seq() {
    if (m_seq && db().in_transaction()) {
        return *m_seq;
    }
    int64_t seq = 0;
    {
        auto use = m_stmts->next_seq.get(db()).use();
        if (use.next()) {
            seq = use.get_int(0);
        }
    }
    m_stmts->drop_source.get(db()).use().exec();
    if (db().in_transaction()) {
        m_seq = seq;
    }
    return seq;
}

void IndexWriter::record_local_failure(const core::StorePath& drv, int64_t now,
                                       const std::string& log, const std::string& reason) {
    auto use = m_stmts->upsert_local.get(db()).use();
    use.bind(bytes(drv.hash)).bind(drv.drv_name()).bind(now).bind(log).bind(reason).exec();
}

bool IndexWriter::forget_local_failure(const core::HashBytes& drv) {
    auto use = m_stmts->delete_local.get(db()).use();
    use.bind(bytes(drv)).exec();
    return db().changes() > 0;
}

int64_t IndexWriter::forget_all_local_failures() {
    auto use = m_stmts->delete_all_local.get(db()).use();
    use.exec();
    return db().changes();
}

uint64_t NameTable::hash_of(std::string_view text) {
    const uint64_t hash = std::hash<std::string_view>{}(text);
    return hash == 0 ? 1 : hash;
}

size_t NameTable::probe(uint64_t hash) const {
    const size_t size = m_hashes.size(); // any size, not only a power of two
    for (size_t i = hash % size;; i = i + 1 == size ? 0 : i + 1) {
        if (m_hashes[i] == 0 || m_hashes[i] == hash) {
            return i;
        }
    }
}

std::optional<int64_t> NameTable::find(std::string_view text) const {
    if (m_hashes.empty()) {
        return std::nullopt;
    }
    const size_t slot = probe(hash_of(text));
    if (m_hashes[slot] == 0) {
        return std::nullopt;
    }
    return int64_t{m_ids[slot]};
}

void NameTable::rehash(size_t slots) {
    std::vector<uint64_t> hashes(slots);
    std::vector<uint32_t> ids(slots);
    hashes.swap(m_hashes);
    ids.swap(m_ids);
    for (size_t i = 0; i < hashes.size(); ++i) {
        if (hashes[i] != 0) {
            const size_t slot = probe(hashes[i]);
            m_hashes[slot] = hashes[i];
            m_ids[slot] = ids[i];
        }
    }
}

// At most 3/4 full: 2.5 probes a name found, 8.5 a name not there.
bool NameTable::has_room(size_t count) const {
    return count * 4 <= m_hashes.size() * 3;
}

void NameTable::reserve(size_t count) {
    if (!has_room(count)) {
        rehash(std::max<size_t>(1024, count * 4 / 3 + 1));
    }
}

void NameTable::insert(std::string_view text, int64_t id) {
    // Row ids fit in 32 bits by far (a name per job); a larger one is
    // refused rather than mixed up.
    if (id <= 0 || id > int64_t{0xffffffff}) {
        throw Error("name table: the name '" + std::string(text.substr(0, 64)) + "' has row id " +
                    std::to_string(id) + ", out of the writer's range");
    }
    if (!has_room(m_count + 1)) {
        rehash(std::max<size_t>(1024, m_hashes.size() * 2));
    }
    const uint64_t hash = hash_of(text);
    const size_t slot = probe(hash);
    m_hashes[slot] = hash;
    m_ids[slot] = static_cast<uint32_t>(id);
    ++m_count;
}

void NameTable::clear() {
    std::vector<uint64_t>().swap(m_hashes);
    std::vector<uint32_t>().swap(m_ids);
    m_count = 0;
}

void IndexWriter::expect_new_names(size_t count) {
    load_names();
    m_names.reserve(m_names.size() + count + 8); // + the systems
}

void IndexWriter::load_names() {
    if (!m_names_loaded) {
        // One scan instead of a SELECT per name missing from the cache.
        auto use = m_stmts->all_names.get(db()).use();
        while (use.next()) {
            const std::string name = use.get_str(1);
            if (!m_names.find(name)) {
                m_names.insert(name, use.get_int(0));
            }
        }
        m_names_loaded = true;
    }
}

int64_t IndexWriter::intern(const std::string& text) {
    load_names();
    if (const auto id = m_names.find(text)) {
        return *id;
    }
    const int64_t seq = change_seq();
    auto insert = m_stmts->insert_name.get(db()).use();
    insert.bind(text).bind(seq).exec();
    const int64_t id = db().last_insert_rowid();
    m_names.insert(text, id);
    return id;
}

int64_t IndexWriter::instance_id(const std::string& url) {
    if (const auto id = m_reader.find_instance(url)) {
        return *id;
    }
    auto insert = m_stmts->insert_instance.get(db()).use();
    insert.bind(url).exec();
    return db().last_insert_rowid();
}

JobsetState IndexWriter::jobset(const std::string& url, const std::string& project,
                                const std::string& name) {
    auto state = jobset_in(instance_id(url), project, name);
    state.url = url;
    return state;
}

JobsetState IndexWriter::jobset_in(int64_t instance, const std::string& project,
                                   const std::string& name) {
    JobsetState state;
    state.instance = instance;
    state.project = project;
    state.name = name;
    if (m_reader.read_jobset(state)) {
        return state;
    }
    auto insert = m_stmts->insert_jobset.get(db()).use();
    insert.bind(instance).bind(project).bind(name).exec();
    state.id = db().last_insert_rowid();
    return state;
}

int64_t IndexWriter::jobset_row(int64_t instance, const std::string& project,
                                const std::string& name) {
    const std::string key = std::to_string(instance) + '\t' + project + '\t' + name;
    if (const auto it = m_jobset_ids.find(key); it != m_jobset_ids.end()) {
        return it->second;
    }
    const int64_t row = jobset_in(instance, project, name).id;
    m_jobset_ids.emplace(key, row);
    return row;
}

namespace {

// Calls add(hash, name) for each output path of the build (a
// content-addressed output not built yet has none), in order; or says which
// path is not a store path.
template <typename Add>
Expected<void> for_each_output(const core::BuildRecord& build, Add&& add) {
    std::string why;
    for (const auto& [name, path] : build.outputs) {
        if (path.empty()) {
            continue;
        }
        const auto out = core::parse_store_path(path, &why);
        if (!out) {
            return Unexpected{"build " + std::to_string(build.id) + ": invalid output path " +
                              quote(path) + ": " + why};
        }
        add(out->hash, std::string_view(name));
    }
    return {};
}

} // namespace

Expected<core::StorePath> IndexWriter::row_drv(const core::BuildRecord& build) {
    if (build.id <= 0 || build.id > k_id_mask) {
        return Unexpected{"build id " + std::to_string(build.id) + " out of range"};
    }
    std::string why;
    auto drv = core::parse_store_path(build.drvpath, &why);
    if (!drv || !drv->is_drv()) {
        return Unexpected{"build " + std::to_string(build.id) + ": invalid drvpath " +
                          quote(build.drvpath) + (why.empty() ? "" : ": " + why)};
    }
    return std::move(*drv);
}

Expected<void> IndexWriter::check_build(const core::BuildRecord& build) {
    if (auto drv = row_drv(build); !drv) {
        return Unexpected{drv.error()};
    }
    std::string why;
    for (const auto& [name, path] : build.outputs) {
        if (!path.empty() && !core::is_store_path(path, &why)) {
            return Unexpected{"build " + std::to_string(build.id) + ": invalid output path " +
                              quote(path) + ": " + why};
        }
    }
    return {};
}

Expected<void> IndexWriter::put_build(int64_t instance, const core::BuildRecord& build) {
    if (auto checked = check_build(build); !checked) {
        return checked; // before anything is written
    }
    if (auto written = put_build_row(instance, build); !written) {
        return written;
    }
    return for_each_output(build, [&](const core::HashBytes& hash, std::string_view name) {
        put_output(hash, row_key(instance, build.id), name);
    });
}

void IndexWriter::put_output(const core::HashBytes& hash, int64_t row_id, std::string_view name) {
    auto use = m_stmts->upsert_output.get(db()).use();
    use.bind(bytes(hash).first(k_output_key_bytes))
        .bind(row_id)
        .bind(name == "out" ? std::nullopt : std::optional<std::string_view>(name))
        .exec();
}

Expected<void> IndexWriter::put_builds(int64_t instance,
                                       std::span<const core::BuildRecord> builds) {
    std::vector<uint32_t> order(builds.size());
    for (uint32_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return builds[a].id < builds[b].id; });
    // A repeated id: put_build in turn leaves the last row and the outputs
    // of every copy, the first copy's first.
    struct Output {
        core::HashBytes hash;
        int64_t row_id;
        std::string_view name;
    };
    std::vector<Output> outputs;
    outputs.reserve(builds.size() * 2);
    for (size_t k = 0; k < order.size(); ++k) {
        const auto& build = builds[order[k]];
        const bool superseded = k + 1 < order.size() && builds[order[k + 1]].id == build.id;
        if (!superseded) {
            if (auto refused = put_build_row(instance, build); !refused) {
                return refused;
            }
        } else if (auto refused = check_build(build); !refused) {
            return refused;
        }
    }
    for (const auto& build : builds) { // in arrival order: the first build of a path stays
        auto parsed =
            for_each_output(build, [&](const core::HashBytes& hash, std::string_view name) {
                outputs.push_back({hash, row_key(instance, build.id), name});
            });
        if (!parsed) {
            return parsed;
        }
    }
    std::stable_sort(outputs.begin(), outputs.end(), [](const Output& a, const Output& b) {
        return std::memcmp(a.hash.data(), b.hash.data(), k_output_key_bytes) < 0;
    });
    for (const auto& output : outputs) {
        put_output(output.hash, output.row_id, output.name);
    }
    return {};
}

Expected<void> IndexWriter::put_build_row(int64_t instance, const core::BuildRecord& build) {
    const auto drv = row_drv(build);
    if (!drv) {
        return Unexpected{drv.error()};
    }
    const int64_t jobset = jobset_row(instance, stored(build.project), stored(build.jobset));
    const int64_t row_id = row_key(instance, build.id);
    {
        auto use = m_stmts->upsert_build.get(db()).use();
        use.bind(row_id)
            .bind(bytes(drv->hash))
            .bind(drv->drv_name())
            .bind(jobset)
            .bind(intern(stored(build.job)))
            .bind(intern(stored(build.system)))
            .bind(int64_t{build.finished ? 1 : 0});
        if (build.buildstatus) {
            use.bind(int64_t{*build.buildstatus});
        } else {
            use.bind_null();
        }
        std::optional<int64_t> duration;
        if (build.starttime && build.stoptime) {
            duration = *build.stoptime - *build.starttime;
        }
        use.bind(duration).bind(build.stoptime).bind(change_seq()).exec();
    }
    return {};
}

void IndexWriter::put_eval(const JobsetState& jobset, const core::EvalRecord& eval) {
    if (eval.id <= 0 || eval.id > k_id_mask) {
        throw Error(path() + ": eval id " + std::to_string(eval.id) + " out of range");
    }
    std::string inputs;
    for (const auto& [name, revision] : eval.inputs) {
        inputs += name + " " + revision + "\n";
    }
    const std::string members = core::encode_id_list(eval.builds);
    const int64_t seq = change_seq();
    auto use = m_stmts->insert_eval.get(db()).use();
    use.bind(row_key(jobset.instance, eval.id))
        .bind(jobset.id)
        .bind(eval.timestamp)
        .bind(inputs)
        .bind(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(members.data()),
                                       members.size()))
        .bind(seq)
        .exec();
    m_stmts->insert_change.get(db()).use().bind(seq).bind(row_key(jobset.instance, eval.id)).exec();
}

void IndexWriter::set_jobset_state(const JobsetState& state) {
    auto use = m_stmts->update_jobset.get(db()).use();
    use.bind(state.id)
        .bind(state.synced_at)
        .bind(state.newest_eval)
        .bind(state.rechecked_at)
        .bind(text_or_null(state.etag))
        .bind(text_or_null(state.last_modified))
        .bind(text_or_null(state.listing_digest))
        .bind(state.eval_builds_failed_at)
        .bind(state.eval_builds_failed_members)
        .bind(change_seq())
        .exec();
}

void IndexWriter::forget_caches() {
    m_seq.reset();
    m_names.clear();
    m_names_loaded = false;
    m_jobset_ids.clear();
}

} // namespace hs::index
