// Snapshot files (issue 17): a base is a consistent copy of the index, a
// delta the rows that the changes in a range of change sequences wrote. Both
// are SQLite files with the index's tables (a base without its lookup
// indexes) and, in table meta, what they hold (replica_kind, replica_from,
// replica_to). The snapshot layer compresses, signs and ships them; this
// file is the only one that reads or writes their rows.
#include "core/error.hpp"
#include "index/index.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <string>

namespace hs::index {

namespace {

// The tables a snapshot carries, in the order they are applied, each with
// its columns. local_failure is never in one.
struct ReplicaTable {
    const char* name;
    const char* columns;
};
constexpr ReplicaTable k_replica_tables[] = {
    {"hydra", "id, url"},
    {"name", "id, text, seq"},
    {"jobset", "id, hydra, project, name, synced_at, newest_eval, rechecked_at, etag, "
               "last_modified, listing_digest, eval_builds_failed_at, "
               "eval_builds_failed_members, seq"},
    {"build", "id, drv, name, jobset, job, system, finished, status, duration, stoptime, seq"},
    {"output", "hash, build, name"},
    {"eval", "id, jobset, timestamp, inputs, builds, seq"},
    {"change", "seq, eval"},
};

// The lookup indexes a base leaves out (the index rebuilds them as it
// inserts the rows).
constexpr const char* k_drop_lookup_indexes = R"sql(
DROP INDEX IF EXISTS build_by_drv;
DROP INDEX IF EXISTS build_unfinished;
DROP INDEX IF EXISTS build_by_job;
DROP INDEX IF EXISTS eval_by_jobset;
)sql";

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

void require_absent(const std::string& path) {
    if (exists(path)) {
        throw Error(path + ": already exists");
    }
}

int64_t int_of(Database& db, const std::string& sql, int64_t fallback = 0) {
    Statement stmt(db, sql.c_str());
    auto use = stmt.use();
    if (!use.next()) {
        return fallback;
    }
    return use.get_opt_int(0).value_or(fallback);
}

void set_meta(Database& db, const char* schema, const std::string& key, int64_t value) {
    Statement stmt(
        db, (std::string("INSERT OR REPLACE INTO ") + schema + ".meta (key, value) VALUES (?1, ?2)")
                .c_str());
    stmt.use().bind(key).bind(value).exec();
}

void set_meta_text(Database& db, const std::string& key, const std::string& value) {
    Statement stmt(db, "INSERT OR REPLACE INTO main.meta (key, value) VALUES (?1, ?2)");
    stmt.use().bind(key).bind(value).exec();
}

void check_schema(Database& db, const char* schema, const std::string& path) {
    const int64_t version = int_of(db, std::string("PRAGMA ") + schema + ".user_version");
    if (version != k_schema_version) {
        throw Error(path + ": schema version " + std::to_string(version) +
                    ", this hydra-status reads " + std::to_string(k_schema_version));
    }
}

ReplicaInfo info_of(Database& db, const char* schema, const std::string& path) {
    check_schema(db, schema, path);
    const std::string meta = std::string(schema) + ".meta";
    const int64_t tables =
        int_of(db, std::string("SELECT count(*) FROM ") + schema +
                       ".sqlite_master WHERE type = 'table' AND name IN ('hydra', 'name', "
                       "'jobset', 'build', 'output', 'eval', 'change', 'meta')");
    if (tables != 8) {
        throw Error(path + ": not a hydra-status snapshot file (tables missing)");
    }
    ReplicaInfo info;
    Statement stmt(db, ("SELECT key, value FROM " + meta + " WHERE key LIKE 'replica_%'").c_str());
    auto use = stmt.use();
    int found = 0;
    while (use.next()) {
        const std::string key = use.get_str(0);
        if (key == "replica_kind") {
            info.base = use.get_str(1) == "base";
            ++found;
        } else if (key == "replica_from") {
            info.from = use.get_int(1);
            ++found;
        } else if (key == "replica_to") {
            info.to = use.get_int(1);
            ++found;
        }
    }
    if (found != 3 || info.from < 0 || info.to < info.from) {
        throw Error(path + ": not a hydra-status snapshot file (no valid range)");
    }
    return info;
}

// Copies the rows of the snapshot attached as r into main: a base first
// empties main's tables (local failure records stay).
void copy_rows(Database& db, bool replace_all) {
    for (const auto& table : k_replica_tables) {
        const std::string name = table.name;
        if (replace_all) {
            db.exec(("DELETE FROM main." + name).c_str());
        }
        const std::string sql = "INSERT OR REPLACE INTO main." + name + " (" + table.columns +
                                ") SELECT " + table.columns + " FROM r." + name;
        db.exec(sql.c_str());
    }
}

} // namespace

ReplicaInfo write_base(const std::string& index_path, const std::string& out) {
    require_absent(out);
    {
        Database db(index_path, OpenMode::read_write);
        check_schema(db, "main", index_path);
        Statement vacuum(db, "VACUUM INTO ?1");
        vacuum.use().bind(out).exec();
    }
    Database copy(out, OpenMode::read_write);
    copy.exec("PRAGMA journal_mode = DELETE");
    ReplicaInfo info;
    info.base = true;
    {
        Transaction txn(copy);
        copy.exec("DELETE FROM local_failure; DELETE FROM meta WHERE key <> 'seq'");
        copy.exec(k_drop_lookup_indexes);
        info.to = int_of(copy, "SELECT value FROM meta WHERE key = 'seq'");
        set_meta(copy, "main", "replica_from", 0);
        set_meta(copy, "main", "replica_to", info.to);
        Statement kind(copy, "INSERT INTO meta (key, value) VALUES ('replica_kind', 'base')");
        kind.use().exec();
        txn.commit();
    }
    // The pages the records and indexes held are freed and dropped.
    copy.exec("VACUUM");
    return info;
}

ReplicaInfo write_delta(const std::string& index_path, const std::string& out, int64_t from,
                        int64_t to) {
    require_absent(out);
    Database db(out, OpenMode::read_write);
    db.exec("PRAGMA journal_mode = DELETE");
    const Attachment src(db, index_path, "src");
    ReplicaInfo info;
    info.from = from;
    {
        // One read transaction (deferred: a sync may go on writing the
        // index meanwhile): every read of src sees one state of it. An
        // error leaves it open; closing the connection rolls it back.
        db.exec("BEGIN");
        check_schema(db, "src", index_path);
        info.to = std::min(to, int_of(db, "SELECT value FROM src.meta WHERE key = 'seq'"));
        info.to = std::max(info.to, from);
        {
            Statement tables(db, "SELECT sql FROM src.sqlite_master WHERE type = 'table' AND "
                                 "name IN ('hydra', 'name', 'jobset', 'build', 'output', 'eval', "
                                 "'change', 'meta')");
            auto use = tables.use();
            while (use.next()) {
                db.exec(use.get_str(0).c_str());
            }
        }
        const auto range = [&](const std::string& sql) {
            Statement stmt(db, sql.c_str());
            stmt.use().bind(from).bind(info.to).exec();
        };
        range("INSERT INTO main.build SELECT * FROM src.build WHERE seq > ?1 AND seq <= ?2");
        db.exec("INSERT INTO main.output SELECT * FROM src.output "
                "WHERE build IN (SELECT id FROM main.build)");
        range("INSERT INTO main.eval SELECT * FROM src.eval WHERE seq > ?1 AND seq <= ?2");
        range("INSERT INTO main.change SELECT * FROM src.change WHERE seq > ?1 AND seq <= ?2");
        range("INSERT INTO main.jobset SELECT * FROM src.jobset WHERE (seq > ?1 AND seq <= ?2) "
              "OR id IN (SELECT jobset FROM main.build UNION SELECT jobset FROM main.eval)");
        db.exec("INSERT INTO main.hydra SELECT * FROM src.hydra");
        // Names are only ever added: those of earlier changes are in the
        // base and the deltas before.
        range("INSERT INTO main.name SELECT * FROM src.name WHERE seq > ?1 AND seq <= ?2");
        set_meta(db, "main", "seq", info.to);
        set_meta(db, "main", "replica_from", info.from);
        set_meta(db, "main", "replica_to", info.to);
        Statement kind(db, "INSERT INTO main.meta (key, value) VALUES ('replica_kind', 'delta')");
        kind.use().exec();
        db.exec(("PRAGMA main.user_version = " + std::to_string(k_schema_version)).c_str());
        db.exec("COMMIT");
    }
    return info;
}

ReplicaInfo read_replica_info(const std::string& path) {
    if (!exists(path)) {
        throw Error(path + ": no such snapshot file");
    }
    Database db(path, OpenMode::read_only);
    return info_of(db, "main", path);
}

void merge_replica(const std::string& into, const std::string& next) {
    Database db(into, OpenMode::read_write);
    const ReplicaInfo have = info_of(db, "main", into);
    const Attachment r(db, next, "r");
    Transaction txn(db);
    const ReplicaInfo add = info_of(db, "r", next);
    if (add.base || add.from != have.to) {
        throw Error(next + ": does not follow " + into + " (changes " + std::to_string(add.from) +
                    " to " + std::to_string(add.to) + " after " + std::to_string(have.to) + ")");
    }
    copy_rows(db, false);
    set_meta(db, "main", "replica_to", add.to);
    set_meta(db, "main", "seq", add.to);
    txn.commit();
}

// --- IndexReader ---------------------------------------------------------

int64_t IndexReader::change_seq() {
    int64_t seq = 0;
    read_with([&] { seq = int_of(m_db, "SELECT value FROM meta WHERE key = 'seq'"); });
    return seq;
}

std::vector<EvalChange> IndexReader::eval_changes(int64_t after, int64_t upto) {
    std::vector<EvalChange> out;
    read_with([&] {
        out.clear();
        Statement stmt(m_db, "SELECT seq, eval FROM change WHERE seq > ?1 AND seq <= ?2 "
                             "ORDER BY seq, eval");
        auto use = stmt.use();
        use.bind(after).bind(upto);
        while (use.next()) {
            out.push_back({use.get_int(0), use.get_int(1) & k_id_mask});
        }
    });
    return out;
}

std::optional<ReplicaSource> IndexReader::replica_source() {
    ReplicaSource source;
    read_with([&] {
        source = {};
        Statement stmt(m_db, "SELECT key, value FROM meta WHERE key LIKE 'source_%'");
        auto use = stmt.use();
        while (use.next()) {
            const std::string key = use.get_str(0);
            if (key == "source_url") {
                source.url = use.get_str(1);
            } else if (key == "source_seq") {
                source.seq = use.get_int(1);
            } else if (key == "source_created") {
                source.created = use.get_int(1);
            } else if (key == "source_pulled_at") {
                source.pulled_at = use.get_int(1);
            } else if (key == "source_signed_by") {
                source.signed_by = use.get_str(1);
            } else if (key == "source_etag") {
                source.etag = use.get_str(1);
            } else if (key == "source_last_modified") {
                source.last_modified = use.get_str(1);
            } else if (key == "source_manifest_sha256") {
                source.manifest_sha256 = use.get_str(1);
            }
        }
    });
    if (source.url.empty()) {
        return std::nullopt;
    }
    return source;
}

// --- IndexWriter ---------------------------------------------------------

void IndexWriter::set_replica_source(const ReplicaSource& source) {
    Database& d = db();
    set_meta_text(d, "source_url", source.url);
    set_meta(d, "main", "source_seq", source.seq);
    set_meta(d, "main", "source_created", source.created);
    set_meta(d, "main", "source_pulled_at", source.pulled_at);
    set_meta_text(d, "source_signed_by", source.signed_by);
    set_meta_text(d, "source_etag", source.etag);
    set_meta_text(d, "source_last_modified", source.last_modified);
    set_meta_text(d, "source_manifest_sha256", source.manifest_sha256);
}

void IndexWriter::apply_replica(const std::string& file, const ReplicaSource& source,
                                const std::function<void()>& before_commit) {
    const ReplicaInfo info = read_replica_info(file);
    {
        const Attachment r(db(), file, "r");
        auto txn = transaction();
        // Checked again on the attached file: the one that is applied.
        const ReplicaInfo attached = info_of(db(), "r", file);
        if (attached.base != info.base || attached.to != info.to) {
            throw Error(file + ": changed while it was applied");
        }
        copy_rows(db(), info.base);
        const int64_t seq = int_of(db(), "SELECT value FROM main.meta WHERE key = 'seq'");
        set_meta(db(), "main", "seq", std::max(seq, info.to));
        set_replica_source(source);
        if (before_commit) {
            before_commit();
        }
        txn.commit();
    }
    forget_caches();
}

} // namespace hs::index
