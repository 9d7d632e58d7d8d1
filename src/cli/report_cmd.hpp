#pragma once

// The decisions of `report` (an eval against an earlier one), apart from
// its input and output, and its three outputs: text, JSON Lines and one
// self-contained HTML page (report_html.cpp).

#include "cli/commands.hpp"
#include "core/status.hpp"
#include "index/index.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

// How a job changed from the eval compared against to the eval reported.
// Failing means a permanent failure (spec/cli.md's class); a job whose
// build is transient or queued in either eval is neither newly failing nor
// newly fixed.
enum class Change {
    newly_failing, // failing now, not failing before
    newly_fixed,   // failing before, succeeded now
    still_failing, // failing in both
    new_job,       // only in the eval reported
    removed_job,   // only in the eval compared against
};
inline constexpr size_t k_change_count = 5;

// "newly-failing", "newly-fixed", "still-failing", "new-job", "removed-job".
const char* change_name(Change change);
// "Newly failing", ...: headings.
const char* change_title(Change change);

// A job's build in one of the two evals.
struct ReportBuild {
    int64_t build_id = 0;
    core::Status status;
    std::string drv_basename;
};

struct ReportRow {
    Change change = Change::newly_failing;
    std::string job;
    std::string system;
    std::optional<ReportBuild> now;    // in the eval reported
    std::optional<ReportBuild> before; // in the eval compared against
};

using ChangeCounts = std::array<size_t, k_change_count>;

struct Report {
    std::string url; // the Hydra instance, for links
    std::string jobset;
    index::EvalInfo eval;
    index::EvalInfo against;
    std::string input;           // shown with each eval ("" : every input)
    std::vector<ReportRow> rows; // by change, then system, then job
    std::map<std::string, ChangeCounts> by_system;
    ChangeCounts totals{};
};

// Compares the two evals job by job (names: the index's name table).
Report compare_evals(const index::EvalContents& eval, const index::EvalContents& against,
                     const std::vector<std::string>& names);

// The evals to compare: --eval (default the newest) and --against (default
// the one before it), among the jobset's evals (newest first). A UsageError
// names an eval the jobset does not hold, or says there is none before.
std::pair<int64_t, int64_t> pick_evals(const std::vector<index::EvalInfo>& evals,
                                       const std::optional<int64_t>& eval,
                                       const std::optional<int64_t>& against,
                                       const std::string& jobset);

// 1 when a job is newly failing (a regression was found), else 0.
int report_exit_code(const Report& report);

std::string report_text(const Report& report, size_t width);
std::string report_json(const Report& report);
// One HTML page: inline CSS and JS, no external asset, every text escaped.
std::string report_html(const Report& report);

// Escapes text for HTML text and attribute values (& < > " ').
std::string html_escape(std::string_view text);

void report_options(boost::program_options::options_description& desc);
int report_command(Context& ctx);

} // namespace hs::cli
