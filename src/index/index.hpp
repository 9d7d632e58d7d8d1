#pragma once

#include "core/records.hpp"
#include "core/store_path.hpp"
#include "index/lock.hpp"
#include "index/sqlite.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hs::index {

inline constexpr int k_schema_version = 6;

// Build and eval ids are unique per Hydra instance; the index keys them as
// ((instance - 1) << 40 | id), instance being the row id of the Hydra
// instance (1 for the first). Hydra ids are far below 2^40. The first
// instance's keys are Hydra's own ids: 4-byte integers in SQLite's records
// and 5-byte varints as rowids, where instance << 40 took 6 bytes in both.
inline constexpr int k_instance_shift = 40;
inline constexpr int64_t k_id_mask = (int64_t{1} << k_instance_shift) - 1;
inline constexpr int64_t row_key(int64_t instance, int64_t id) {
    return ((instance - 1) << k_instance_shift) | id;
}

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
    // The index stores the duration (stoptime - starttime): starttime is
    // known only with stoptime.
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
    // A digest of the evals listing's first page (eval ids and their counts)
    // from the last complete sync (empty: none).
    std::string listing_digest;
    // When GET /eval/<id>/builds last failed for this jobset (504, timeout,
    // reset), unix seconds, and the member count of the eval it failed on.
    std::optional<int64_t> eval_builds_failed_at;
    std::optional<int64_t> eval_builds_failed_members;
};

// What the index says about one lookup key (IndexReader::answer_key).
struct KeyAnswer {
    // Every build of the drv the key names, deciding first (builds_for_key).
    std::vector<BuildRow> builds;
    // The drv whose local failure record counts: the drv of the builds, or
    // the key's own hash when it may name a drv (a drv key, or a bare hash
    // that names no output); nullopt for an output no build produces.
    std::optional<core::HashBytes> drv;
    std::optional<LocalFailure> local; // only records with last_at >= not_before
    // Whether any jobset was ever synced, when the answer tells: true when
    // a build's jobset was synced; asked (once per reader) when no build was
    // found or its jobset never finished a sync; nullopt when not asked.
    std::optional<bool> ever_synced;
};

struct JobsetInfo {
    JobsetState state;
    int64_t evals = 0;
    int64_t builds = 0;
};

// ===== History, bisect and the eval report (src/index/history.cpp) ======

// An ingested eval of a jobset.
struct EvalInfo {
    int64_t eval_id = 0; // Hydra's
    int64_t timestamp = 0;
    // (input name, revision), as Hydra listed them; the revision is the
    // input's value when it has none (a boolean or string input).
    std::vector<std::pair<std::string, std::string>> inputs;
};

// One eval in a job's history and the job's build in it (none: the eval
// does not hold the job).
struct JobEval {
    EvalInfo eval;
    std::optional<BuildRow> build;
};

// A member build of an eval, with its job and system as ids of the name
// table (IndexReader::names).
struct EvalMember {
    int64_t build_id = 0; // Hydra's
    int64_t job = 0;
    int64_t system = 0;
    bool finished = false;
    std::optional<int> buildstatus;
};

struct EvalContents {
    EvalInfo eval;
    std::vector<EvalMember> builds; // by build id
};

// ===== end of history types ==============================================

// ===== Snapshot files (replica.cpp) ======================================

// Where a pulled index's data came from (sync --from): the publisher's
// manifest it was brought up to, and when.
struct ReplicaSource {
    std::string url;             // the --from URL, without credentials
    int64_t seq = 0;             // the publisher's change sequence reached
    int64_t created = 0;         // the manifest's creation time, unix seconds
    int64_t pulled_at = 0;       // unix seconds of the last pull that checked it
    std::string signed_by;       // the trusted key's name; "" when not verified
    std::string etag;            // the manifest's validators, for the next pull
    std::string last_modified;   //
    std::string manifest_sha256; // of the manifest's bytes (file:// has no validators)
};

// An eval committed at a change sequence (IndexReader::eval_changes).
struct EvalChange {
    int64_t seq = 0;
    int64_t eval_id = 0; // Hydra's
};

// What a snapshot file says of itself (read_replica_info).
struct ReplicaInfo {
    bool base = false; // the whole index, not a delta
    int64_t from = 0;  // the changes after this sequence...
    int64_t to = 0;    // ...up to this one; a base holds everything up to `to`
};

// Writes `out` (which must not exist): a consistent copy of the index at
// `index_path` (VACUUM INTO), without local failure records, lookup
// indexes or pull state; its bytes of them zeroed. Returns the change
// sequence it holds. Throws hs::Error naming the file.
ReplicaInfo write_base(const std::string& index_path, const std::string& out);
// Writes `out` (which must not exist): the rows the changes in (from, to]
// wrote (builds with their outputs, evals, jobsets, names, Hydra
// instances). `to` is capped by the index's newest change.
ReplicaInfo write_delta(const std::string& index_path, const std::string& out, int64_t from,
                        int64_t to);
// Reads what a snapshot file says it holds; throws hs::Error naming the file
// for anything that is not one of this schema version.
ReplicaInfo read_replica_info(const std::string& path);
// Adds the delta file `next` to the snapshot file `into` (one transaction),
// which then holds the changes up to next's `to`. `next` must start where
// `into` ends.
void merge_replica(const std::string& into, const std::string& next);

// ===== end of snapshot files ==============================================

class IndexWriter;

// The reads of the SQLite index: lookups, local failures, the jobsets
// listing, and the reads a sync plans with. It holds no write statement.
//
// IndexReader::open makes a read-only connection, which writes and creates
// nothing, not even the -wal and -shm files, so that users who may only
// read an index (a system one) can use it; at open it only checks the
// schema version. An IndexWriter's reader() reads on the writer's own
// connection, and so sees its transaction's writes.
class IndexReader {
public:
    // Throws hs::Error(no_index) with a hint when the file is missing or is
    // not an index, or has a newer schema.
    static IndexReader open(const std::string& path);

    ~IndexReader();
    IndexReader(IndexReader&&) noexcept;
    IndexReader& operator=(IndexReader&&) noexcept;

    const std::string& path() const { return m_db.path(); }
    // Every read until the snapshot ends sees one state of the index, and
    // takes the WAL read lock once (bench/ANALYSIS.md, change 4). Inside a
    // writer's transaction it is part of that transaction.
    [[nodiscard]] Snapshot snapshot();

    // --- lookups -------------------------------------------------------
    bool ever_synced();
    // The answer to a key in one indexed read: the builds with their
    // jobsets and names joined, the local failure record, and ever_synced
    // only where needed. For a single key: no BEGIN/COMMIT around it.
    KeyAnswer answer_key(const core::Key& key, int64_t local_not_before);
    // The same for many keys (a batch): one read of build, output and
    // local_failure per key, with jobsets, instances and names resolved
    // from maps loaded once. Wrap the calls in a snapshot().
    std::vector<KeyAnswer> answer_keys(std::span<const core::Key> keys, int64_t local_not_before);
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
    // Every build of job in project:jobset, deciding first (as above).
    std::vector<BuildRow> builds_of_job(const std::string& project, const std::string& jobset,
                                        const std::string& job);
    std::vector<JobsetInfo> jobsets();

    // --- local failures ------------------------------------------------
    // Only records with last_at >= not_before (expiry by local-ttl).
    std::optional<LocalFailure> local_failure(const core::HashBytes& drv, int64_t not_before);
    // Whether any record counts (a gate asks once, not once per drv).
    bool has_local_failures(int64_t not_before);

    // --- what a sync reads ---------------------------------------------
    // The jobset's state: id and instance are 0 when the index has no row
    // for them (IndexWriter::jobset creates them).
    JobsetState find_jobset(const std::string& url, const std::string& project,
                            const std::string& name);
    // Hydra build ids among ids that the index lacks or has unfinished.
    std::vector<int64_t> builds_to_fetch(int64_t instance, std::span<const int64_t> ids);
    // Hydra build ids among ids that the index has finished with a status
    // other than 0 (failed, cancelled, ...), in the order of ids.
    std::vector<int64_t> failed_builds(int64_t instance, std::span<const int64_t> ids);
    // Hydra ids of the jobset's unfinished builds.
    std::vector<int64_t> unfinished_builds(int64_t jobset_row);
    // Member build ids of an ingested eval (empty if unknown).
    std::vector<int64_t> eval_builds(int64_t instance, int64_t eval_id);
    bool has_eval(int64_t instance, int64_t eval_id);
    // Hydra ids of the jobset's ingested evals, newest first.
    std::vector<int64_t> eval_ids(int64_t jobset_row);

    // ===== history, bisect and the eval report (history.cpp) ============
    // The jobset rows named project:name, of every Hydra instance.
    std::vector<JobsetState> jobsets_named(const std::string& project, const std::string& name);
    // The jobset's ingested evals, newest first.
    std::vector<EvalInfo> jobset_evals(int64_t jobset_row);
    // The job's history in the jobset: its ingested evals, newest first,
    // each with the job's build in it. Stops after the eval for which
    // `enough` (given the history so far) says true; none: every eval.
    // Empty when the jobset has no build of the job.
    std::vector<JobEval>
    job_history(const JobsetState& jobset, const std::string& job,
                const std::function<bool(const std::vector<JobEval>&)>& enough = {});
    // The evals and their member builds, in the order asked; nullopt for
    // one the index lacks. A build in several of them is read once.
    std::vector<std::optional<EvalContents>> eval_contents(int64_t instance,
                                                           std::span<const int64_t> eval_ids);
    // The drv (hash, name without ".drv") of each build; a zero hash and ""
    // for one the index lacks.
    std::vector<std::pair<core::HashBytes, std::string>>
    drvs_of_builds(int64_t instance, std::span<const int64_t> build_ids);
    // The name table (jobs and systems) by id: names()[id]; "" for no name.
    std::vector<std::string> names();
    // ===== end of history reads ==========================================

    // ===== snapshot files (replica.cpp) ==================================
    // The newest change sequence: every write transaction of a sync that
    // writes builds, evals or jobset state takes the next one (0: none yet).
    int64_t change_seq();
    // The evals committed at sequences in (after, upto], in order.
    std::vector<EvalChange> eval_changes(int64_t after, int64_t upto);
    // Where the data came from, when it was pulled (sync --from).
    std::optional<ReplicaSource> replica_source();

private:
    friend class IndexWriter;
    explicit IndexReader(Database db);

    // --- the read-only open (see open) ---------------------------------
    // Makes the read-only connection to path, under m_read_lock.
    void connect(const std::string& path);
    // The main file alone if it may be read so now, or nullopt.
    std::optional<Database> connect_immutable(const std::string& path, IndexFiles& files);
    // Whether no writer came since an immutable connection was made.
    bool unchanged() const;
    // Runs a read. On a connection that reads the main file alone, the files
    // are observed afterwards: if a writer came, the read is done again on a
    // new connection (see open).
    template <class F>
    auto read(F&& body);
    // read() for the reads of other files (history.cpp): body reads.
    void read_with(const std::function<void()>& body);
    void reconnect();

    // --- reads -----------------------------------------------------------
    struct Statements;
    std::optional<std::pair<core::HashBytes, std::string>>
    drv_of_output(const core::HashBytes& out);
    std::optional<int64_t> find_instance(const std::string& url);
    // Fills state from its (instance, project, name) row; false if none.
    bool read_jobset(JobsetState& state);
    std::vector<BuildRow> read_builds(Statement::Use& use);
    // A batch's maps (answer_keys): jobset row -> project, name, url and
    // synced_at; name row -> text. Loaded once, at the first batch; a row
    // missing from them (written since) is read from the index.
    struct Maps;
    Maps& maps();
    void load_jobsets(Maps& maps);
    std::string name_text(int64_t id);
    // A row of answer_batch_key as a build, its jobset and names from the
    // maps; false for a build of no jobset.
    bool read_batch_row(const Statement::Use& use, BuildRow& row);
    bool mapped_ever_synced();

    // Read-only connections: the lock, released after the connection closes
    // (declared before m_db), and for an immutable connection the files'
    // state it depends on.
    std::unique_ptr<ReadLock> m_read_lock;
    std::optional<IndexFiles> m_frozen;
    std::string m_sentinel; // the companion whose coming means a writer came
    int m_read_depth = 0;   // nested read() calls check only once, at the outermost
    Database m_db;
    std::unique_ptr<Statements> m_stmts;
    std::unique_ptr<Maps> m_maps;
};

class WriteTransaction;

// The writes of the SQLite index: sync ingestion, jobset state, local
// failure records. IndexWriter::open creates or migrates the schema, uses
// WAL and keeps every statement prepared. Its reader() reads on the same
// connection.
// The rows of table `name` by the 64-bit hash of their text, for
// IndexWriter::intern: a first sync of an eval of n jobs holds n names, so
// a name costs 12 bytes a slot (hash and row id) in an open-addressed table
// at most 3/4 full, whatever its length: 16-24 B a name, against ~65 B with
// the texts kept and ~130 B in an unordered_map<std::string, int64_t>
// (bench/ANALYSIS.md §2). Two names sharing a hash would share a row: with
// n names the chance is about n^2 / 2^65 (3e-8 for 1,000,000 jobs), the
// bound schema v4 accepted for output keys (8 bytes of their hash).
class NameTable {
public:
    std::optional<int64_t> find(std::string_view text) const;
    // text must not be in the table yet.
    void insert(std::string_view text, int64_t id);
    // Room for `count` names in all, so that they go in without the table
    // growing (old and new slots at once: 38 MB at 1,000,000 names).
    void reserve(size_t count);
    void clear();
    size_t size() const { return m_count; }

private:
    static uint64_t hash_of(std::string_view text); // never 0
    // The slot holding hash, or the empty one where it would go.
    size_t probe(uint64_t hash) const;
    bool has_room(size_t count) const;
    void rehash(size_t slots);

    std::vector<uint64_t> m_hashes; // 0: an empty slot
    std::vector<uint32_t> m_ids;    // row ids, by slot
    size_t m_count = 0;
};

class IndexWriter {
public:
    // Creates the file (and nothing else: the directory must exist). Throws
    // hs::Error(no_index) naming the file when it is not writable.
    static IndexWriter open(const std::string& path);

    ~IndexWriter();
    IndexWriter(IndexWriter&&) noexcept;
    IndexWriter& operator=(IndexWriter&&) noexcept;

    const std::string& path() const { return m_reader.path(); }
    IndexReader& reader() { return m_reader; }
    // BEGIN IMMEDIATE; rolled back unless committed. Keep it short: `record`
    // and `forget` wait for it (no write transaction ever waits on the
    // network). A write outside one is its own transaction.
    [[nodiscard]] WriteTransaction transaction();

    // --- sync ------------------------------------------------------------
    // The jobset's state, creating its row (and the instance's) if needed.
    JobsetState jobset(const std::string& url, const std::string& project, const std::string& name);
    // Why put_build would refuse the record (an id out of range, an invalid
    // drvpath or output path), or an empty string. Pure: a sync checks each
    // build as it arrives, before it stages the build for writing.
    static Expected<void> check_build(const core::BuildRecord& build);
    // Writes the build, or returns why the record was refused (check_build).
    Expected<void> put_build(int64_t instance, const core::BuildRecord& build);
    // Writes a batch as put_build writes each of its builds, in fewer page
    // touches: the `build` rows in id order, then the outputs in key order
    // (Hydra sends an eval's builds in no order: in arrival order every row
    // lands on a random page, and each page a transaction touches is written
    // to the WAL again). What is written is what put_build would write for
    // each build in turn (a repeated id: the later row; an output path
    // twice: the first build). Returns the first refusal's reason, and then
    // the batch is written in part: roll the transaction back.
    Expected<void> put_builds(int64_t instance, std::span<const core::BuildRecord> builds);
    // Says that up to `count` builds with names not seen yet may come (an
    // eval's members the index lacks), so that the names' table is sized
    // once rather than grown while they come.
    void expect_new_names(size_t count);
    void put_eval(const JobsetState& jobset, const core::EvalRecord& eval);
    void set_jobset_state(const JobsetState& state);

    // --- local failures ------------------------------------------------
    // Counts one more failure at `now`. An empty log or reason keeps the one
    // recorded before, if any.
    void record_local_failure(const core::StorePath& drv, int64_t now, const std::string& log,
                              const std::string& reason);
    bool forget_local_failure(const core::HashBytes& drv);
    int64_t forget_all_local_failures();

    // --- snapshots (replica.cpp) ---------------------------------------
    // Applies the snapshot file (read_replica_info; several deltas merged
    // into one first with merge_replica) in one transaction: a base
    // replaces every row but the local failure records, a delta adds and
    // replaces rows; then `source` is recorded. before_commit runs inside
    // the transaction, just before the commit (tests stop there).
    void apply_replica(const std::string& file, const ReplicaSource& source,
                       const std::function<void()>& before_commit = {});
    // Records a pull that found nothing new (validators, time checked).
    void set_replica_source(const ReplicaSource& source);

private:
    friend class WriteTransaction;
    explicit IndexWriter(Database db);
    struct Statements;
    Statements& statements();
    Database& db() { return m_reader.m_db; }
    int64_t intern(const std::string& text);
    void load_names(); // into m_names, once
    // The parsed drv path of a build put_build would write, or why it would
    // refuse it (an id out of range, an invalid drvpath); check_build's
    // first half. Output paths are refused as put_build parses them.
    static Expected<core::StorePath> row_drv(const core::BuildRecord& build);
    // put_build's two halves: the `build` row (checked by row_drv), and one
    // output keyed by its hash's prefix.
    Expected<void> put_build_row(int64_t instance, const core::BuildRecord& build);
    void put_output(const core::HashBytes& hash, int64_t row_id, std::string_view name);
    int64_t instance_id(const std::string& url);
    JobsetState jobset_in(int64_t instance, const std::string& project, const std::string& name);
    int64_t jobset_row(int64_t instance, const std::string& project, const std::string& name);
    // Drops the caches of rows that a rolled-back transaction may have made
    // stale.
    void forget_caches();
    // The change sequence of the transaction in progress, taking the next
    // one at its first write; a write outside a transaction takes its own.
    // A sync from Hydra makes a pulled index its own: the pull state goes.
    int64_t change_seq();
    std::optional<int64_t> m_seq; // of the transaction in progress

    IndexReader m_reader; // owns the connection
    std::unique_ptr<Statements> m_stmts;
    NameTable m_names; // all of table name once loaded
    bool m_names_loaded = false;
    std::unordered_map<std::string, int64_t> m_jobset_ids; // "instance\tproject\tjobset"
};

// A write transaction of an IndexWriter (IndexWriter::transaction()). A
// transaction that ends without commit() is rolled back, and the writer
// forgets what it cached meanwhile.
class WriteTransaction {
public:
    ~WriteTransaction();
    WriteTransaction(WriteTransaction&&) noexcept = default;
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    WriteTransaction& operator=(WriteTransaction&&) = delete;
    void commit();

private:
    friend class IndexWriter;
    explicit WriteTransaction(IndexWriter& writer);
    IndexWriter* m_writer;
    Transaction m_txn;
};

} // namespace hs::index
