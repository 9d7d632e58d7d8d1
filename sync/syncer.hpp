#pragma once

#include "index/index.hpp"
#include "sync/array_splitter.hpp"
#include "sync/evals_html.hpp"
#include "sync/http.hpp"
#include "sync/hydra_json.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace hs::sync {

struct SyncOptions {
    std::string url;                                          // Hydra base URL, no trailing slash
    std::vector<std::pair<std::string, std::string>> jobsets; // (project, jobset)
    int max_evals = 1;                 // newest evals ingested on a first sync
    int64_t recheck_interval = 86'400; // seconds between re-reads of the newest eval
    // The time bound on by-id, see choose_method().
    size_t by_id_max = 10'000;
    // How long a failure of /eval/<id>/builds (504, timeout, reset) keeps
    // evals at least as large read by id, see eval_builds_usable().
    int64_t eval_builds_retry = 604'800; // 7 days
    // The per-run request budget, see budget_stops().
    uint64_t max_requests = 10'000;
    const std::atomic<bool>* stop = nullptr; // set by SIGINT/SIGTERM: stop before the next step
    int64_t now = 0;                         // unix seconds; 0 = the clock
};

// --- decisions, pure and unit-tested ------------------------------------

enum class FetchMethod { by_id, eval_builds };
std::string_view method_name(FetchMethod method); // "by-id", "eval-builds"

// The cost model: how to read the builds of an eval with `members` member
// builds of which `to_fetch` are unknown to the index or unfinished there.
//   by-id:       one GET /build/<id> per build to fetch (the member ids come
//                with the eval, so nothing else is needed);
//   eval-builds: one GET /eval/<id>/builds for the whole eval.
// Costs are compared in this order, each deciding unless equal:
//   1. Hydra's work, in build objects it assembles: a build object is the
//      same per-build queries whichever URL asks for it, and a request
//      costs it about k_request_overhead_objects more (Catalyst dispatch,
//      session, the jobset and eval rows). by-id: to_fetch * (1 + c_req);
//      eval-builds: members + c_req. With c_req = 1, by-id while less than
//      about half the eval is fetched; at nixpkgs:trunk's scale a new eval
//      (5,000 new of 250,000) costs Hydra 10,000 objects by id, 250,001
//      whole (and the whole answer is the one hydra.nixos.org's proxy gives
//      up on, hydra-api.md §10).
//   2. Bytes on the wire: by-id to_fetch * (k_build_object_bytes +
//      k_request_bytes), eval-builds members * k_build_object_bytes +
//      k_request_bytes.
//   3. Time: requests, each paced by min-interval (1 s by default).
// A tie (one build of a one-build eval) is eval-builds, one request either
// way. Nothing to fetch is by-id with zero requests. Two bounds come on top:
//   - eval-builds only when eval_builds_usable (it did not fail for this
//     jobset lately on an eval as large); else by-id whatever the rest says;
//   - by-id only for to_fetch <= by_id_max (default 10,000: about 3 hours
//     at 1 request/s, one run's default request budget), a bound on time:
//     past it an eval that /eval/<id>/builds can serve is read whole, as a
//     mass rebuild (most of the eval new) would be by the cost anyway.
inline constexpr double k_request_overhead_objects = 1.0; // c_req
inline constexpr double k_build_object_bytes = 890;       // bench/README.md: 223 MB / 250,000
inline constexpr double k_request_bytes = 600;            // request and answer headers

struct FetchCost {
    double hydra_objects = 0;
    double bytes = 0;
    double requests = 0;
    // Lexicographic: Hydra's work, then bytes, then time.
    bool operator<(const FetchCost& other) const {
        return std::tie(hydra_objects, bytes, requests) <
               std::tie(other.hydra_objects, other.bytes, other.requests);
    }
};
FetchCost fetch_cost(FetchMethod method, size_t to_fetch, size_t members);

FetchMethod choose_method(size_t to_fetch, size_t members, size_t by_id_max,
                          bool eval_builds_usable = true);

// Whether /eval/<id>/builds may be asked for an eval of `members` builds:
// not when it failed (504, timeout, reset) for this jobset less than
// `retry` seconds before `now` on an eval at least as large (a smaller one
// may try).
bool eval_builds_usable(const index::JobsetState& state, size_t members, int64_t now,
                        int64_t retry);

// An ingested eval as the re-check planner sees it.
struct EvalCover {
    int64_t eval_id = 0;
    size_t members = 0;           // member builds in all
    std::vector<int64_t> pending; // its members among the builds to re-check
};

struct RecheckPlan {
    std::vector<int64_t> whole_evals; // read with GET /eval/<id>/builds, in this order
    std::vector<int64_t> by_id;       // the rest, one GET /build/<id> each, sorted
};

// Plans the re-check of `pending` builds (unfinished in the index) with the
// fewest requests: the eval `due_eval` (the newest, re-read once per
// recheck-interval to see restarts) is read whole if given; then, greedily,
// the eval covering the most still-pending builds is read whole while
// choose_method() prefers eval-builds for what it covers; the rest by id.
//
// What the re-check reads, and when (JobsetSync::recheck in syncer.cpp):
// - Nothing at all when the evals listing read as HTML (evals_html.hpp) has
//   the digest of the last complete run and the newest eval is not due: the
//   counts of succeeded, failed and queued builds of the 20 newest evals
//   did not move, so no build of theirs finished or was restarted. That
//   keeps a sync with nothing new at 1 request of ~12 KB per jobset (the
//   contract: at most 2 and 128 KB); pending builds of older evals wait for
//   the next change or the recheck-interval.
// - Otherwise, which pending builds finished is asked of Hydra first with
//   GET /api/latestbuilds when plan_latest() says so, and only those that
//   it lists (or cannot cover) are planned here.
// - Restarts (finished -> unfinished): the newest eval, once per
//   recheck-interval, is read whole only when choose_method() would read it
//   whole (members to fetch = members). Otherwise (a large eval, or
//   /eval/<id>/builds failing for the jobset) its members the index has as
//   failed are read by id -- and only when the HTML listing shows fewer
//   failed builds for it than the index has (a restarted failure is the one
//   that matters: a stale "failed" blocks a good build at the gate), or
//   when the listing could not be read. At nixpkgs:trunk (250,000 members,
//   ~2-4% failed: 5,000-10,000 builds) that is 0 requests on a day without
//   a restarted failure instead of one 225 MB read that times out, and on a
//   day with one, 5,000-10,000 short requests once per interval (the budget
//   spreads them over runs) instead of a read that never completes.
RecheckPlan plan_recheck(const std::vector<int64_t>& pending, const std::vector<EvalCover>& evals,
                         std::optional<int64_t> due_eval, size_t by_id_max);

// Whether the re-check asks GET /api/latestbuilds?nr=<newer>&project=&jobset=
// which of `pending` unfinished builds finished, given `newer`: the
// jobset's builds in the index with an id at or above the smallest pending
// one. Hydra lists finished builds newest id first, so `newer` entries
// cover every pending build (an answer that holds fewer, or an older id,
// covered them all; pending builds below a full answer's oldest id go by
// id). Cost to Hydra in build objects, as choose_method() counts it (a
// request's overhead c_req = 1 object):
//   by id:        pending * (1 + c_req)
//   latestbuilds: newer * s + c_req, plus the finished ones by id (read
//                 either way, so left out of the comparison)
// with s = 1/4: a short object is one row of the builds table (Hydra's
// buildToHash) where a full one also joins outputs, products and metrics,
// and ~180 bytes against ~800 (probe-api-latestbuilds.http, build-*.json).
// So latestbuilds when newer * s + c_req < pending * (1 + c_req), i.e.
// newer < 8 * pending - 4, and newer <= k_latest_max (50,000: ~9 MB, one
// query). At nixpkgs:trunk after a new eval: ~5,000 pending, newer 5,000 to
// 30,000: one request of 0.9-5.4 MB instead of 5,000 (83 minutes at 1
// request/s). Two pending builds among three newer ones (the small fake):
// 1 request instead of 2.
inline constexpr uint64_t k_latest_max = 50'000;
bool use_latest_builds(size_t pending, uint64_t newer);

// What a latestbuilds answer says about pending builds (sorted): the ids
// that finished (listed), and those it cannot tell (below the oldest id of
// an answer that was full, `nr` entries); the rest are still unfinished.
struct LatestVerdict {
    std::vector<int64_t> finished;  // re-read by id
    std::vector<int64_t> uncovered; // re-checked as without latestbuilds
};
LatestVerdict judge_latest(const std::vector<int64_t>& pending,
                           const std::vector<LatestBuild>& answer, uint64_t nr);

// Builds read by id per step: per short write transaction and per check of
// the budget, for the builds of a new eval and for the re-check. 100 builds
// take 100 s at 1 request/s; a commit per 100 builds costs little beside.
inline constexpr size_t k_by_id_batch = 100;

// The request budget: a run stops before a step (an eval, a batch of
// k_by_id_batch builds of an eval read by id, or a step of the re-check:
// one eval read whole or one batch of k_by_id_batch builds by id) once
// `requests` reached `budget` -- but only after at least one step was done,
// so that every run makes progress and the next run continues where this
// one stopped. Listings of jobsets with nothing new are no steps; they cost
// one request each even when the budget is spent before any step.
bool budget_stops(uint64_t requests, uint64_t budget, uint64_t steps_done);

// What the HTTP client may send in all (its hard cap, a safety net): the
// budget, plus what the step in progress may still need (k_by_id_batch
// builds of max_tries tries), plus room for the listings.
uint64_t request_cap(uint64_t budget, int max_tries);

// A "next" value of the evals listing that may be followed: "?page=<digits>".
bool is_page_query(std::string_view next);

// --- staging ------------------------------------------------------------

// How much a sync stages in memory before it writes it, at most. Each
// write is one short transaction, and a `record` waits for at most one. A
// commit costs more than its rows: it writes every page its builds touch
// in the two indexes keyed by random hashes (drv, output), at 250,000
// builds most of them (15-20 MB), so fewer, larger batches cost less; but
// a larger batch holds the lock longer. First sync of a 250,000-build eval
// from bench/static_hydra.py on 2 busy cores (CPU s; longest `record` run
// in a loop meanwhile): one transaction 4.3 (4-6 s); batches of 4,096
// builds 8.5; 8,192 6.4-8.6 (0.35-0.45 s); 16,384 5.5-7.6 (0.47-0.68 s).
// 8,192 builds of records take about 5 MB.
struct BatchLimits {
    size_t builds = 8'192;
    size_t bytes = 32 << 20; // of JSON elements: bounds memory whatever their size
};

// The sink of a streamed array of builds (GET /eval/<id>/builds). Each
// element is parsed and checked (index::IndexWriter::check_build) as it arrives
// and staged; when the batch is full (BatchLimits), and once at the end of
// the answer, the staged batch goes to `write_batch`, which writes it in
// one short transaction, or says why it could not.
// So no write transaction is ever open while the answer is awaited, and
// memory is bounded by the batch, whatever the answer's size.
//
// Two threads: the batch goes to `write_batch` on a thread of the stager's
// own while the next one is received and parsed on the caller's, so that
// a sync uses two cores (bench/ANALYSIS.md §1). At most one batch is being
// written and one staged: memory stays bounded by two batches. Whoever
// calls write() must leave the index to `write_batch` until settle().
//
// Builds are facts independent of evals: a batch may be written before the
// request fails, and a retried request (reset()) writes its builds again.
// The eval that names them is committed by the caller, after every build
// is in. A bad element stops the transfer; so does a refused batch, at the
// latest one batch later (or at finish()); error() names the elements.
class BuildStager : public BodySink {
public:
    using WriteBatch = std::function<Expected<void>(std::span<const core::BuildRecord>)>;
    using OnBuild = std::function<void(uint64_t builds)>; // after each build staged

    BuildStager(JsonParser& parser, BatchLimits limits, WriteBatch write_batch,
                OnBuild on_build = {});
    BuildStager(const BuildStager&) = delete; // the splitter calls back into this object
    BuildStager& operator=(const BuildStager&) = delete;
    ~BuildStager() override; // waits for the batch being written

    void reset() override;
    bool write(std::string_view chunk) override;
    // Checks that the answer was one complete array, then writes the rest;
    // returns when every batch is written.
    bool finish() override;
    std::string error() const override { return m_error; }
    // Waits until no batch is being written (after a failed transfer, which
    // does not finish()): then the index is the caller's again. False if
    // that batch was refused.
    bool settle();

    // Room for the ids of `members` builds, taken at once rather than
    // doubled as they come (old and new at once: 24 MB at 1,000,000).
    void expect(size_t members) { m_ids.reserve(members); }
    uint64_t builds() const { return m_builds; }   // elements of this try
    uint64_t batches() const { return m_batches; } // batches written by this try
    // The ids of the builds of this try, sorted, without repeats; once.
    std::vector<int64_t> take_ids();

private:
    class Writer;

    bool on_element(std::string_view element);
    bool flush();

    JsonParser& m_parser;
    BatchLimits m_limits;
    WriteBatch m_write_batch;
    OnBuild m_on_build;
    ArraySplitter m_splitter;
    // The first m_staged_count are staged; records are reused from batch
    // to batch (their strings keep their capacity).
    std::vector<core::BuildRecord> m_staged;
    size_t m_staged_count = 0;
    size_t m_staged_bytes = 0;
    // The batch handed to m_writer: its records, how many, the number of
    // its last element, and what write_batch said.
    std::vector<core::BuildRecord> m_writing;
    size_t m_writing_count = 0;
    uint64_t m_writing_last = 0;
    Expected<void> m_written;
    std::string m_error;
    uint64_t m_builds = 0;
    uint64_t m_batches = 0;
    std::vector<int64_t> m_ids;       // in document order until take_ids()
    std::unique_ptr<Writer> m_writer; // last: destroyed (joined) first
};

// --- running ------------------------------------------------------------

// What the sync reports while it runs; the CLI prints it. Library code
// never prints.
struct JobsetOutcome;

class SyncObserver {
public:
    virtual ~SyncObserver() = default;
    virtual void on_jobset_start(const std::string& /*jobset*/, size_t /*new_evals*/) {}
    // Called for every build ingested (stream) and after each request.
    virtual void on_progress(const std::string& /*jobset*/, size_t /*eval_index*/,
                             size_t /*eval_count*/, uint64_t /*builds*/, uint64_t /*bytes*/,
                             uint64_t /*requests*/) {}
    virtual void on_eval_done(const std::string& /*jobset*/, int64_t /*eval_id*/,
                              uint64_t /*builds*/, const std::string& /*method*/) {}
    // After a jobset, whatever the outcome.
    virtual void on_jobset_done(const JobsetOutcome& /*outcome*/) {}
    virtual void on_warning(const std::string& /*message*/) {}
    // An eval read by id that the request budget stopped before all its
    // builds were in: `have` of its `members` are in the index, `remaining`
    // still to fetch (one request each). The next run continues.
    virtual void on_eval_incomplete(const std::string& /*jobset*/, int64_t /*eval_id*/,
                                    uint64_t /*have*/, uint64_t /*members*/,
                                    uint64_t /*remaining*/) {}
};

struct JobsetOutcome {
    std::string jobset; // "project:jobset"
    bool ok = true;
    bool completed = false;          // every new eval and the re-check done; synced_at set
    bool not_modified = false;       // the evals listing answered 304
    Failure failure = Failure::none; // of the failed request when !ok (none: refused data)
    std::string error;               // when !ok: names the URL and what was wrong
    size_t evals = 0;                // evals ingested
    uint64_t builds = 0;             // build objects written for new evals (complete or not)
    uint64_t rechecked = 0;          // build objects re-read
    uint64_t requests = 0;           // requests sent for this jobset, retries included
    uint64_t bytes = 0;              // body bytes received for this jobset
};

enum class StopReason { none, budget, signal };

struct SyncSummary {
    std::vector<JobsetOutcome> jobsets; // in order; a stop leaves later ones out
    StopReason stopped = StopReason::none;
    uint64_t requests = 0;
    uint64_t bytes = 0;
    bool all_ok() const;
};

// Where a sync reads Hydra's answers: the seam between the sync's
// decisions (JobsetSync, in syncer.cpp) and the network. In production an
// HttpClient (HttpSource); in the unit tests a fake with canned answers.
// Each call is one request (retries included) whose body goes to `sink` as
// HttpClient::get_json sends it: reset() before each try, write() as it
// arrives, finish() once after a complete 2xx answer.
class HydraSource {
public:
    virtual ~HydraSource() = default;
    // GET <url>/jobset/<project>/<jobset>/evals<query> with Accept:
    // text/html: Hydra's web page of the listing (evals_html.hpp); query ""
    // or "?page=<n>".
    virtual FetchResult evals_html_page(const std::string& project, const std::string& jobset,
                                        const std::string& query, BodySink& sink) = 0;
    // GET <url>/eval/<id>: one eval with its member ids.
    virtual FetchResult eval(int64_t eval_id, BodySink& sink) = 0;
    // GET <url>/api/latestbuilds?nr=<nr>&project=<project>&jobset=<jobset>
    virtual FetchResult latest_builds(const std::string& project, const std::string& jobset,
                                      uint64_t nr, BodySink& sink) = 0;
    // GET <url>/jobset/<project>/<jobset>/evals<query> (query: "" or a
    // "?page=<n>" that is_page_query() accepted).
    virtual FetchResult evals_page(const std::string& project, const std::string& jobset,
                                   const std::string& query, BodySink& sink,
                                   const Validators& conditional) = 0;
    // GET <url>/eval/<id>/builds, never tried again after a 504, a timeout
    // or a reset (Retries::unless_server_gave_up): the sync reads the eval
    // by id instead.
    virtual FetchResult eval_builds(int64_t eval_id, BodySink& sink) = 0;
    // GET <url>/build/<id>
    virtual FetchResult build(int64_t build_id, BodySink& sink) = 0;
    virtual uint64_t requests() const = 0; // sent in all, retries included
    virtual uint64_t bytes() const = 0;    // body bytes received in all
    virtual bool budget_spent() const = 0; // no request will be sent any more
};

// The URLs a sync asks for, under a Hydra base URL (no trailing slash).
std::string evals_url(const std::string& base, const std::string& project,
                      const std::string& jobset);
std::string eval_url(const std::string& base, int64_t eval_id);
std::string eval_builds_url(const std::string& base, int64_t eval_id);
std::string latest_builds_url(const std::string& base, const std::string& project,
                              const std::string& jobset, uint64_t nr);
std::string build_url(const std::string& base, int64_t build_id);

// The production source: the HttpClient's requests under a base URL.
class HttpSource : public HydraSource {
public:
    HttpSource(HttpClient& http, std::string base_url)
        : m_http(http), m_base(std::move(base_url)) {}
    FetchResult evals_page(const std::string& project, const std::string& jobset,
                           const std::string& query, BodySink& sink,
                           const Validators& conditional) override;
    FetchResult eval_builds(int64_t eval_id, BodySink& sink) override;
    FetchResult build(int64_t build_id, BodySink& sink) override;
    FetchResult evals_html_page(const std::string& project, const std::string& jobset,
                                const std::string& query, BodySink& sink) override;
    FetchResult eval(int64_t eval_id, BodySink& sink) override;
    FetchResult latest_builds(const std::string& project, const std::string& jobset, uint64_t nr,
                              BodySink& sink) override;
    uint64_t requests() const override { return m_http.requests(); }
    uint64_t bytes() const override { return m_http.bytes(); }
    bool budget_spent() const override { return m_http.budget_spent(); }

private:
    HttpClient& m_http;
    std::string m_base;
};

// Syncs every jobset in options; one jobset's failure does not stop the
// others. No write transaction ever waits on the network: answers are
// fetched (by id) or staged (BuildStager) first, then written in short
// transactions, so `record`, `forget` and lookups never wait for a sync
// for long. Builds may be written before their eval; an eval's membership
// is committed in one transaction together with the jobset's state, after
// every build it names is in the index (a committed eval never names a
// build the index lacks). A failure or a stop leaves the eval in progress
// uncommitted and every earlier one complete. Throws hs::Error only for
// index failures (disk full, ...).
SyncSummary run_sync(index::IndexWriter& index, HttpClient& http, const SyncOptions& options,
                     SyncObserver& observer);
// The same with any source (options.url still names the instance in the
// index and in messages).
SyncSummary run_sync(index::IndexWriter& index, HydraSource& source, const SyncOptions& options,
                     SyncObserver& observer);

} // namespace hs::sync
