#pragma once

#include "index/index.hpp"
#include "sync/http.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hs::sync {

struct SyncOptions {
    std::string url;                                          // Hydra base URL, no trailing slash
    std::vector<std::pair<std::string, std::string>> jobsets; // (project, jobset)
    int max_evals = 1;                 // newest evals ingested on a first sync
    int64_t recheck_interval = 86'400; // seconds between re-reads of the newest eval
    // An eval (or a re-check) whose builds to fetch number at most by_id_max,
    // and at most half the eval, is read with one GET /build/<id> each;
    // otherwise with one GET /eval/<id>/builds. One by-id request costs Hydra
    // about as much as one element of /eval/<id>/builds but adds a round
    // trip and the pacing interval, so by-id pays off only for few builds.
    size_t by_id_max = 100;
    int64_t now = 0; // unix seconds; 0 = the clock
};

// What the sync reports while it runs; the CLI prints it. Library code
// never prints.
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
    virtual void on_warning(const std::string& /*message*/) {}
};

struct JobsetOutcome {
    std::string jobset; // "project:jobset"
    bool ok = true;
    std::string error;   // when !ok
    size_t evals = 0;    // evals ingested
    uint64_t builds = 0; // build objects written (new or changed or re-checked)
    uint64_t rechecked = 0;
};

enum class StopReason { none, budget, signal };

struct SyncSummary {
    std::vector<JobsetOutcome> jobsets;
    StopReason stopped = StopReason::none;
    uint64_t requests = 0;
    uint64_t bytes = 0;
    bool all_ok() const;
};

// Syncs every jobset in options; one jobset's failure does not stop the
// others. Each eval is committed in one transaction together with the
// jobset's state. Throws hs::Error only for index failures (disk full, ...).
SyncSummary run_sync(index::Index& index, HttpClient& http, const SyncOptions& options,
                     SyncObserver& observer);

} // namespace hs::sync
