#pragma once

#include "core/records.hpp"
#include "core/store_path.hpp"
#include "index/lock.hpp"
#include "index/sqlite.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace hs::index {

inline constexpr int k_schema_version = 2;

// Build and eval ids are unique per Hydra instance; the index keys them as
// (instance << 40 | id). Hydra ids are far below 2^40.
inline constexpr int k_instance_shift = 40;
inline constexpr int64_t k_id_mask = (int64_t{1} << k_instance_shift) - 1;

// One build as the index knows it, with where it came from.
struct BuildRow {
    int64_t build_id = 0; // Hydra's build id
    std::string hydra_url;
    core::HashBytes drv_hash{};
    std::string drv_name; // without ".drv"
    std::string project;
    std::string jobset;
    std::string job;
    std::string system;
    bool finished = false;
    std::optional<int> buildstatus;
    std::optional<int64_t> starttime;
    std::optional<int64_t> stoptime;
    std::optional<int64_t> synced_at; // last successful sync of the build's jobset

    std::string drv_path() const;
    std::string drv_basename() const;
};

struct LocalFailure {
    core::HashBytes drv_hash{};
    std::string drv_name;
    int64_t count = 0;
    int64_t first_at = 0;
    int64_t last_at = 0;
    std::string log;    // absolute path of the build log; empty: none recorded
    std::string reason; // empty: none recorded

    std::string drv_path() const;
};

struct JobsetState {
    int64_t id = 0;       // row id in the index
    int64_t instance = 0; // Hydra instance row id
    std::string url;
    std::string project;
    std::string name;
    std::optional<int64_t> synced_at;
    std::optional<int64_t> newest_eval;
    std::optional<int64_t> rechecked_at;
    // Validators of the evals listing's first page from the last complete
    // sync (empty: none), for a conditional request next time.
    std::string etag;
    std::string last_modified;
};

struct JobsetInfo {
    JobsetState state;
    int64_t evals = 0;
    int64_t builds = 0;
};

// The SQLite index. Read-only connections (lookups, gate, info) write and
// create nothing, not even the -wal and -shm files, so that users who may
// only read an index (a system one) can use it; at open they only check the
// schema version. Read-write connections create or migrate the schema, use
// WAL and keep every statement prepared.
class Index {
public:
    // Throws hs::Error(no_index) with a hint when the file is missing or is
    // not an index, or has a newer schema.
    static Index open_read_only(const std::string& path);
    // Creates the file (and nothing else: the directory must exist). Throws
    // hs::Error(no_index) naming the file when it is not writable.
    static Index open_read_write(const std::string& path);

    ~Index();
    Index(Index&&) noexcept;
    Index& operator=(Index&&) noexcept;

    const std::string& path() const { return m_db.path(); }
    Database& database() { return m_db; }

    // --- lookups -------------------------------------------------------
    bool ever_synced();
    // Every build of the drv the key names (a drv or, through its outputs,
    // the drv producing an output), deciding build first: finished builds by
    // stoptime then id, newest first, then unfinished ones by id.
    std::vector<BuildRow> builds_for_key(const core::Key& key);
    std::vector<BuildRow> builds_of_drv(const core::HashBytes& drv);
    // Just the state of the deciding build (the first of builds_of_drv), or
    // nullopt: one index seek, enough to tell a good drv from a bad one.
    struct BuildState {
        bool finished = false;
        std::optional<int> buildstatus;
    };
    std::optional<BuildState> deciding_state(const core::HashBytes& drv);
    // The drv that produces an output path hash, if known.
    std::optional<std::pair<core::HashBytes, std::string>>
    drv_of_output(const core::HashBytes& out);
    // Every build of job in project:jobset, deciding first (as above).
    std::vector<BuildRow> builds_of_job(const std::string& project, const std::string& jobset,
                                        const std::string& job);
    std::vector<JobsetInfo> jobsets();
    int64_t count_builds();

    // --- local failures ------------------------------------------------
    // Only records with last_at >= not_before (expiry by local-ttl).
    std::optional<LocalFailure> local_failure(const core::HashBytes& drv, int64_t not_before);
    // Whether any record counts (a gate asks once, not once per drv).
    bool has_local_failures(int64_t not_before);
    // Counts one more failure at `now`. An empty log or reason keeps the one
    // recorded before, if any.
    void record_local_failure(const core::StorePath& drv, int64_t now, const std::string& log,
                              const std::string& reason);
    bool forget_local_failure(const core::HashBytes& drv);
    int64_t forget_all_local_failures();

    // --- sync ----------------------------------------------------------
    // The jobset's state, creating its row (and the instance's) if needed.
    JobsetState jobset(const std::string& url, const std::string& project, const std::string& name);
    // The jobset's state without writing anything: id and instance are 0
    // when the index has no row for them.
    JobsetState find_jobset(const std::string& url, const std::string& project,
                            const std::string& name);
    // Hydra build ids among ids that the index lacks or has unfinished.
    std::vector<int64_t> builds_to_fetch(int64_t instance, std::span<const int64_t> ids);
    // Hydra ids of the jobset's unfinished builds.
    std::vector<int64_t> unfinished_builds(int64_t jobset_row);
    // Member build ids of an ingested eval (empty if unknown).
    std::vector<int64_t> eval_builds(int64_t instance, int64_t eval_id);
    bool has_eval(int64_t instance, int64_t eval_id);
    // Hydra ids of the jobset's ingested evals, newest first.
    std::vector<int64_t> eval_ids(int64_t jobset_row);

    // Why put_build would refuse the record (an id out of range, an invalid
    // drvpath or output path), or an empty string. Pure: a sync checks each
    // build as it arrives, before it stages the build for writing.
    static std::string check_build(const core::BuildRecord& build);
    // Writes; call inside a Transaction on database(), and keep it short:
    // `record` and `forget` wait for it (no write transaction ever waits on
    // the network). put_build returns an empty string, or why the record
    // was refused (check_build).
    std::string put_build(int64_t instance, const core::BuildRecord& build);
    void put_eval(const JobsetState& jobset, const core::EvalRecord& eval);
    void set_jobset_state(const JobsetState& state);
    // Drops caches that a rolled-back transaction may have made stale.
    void forget_caches();

    // Whether this read-only connection reads the main file alone (SQLite's
    // immutable mode), for want of the -wal and -shm files; see
    // open_read_only.
    bool reads_main_file_alone() const { return m_frozen.has_value(); }

private:
    explicit Index(Database db);
    // Makes the read-only connection to path, under m_read_lock.
    void connect(const std::string& path);
    // Whether no writer came since an immutable connection was made.
    bool unchanged() const;
    // Runs a read. On a connection that reads the main file alone, the files
    // are observed afterwards: if a writer came, the read is done again on a
    // new connection (see open_read_only).
    template <class F>
    auto read(F&& body);
    void reconnect();
    struct Statements;
    int64_t intern(const std::string& text);
    std::optional<int64_t> find_instance(const std::string& url);
    int64_t instance_id(const std::string& url);
    // Fills state from its (instance, project, name) row; false if none.
    bool read_jobset(JobsetState& state);
    JobsetState jobset_in(int64_t instance, const std::string& project, const std::string& name);
    std::vector<BuildRow> read_builds(Statement::Use& use);

    // Read-only connections: the lock, released after the connection closes
    // (declared before m_db), and for an immutable connection the files'
    // state it depends on.
    std::unique_ptr<ReadLock> m_read_lock;
    std::optional<IndexFiles> m_frozen;
    std::string m_sentinel; // the companion whose coming means a writer came
    int m_read_depth = 0;   // nested read() calls check only once, at the outermost
    Database m_db;
    std::unique_ptr<Statements> m_stmts;
    std::unordered_map<std::string, int64_t> m_names; // all of table name once loaded
    bool m_names_loaded = false;
    std::unordered_map<std::string, int64_t> m_jobset_ids; // "instance\tproject\tjobset"
};

} // namespace hs::index
