// In its own test binary (unit_cli_sync): sync_cmd.cpp is the real sync, and
// unit_cli links the other side of the seam (sync_seam.hpp).
#include "cli/sync_cmd.hpp"
#include "core/error.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace hs::cli {
namespace {

using std::chrono::milliseconds;
using Names = std::vector<core::JobsetName>;

TEST(JobsetsToSync, GivenJobsetsWinOverTheConfigOnesEachOnce) {
    EXPECT_EQ(jobsets_to_sync({"a:b", "c:d", "a:b"}, {{"x", "y"}}, "/cfg"),
              (Names{{"a", "b"}, {"c", "d"}}));
    EXPECT_EQ(jobsets_to_sync({}, {{"x", "y"}, {"x", "y"}, {"z", "w"}}, "/cfg"),
              (Names{{"x", "y"}, {"z", "w"}}));
}

TEST(JobsetsToSync, NoneIsAUsageErrorNamingTheConfigFile) {
    try {
        jobsets_to_sync({}, {}, "/home/me/.config/hydra-status/config");
        FAIL() << "no error";
    } catch (const UsageError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "no jobsets to sync: give --jobset PROJECT:JOBSET or set 'jobsets' in "
                  "/home/me/.config/hydra-status/config");
    }
}

TEST(JobsetsToSync, AnInvalidJobsetIsAUsageError) {
    try {
        jobsets_to_sync({"a:b", "nixpkgs"}, {}, "/cfg");
        FAIL() << "no error";
    } catch (const UsageError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "invalid jobset 'nixpkgs' (expected PROJECT:JOBSET of [A-Za-z0-9_.-])");
    }
}

TEST(SyncNow, UnsetIsTheRealClock) {
    EXPECT_EQ(sync_now(nullptr), 0);
}

TEST(SyncNow, UnixSecondsAreTheClock) {
    EXPECT_EQ(sync_now("1700000000"), 1'700'000'000);
    EXPECT_EQ(sync_now("1"), 1);
}

TEST(SyncNow, AnythingElseIsAUsageErrorNamingTheVariable) {
    for (const char* bad :
         {"", "0", "-5", "12s", " 12", "1.5", "tomorrow", "99999999999999999999999"}) {
        try {
            sync_now(bad);
            ADD_FAILURE() << "no error for '" << bad << "'";
        } catch (const UsageError& e) {
            EXPECT_EQ(e.code(), ExitCode::usage);
            EXPECT_EQ(std::string(e.what()), "HYDRA_STATUS_NOW: '" + std::string(bad) +
                                                 "' is not a time in unix seconds (a whole "
                                                 "number above 0)");
        }
    }
}

SettingValues settings() {
    SettingValues values;
    for (const auto& spec : setting_specs()) {
        (void)parse_setting(spec, spec.kind == SettingKind::path ? "/i" : spec.default_value,
                            values);
    }
    return values;
}

TEST(MakeSyncOptions, CarriesTheSettings) {
    auto values = settings();
    values.max_evals = 3;
    values.recheck_interval = milliseconds(7'200'500);
    values.by_id_max = 17;
    values.eval_builds_retry = milliseconds(3'600'900);
    values.max_requests = 1234;
    const auto options = make_sync_options(values, {{"a", "b"}});
    EXPECT_EQ(options.url, "https://hydra.nixos.org");
    EXPECT_EQ(options.jobsets, (std::vector<std::pair<std::string, std::string>>{{"a", "b"}}));
    EXPECT_EQ(options.max_evals, 3);
    EXPECT_EQ(options.recheck_interval, 7200); // whole seconds
    EXPECT_EQ(options.by_id_max, 17u);
    EXPECT_EQ(options.eval_builds_retry, 3600);
    EXPECT_EQ(options.max_requests, 1234u);
    EXPECT_EQ(options.now, 0); // the clock; HYDRA_STATUS_NOW is read apart (sync_now)
}

TEST(MakeHttpOptions, CapsRequestsAtTheBudgetPlusOneStep) {
    auto values = settings();
    values.max_requests = 50;
    values.max_tries = 2;
    const auto http = make_http_options(values, make_sync_options(values, {{"a", "b"}}));
    EXPECT_EQ(http.max_requests, sync::request_cap(50, 2));
}

TEST(IncompleteEvalText, SaysHowFarHowLongAndTheWayAroundWithin79Columns) {
    const std::string text =
        incomplete_eval_text("nixpkgs:trunk", 123, 12'000, 250'000, 238'000, milliseconds(1000));
    EXPECT_EQ(text, "nixpkgs:trunk: eval 123: 12,000 of 250,000 builds;\n"
                    "  about 3 days more at 1 request/s;\n"
                    "  a snapshot from a machine that has synced avoids this");
    for (size_t start = 0; start < text.size();) {
        const size_t end = std::min(text.find('\n', start), text.size());
        EXPECT_LE(end - start, 79U) << text.substr(start, end - start);
        start = end + 1;
    }
}

TEST(IncompleteEvalText, PicksTheUnitAndThePace) {
    EXPECT_EQ(incomplete_eval_text("p:j", 7, 200, 250, 50, milliseconds(1000)),
              "p:j: eval 7: 200 of 250 builds; about 1 minute more at 1 request/s;\n  a "
              "snapshot from a machine that has synced avoids this");
    EXPECT_NE(incomplete_eval_text("p:j", 7, 0, 20'000, 20'000, milliseconds(500))
                  .find("about 3 hours more at 2 requests/s"),
              std::string::npos);
    EXPECT_NE(incomplete_eval_text("p:j", 7, 0, 9000, 9000, milliseconds(2000))
                  .find("about 5 hours more at 0.5 requests/s"),
              std::string::npos);
    EXPECT_NE(
        incomplete_eval_text("p:j", 7, 0, 9000, 9000, milliseconds(0)).find("9000 requests more"),
        std::string::npos);
}

TEST(MakeHttpOptions, CarriesTheSettings) {
    auto values = settings();
    values.min_interval = milliseconds(250);
    values.max_tries = 4;
    values.max_body = 3 << 20;
    values.insecure = true;
    const auto http = make_http_options(values, make_sync_options(values, {{"a", "b"}}));
    EXPECT_EQ(http.min_interval, milliseconds(250));
    EXPECT_EQ(http.max_in_flight, 1);
    EXPECT_EQ(http.max_tries, 4);
    EXPECT_EQ(http.backoff_ceiling, milliseconds(300'000));
    EXPECT_EQ(http.backoff_base, milliseconds(1000));
    EXPECT_EQ(http.connect_timeout, std::chrono::seconds(30));
    EXPECT_EQ(http.total_timeout, std::chrono::seconds(900));
    EXPECT_EQ(http.max_body_bytes, uint64_t{3} << 20);
    EXPECT_TRUE(http.insecure);
    EXPECT_TRUE(http.user_agent.starts_with("hydra-status/")) << http.user_agent;
    EXPECT_TRUE(http.read_error_body);
}

TEST(MakeHttpOptions, TimeoutsAreWholeSecondsAtLeastOne) {
    auto values = settings();
    values.connect_timeout = milliseconds(0);
    values.timeout = milliseconds(2'900);
    values.backoff_ceiling = milliseconds(10);
    const auto http = make_http_options(values, make_sync_options(values, {{"a", "b"}}));
    EXPECT_EQ(http.connect_timeout, std::chrono::seconds(1));
    EXPECT_EQ(http.total_timeout, std::chrono::seconds(2));
    EXPECT_EQ(http.backoff_base, milliseconds(10)); // never above the ceiling
}

sync::JobsetOutcome outcome(bool ok, bool completed, size_t evals, uint64_t builds) {
    sync::JobsetOutcome out;
    out.ok = ok;
    out.completed = completed;
    out.evals = evals;
    out.builds = builds;
    return out;
}

TEST(SyncTotals, AddsUpTheJobsets) {
    sync::SyncSummary summary;
    summary.jobsets = {outcome(true, true, 2, 50), outcome(false, false, 1, 20)};
    summary.jobsets[1].failure = sync::Failure::blocked;
    summary.jobsets[0].rechecked = 5;
    const auto totals = sync_totals(summary, 3);
    EXPECT_EQ(totals.jobsets, 3u);
    EXPECT_EQ(totals.completed, 1u);
    EXPECT_EQ(totals.failed, 1u);
    EXPECT_EQ(totals.evals, 3u);
    EXPECT_EQ(totals.builds, 70u);
    EXPECT_EQ(totals.rechecked, 5u);
    EXPECT_TRUE(totals.blocked);
}

TEST(SyncSummaryLine, SaysWhatWasSynced) {
    sync::SyncSummary summary;
    summary.requests = 9;
    summary.bytes = 1536;
    SyncTotals totals{.jobsets = 3,
                      .completed = 2,
                      .failed = 1,
                      .evals = 4,
                      .builds = 1,
                      .rechecked = 0,
                      .blocked = false};
    EXPECT_EQ(sync_summary_line(totals, summary, 3.14),
              "synced 2 of 3 jobsets (1 failed): 4 evals, 1 build; 9 requests, 1.5 KiB in 3.1 s");
    totals.failed = 0;
    totals.rechecked = 7;
    summary.requests = 1;
    EXPECT_EQ(sync_summary_line(totals, summary, 0),
              "synced 2 of 3 jobsets: 4 evals, 1 build, 7 re-checked; 1 request, 1.5 KiB in 0.0 s");
}

// Settings from the command line alone.
Settings load(const std::map<std::string, std::string>& command_line) {
    ::setenv("HYDRA_STATUS_SYSTEM_CONFIG", "/dev/null", 1);
    return Settings::load(command_line, "/dev/null");
}

TEST(MaxInFlightWarning, TwoIsAcceptedAndSaidToBeSequential) {
    EXPECT_EQ(max_in_flight_warning(load({})), "");
    EXPECT_EQ(max_in_flight_warning(load({{"max-in-flight", "1"}})), "");
    EXPECT_EQ(max_in_flight_warning(load({{"max-in-flight", "2"}})),
              "max-in-flight = 2 (command line): requests are sent one at a time");
}

} // namespace
} // namespace hs::cli
