#pragma once

// The decisions of `history`, `bisect` and `evals`, apart from their input
// and output.

#include "cli/commands.hpp"
#include "core/status.hpp"
#include "core/units.hpp"
#include "index/index.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

// Whether a revision looks like a git commit: 40 (SHA-1) or 64 (SHA-256)
// lowercase hex digits.
bool is_git_revision(const std::string& revision);

// The input whose revisions history, bisect and evals follow: `requested`
// if given (a UsageError naming the inputs if no eval has it); else the
// input named like the project (nixpkgs:trunk -> "nixpkgs"); else the only
// input whose revisions are git commits. Several or none fit: a UsageError
// naming them ("... use --input NAME"). "" when the evals have no input.
std::string choose_input(const std::vector<index::EvalInfo>& evals, const std::string& project,
                         const std::optional<std::string>& requested);

// The revision of `input` in the eval, or "".
std::string input_revision(const index::EvalInfo& eval, const std::string& input);

// The jobset row to read among those named alike (one per Hydra instance):
// the one of `url`, else the only one. None: a UsageError naming the jobsets
// the index holds. Several, none of `url`: a UsageError naming their URLs.
index::JobsetState pick_jobset(const std::vector<index::JobsetState>& rows,
                               const core::JobsetName& name, const std::string& url,
                               const std::vector<std::string>& held);

// One line of `history`: an eval holding the job, and whether the job's
// status word differs from the one in the older eval before it.
struct HistoryRow {
    index::EvalInfo eval;
    index::BuildRow build;
    core::Status status;
    bool changed = false;
};

// The evals of a job's history that hold it, newest first, at most limit
// (0: all), each marked where its status changed.
std::vector<HistoryRow> history_rows(const std::vector<index::JobEval>& history, size_t limit);

// What bisect found, from a job's history (newest first).
struct BisectResult {
    enum class Kind {
        broke,           // good then bad: a range to bisect
        never_succeeded, // failing, and no eval in the index saw it succeed
        still_good,      // the newest verdict is a success
        no_verdict,      // no eval holds a finished, conclusive build of the job
    };
    Kind kind = Kind::no_verdict;
    std::optional<index::JobEval> good; // the last eval where the job succeeded
    std::optional<index::JobEval> bad;  // the first eval after it where it failed
    // The evals strictly between good and bad, newest first (they hold no
    // verdict on the job: not holding it, or a transient or queued build).
    std::vector<index::EvalInfo> between;
    std::optional<index::JobEval> newest; // the newest eval with a verdict
};

// A verdict is a success (class good) or a permanent failure; transient
// and queued builds, and evals without the job, are skipped.
BisectResult find_breakage(const std::vector<index::JobEval>& history);

// Whether history holds enough evals to decide (job_history's `enough`):
// a success after (older than) a failure, or a newest verdict of success.
bool breakage_decided(const std::vector<index::JobEval>& history);

// The exit code of bisect: 1 when the job fails (broke, never succeeded),
// 0 otherwise.
int bisect_exit_code(BisectResult::Kind kind);
const char* bisect_kind_name(BisectResult::Kind kind);

// The distinct revisions of `input` in the evals, in their order.
std::vector<std::string> distinct_revisions(const std::vector<index::EvalInfo>& evals,
                                            const std::string& input);

// evals --rev: the evals (newest first) built from the revision that `rev`
// (a full revision or a prefix of at least 7 hex digits) names, or the
// nearest ones before and after it.
struct RevisionMatch {
    std::string revision;                  // the full revision matched ("" if none)
    std::vector<index::EvalInfo> exact;    // the evals built from it
    std::optional<index::EvalInfo> before; // the newest eval of an ancestor
    std::optional<index::EvalInfo> after;  // the oldest eval of a descendant
};

// Is `ancestor` an ancestor of (or equal to) `descendant`? nullopt when
// this cannot be told (no git repository, an unknown commit).
using AncestryCheck =
    std::function<std::optional<bool>(const std::string& ancestor, const std::string& descendant)>;

// Checks that rev is 7 to 64 hex digits (a UsageError otherwise).
void check_revision_argument(const std::string& rev);

// The evals whose `input` revision rev names. A prefix that names two
// revisions is a UsageError naming them. When none matches, the evals
// around rev in commit order, asked of `ancestry` with a binary search over
// the evals (oldest to newest, along one branch); ancestry returning nullopt
// is an Error saying that a git checkout is needed.
RevisionMatch match_revision(const std::vector<index::EvalInfo>& evals, const std::string& input,
                             const std::string& rev, const AncestryCheck& ancestry);

// --jobset PROJECT:JOBSET, parsed (a UsageError when malformed).
std::optional<core::JobsetName> jobset_option(const Context& ctx);
// The jobset row of the index for name (pick_jobset; --url chooses).
index::JobsetState resolve_jobset(index::IndexReader& index, const Context& ctx,
                                  const core::JobsetName& name);
// The input to show: choose_input's when one fits, else "" (show every
// input); a requested input that no eval has is a UsageError.
std::string input_for_display(const std::vector<index::EvalInfo>& evals, const std::string& project,
                              const std::optional<std::string>& requested);

// The commands (cli.cpp's table).
void history_options(boost::program_options::options_description& desc);
int history_command(Context& ctx);
void bisect_options(boost::program_options::options_description& desc);
int bisect_command(Context& ctx);
void evals_options(boost::program_options::options_description& desc);
int evals_command(Context& ctx);

// Runs `git -C dir ARGS...` and returns its stdout, or nullopt when it
// fails (no git, not a repository, an unknown revision).
std::optional<std::string> run_git(const std::string& dir, const std::vector<std::string>& args);

} // namespace hs::cli
