#pragma once

// The decisions of the real `sync` command (hydra-status-sync only: this
// header brings in hs_sync), apart from running it.

#include "cli/settings.hpp"
#include "sync/http.hpp"
#include "sync/syncer.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace hs::cli {

// The jobsets to sync: those given as --jobset, else the config key
// `jobsets`, each once, in order. Throws UsageError for a --jobset that is
// not PROJECT:JOBSET, and when there is none (naming the config file).
std::vector<core::JobsetName> jobsets_to_sync(const std::vector<std::string>& given,
                                              const std::vector<core::JobsetName>& configured,
                                              const std::string& config_path);

// What the syncer and the HTTP client get from the settings.
sync::SyncOptions make_sync_options(const SettingValues& settings,
                                    const std::vector<core::JobsetName>& jobsets);
sync::HttpOptions make_http_options(const SettingValues& settings,
                                    const sync::SyncOptions& sync_options);

// The sync's clock from the hidden environment variable HYDRA_STATUS_NOW
// (unix seconds), for tests and bench/day: `value` is its text, nullptr
// when it is unset, which gives 0 (the syncer then reads the real clock).
// Throws UsageError (exit 2) naming the variable for anything but a whole
// number of seconds above 0.
int64_t sync_now(const char* value);

// The one-line warning for max-in-flight = 2 (the client sends one request
// at a time), or "" for 1.
std::string max_in_flight_warning(const Settings& settings);

// The run's totals over its jobsets.
struct SyncTotals {
    size_t jobsets = 0; // asked for
    size_t completed = 0;
    size_t failed = 0;
    size_t evals = 0;
    uint64_t builds = 0;
    uint64_t rechecked = 0;
    bool blocked = false; // a bot filter answered HTML
};
SyncTotals sync_totals(const sync::SyncSummary& summary, size_t jobsets);

// "synced 2 of 3 jobsets (1 failed): 4 evals, 70 builds; 9 requests, 1.2 MiB
// in 3.1 s".
std::string sync_summary_line(const SyncTotals& totals, const sync::SyncSummary& summary,
                              double seconds);

// What a run says of an eval that the request budget stopped while it was
// read by id (SyncObserver::on_eval_incomplete): how far it got, how long
// the rest takes at the pace of min-interval, and the way around it, in
// lines of at most 79 columns where it can (later lines indented by two),
// without a final newline: "p:j: eval 7: 200 of 250 builds; about 1 minute
// more at 1 request/s;\n  a snapshot from a machine that has synced avoids
// this".
std::string incomplete_eval_text(const std::string& jobset, int64_t eval_id, uint64_t have,
                                 uint64_t members, uint64_t remaining,
                                 std::chrono::milliseconds min_interval);

} // namespace hs::cli
