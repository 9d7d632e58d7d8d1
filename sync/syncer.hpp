#pragma once

#include "index/index.hpp"
#include "sync/http.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hs::sync {

struct SyncOptions {
    std::string url;                                          // Hydra base URL, no trailing slash
    std::vector<std::pair<std::string, std::string>> jobsets; // (project, jobset)
    int max_evals = 1;                 // newest evals ingested on a first sync
    int64_t recheck_interval = 86'400; // seconds between re-reads of the newest eval
    // The by-id threshold, see choose_method().
    size_t by_id_max = 100;
    // The per-run request budget, see budget_stops().
    uint64_t max_requests = 10'000;
    const std::atomic<bool>* stop = nullptr; // set by SIGINT/SIGTERM: stop before the next step
    int64_t now = 0;                         // unix seconds; 0 = the clock
};

// --- decisions, pure and unit-tested ------------------------------------

enum class FetchMethod { by_id, eval_builds };
std::string_view method_name(FetchMethod method); // "by-id", "eval-builds"

// How to read the builds of an eval with `members` member builds of which
// `to_fetch` are unknown to the index or unfinished there:
//   by-id:       one GET /build/<id> per build to fetch (the member ids come
//                with the evals listing, so nothing else is needed);
//   eval-builds: one GET /eval/<id>/builds for the whole eval.
// By-id is chosen when to_fetch <= by_id_max and to_fetch <= members / 2.
// Why: /eval/<id>/builds costs Hydra about as much per element as one
// /build/<id> (it runs the same per-build queries) and sends every member,
// so by-id costs Hydra and the network less as long as less than half the
// eval is fetched (one request's overhead counted as one more element). But
// each by-id request adds a round trip and the pacing interval (1 s by
// default), so by_id_max bounds how long an eval may take that way. Nothing
// to fetch is by-id with zero requests.
FetchMethod choose_method(size_t to_fetch, size_t members, size_t by_id_max);

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
RecheckPlan plan_recheck(const std::vector<int64_t>& pending, const std::vector<EvalCover>& evals,
                         std::optional<int64_t> due_eval, size_t by_id_max);

// The request budget: a run stops before a step (an eval, or a step of the
// re-check: one eval read whole or one batch of by_id_max builds by id) once
// `requests` reached `budget` -- but only after at least one step was done,
// so that every run makes progress and the next run continues where this
// one stopped. Listings of jobsets with nothing new are no steps; they cost
// one request each even when the budget is spent before any step.
bool budget_stops(uint64_t requests, uint64_t budget, uint64_t steps_done);

// What the HTTP client may send in all (its hard cap, a safety net): the
// budget, plus what the step in progress may still need (by_id_max builds
// of max_tries tries), plus room for the listings.
uint64_t request_cap(uint64_t budget, size_t by_id_max, int max_tries);

// A "next" value of the evals listing that may be followed: "?page=<digits>".
bool is_page_query(std::string_view next);

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
};

struct JobsetOutcome {
    std::string jobset; // "project:jobset"
    bool ok = true;
    bool completed = false;          // every new eval and the re-check done; synced_at set
    bool not_modified = false;       // the evals listing answered 304
    Failure failure = Failure::none; // of the failed request when !ok (none: refused data)
    std::string error;               // when !ok: names the URL and what was wrong
    size_t evals = 0;                // evals ingested
    uint64_t builds = 0;             // build objects written for new evals
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

// Syncs every jobset in options; one jobset's failure does not stop the
// others. Each eval is committed in one transaction together with the
// jobset's state, and so is each re-check step; a failure or a stop rolls
// back the step in progress and nothing else. Throws hs::Error only for
// index failures (disk full, ...).
SyncSummary run_sync(index::Index& index, HttpClient& http, const SyncOptions& options,
                     SyncObserver& observer);

} // namespace hs::sync
