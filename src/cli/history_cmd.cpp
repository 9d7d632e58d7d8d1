// `history`, `bisect` and `evals`: a job eval by eval, where it broke, and
// which evals a revision went into. Offline: they read the index only (and
// git, for the order of commits that no eval was built from).

#include "cli/history_cmd.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/file.hpp"
#include "core/store_path.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>

extern char** environ; // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace hs::cli {

namespace {

constexpr size_t k_default_limit = 30;
constexpr size_t k_short_revision = 12;

bool is_hex(const std::string& text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string short_revision(const std::string& revision) {
    return is_git_revision(revision) ? revision.substr(0, k_short_revision) : revision;
}

// For a message only: IndexReader::jobsets counts every jobset's builds.
std::vector<std::string> held_jobsets(index::IndexReader& index) {
    std::vector<std::string> held;
    for (const auto& info : index.jobsets()) {
        held.push_back(info.state.project + ":" + info.state.name);
    }
    return held;
}

std::string eval_date(const index::EvalInfo& eval) {
    return utc_time(eval.timestamp, "%Y-%m-%d %H:%M");
}

std::string build_url(const index::BuildRow& row) {
    return row.hydra_url + "/build/" + std::to_string(row.build_id);
}

std::string join(const std::vector<std::string>& items, const char* separator) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : separator) + item;
    }
    return out;
}

void append_eval_json(std::string& out, const index::EvalInfo& eval, const std::string& input) {
    out += "{\"eval_id\":" + std::to_string(eval.eval_id) +
           ",\"timestamp\":" + std::to_string(eval.timestamp) + ",\"revision\":";
    const auto revision = input_revision(eval, input);
    if (revision.empty()) {
        out += "null";
    } else {
        append_json_string(out, revision);
    }
    out += ",\"inputs\":";
    append_inputs_json(out, eval);
    out += "}";
}

void append_build_json(std::string& out, const index::BuildRow& row) {
    const auto status = hydra_status(row);
    out += "{\"build_id\":" + std::to_string(row.build_id) + ",\"status\":";
    append_json_string(out, status.word);
    out += ",\"class\":";
    append_json_string(out, core::class_name(status.cls));
    out += ",\"buildstatus\":" +
           (row.finished && row.buildstatus ? std::to_string(*row.buildstatus) : "null");
    out += ",\"drv_path\":";
    append_json_string(out, row.drv_path());
    out += ",\"system\":";
    append_json_string(out, row.system);
    out += ",\"build_url\":";
    append_json_string(out, build_url(row));
    out += ",\"log_url\":";
    append_json_string(out, build_url(row) + "/log");
    out += ",\"raw_log_url\":";
    append_json_string(out, row.hydra_url + "/log/" + row.drv_basename());
    out += "}";
}

// What history and bisect were asked about: the jobset and the job.
struct JobTarget {
    index::JobsetState jobset;
    std::string job;
};

std::optional<std::string> string_option(const Context& ctx, const char* name) {
    if (!ctx.options.count(name)) {
        return std::nullopt;
    }
    return ctx.options[name].as<std::string>();
}

size_t limit_option(const Context& ctx) {
    const auto text = string_option(ctx, "limit");
    if (!text) {
        return k_default_limit;
    }
    const auto limit = core::parse_count(*text, 0, 1'000'000);
    if (!limit) {
        throw UsageError("--limit: " + limit.error());
    }
    return static_cast<size_t>(*limit);
}

void require_synced(index::IndexReader& index) {
    if (!index.ever_synced()) {
        throw Error(index.path() + ": the index was never synced (run 'hydra-status sync' first)",
                    ExitCode::no_index);
    }
}

// --job NAME --jobset P:J, or KEY (and --jobset to choose among the
// jobsets that built it).
JobTarget job_target(index::IndexReader& index, const Context& ctx, bool key_allowed) {
    const auto job = string_option(ctx, "job");
    const auto jobset = jobset_option(ctx);
    if (job && !ctx.args.empty()) {
        throw UsageError("give a KEY or --job NAME, not both");
    }
    if (ctx.args.size() > 1) {
        throw UsageError("one KEY at a time, got " + std::to_string(ctx.args.size()));
    }
    if (job) {
        if (!jobset) {
            throw UsageError("--job needs --jobset PROJECT:JOBSET");
        }
        return {resolve_jobset(index, ctx, *jobset), *job};
    }
    if (!key_allowed || ctx.args.empty()) {
        throw UsageError(key_allowed ? "give a KEY or --job NAME --jobset PROJECT:JOBSET"
                                     : "--job NAME and --jobset PROJECT:JOBSET are required");
    }
    std::string why;
    const auto key = core::parse_key(ctx.args.front(), &why);
    if (!key) {
        throw UsageError("malformed key " + quote(ctx.args.front()) + ": " + why);
    }
    require_synced(index);
    const auto rows = index.builds_for_key(*key);
    for (const auto& row : rows) {
        if (!jobset || (row.project == jobset->project && row.jobset == jobset->jobset)) {
            const core::JobsetName name{row.project, row.jobset};
            auto rows_named = index.jobsets_named(row.project, row.jobset);
            std::erase_if(rows_named, [&](const auto& s) { return s.url != row.hydra_url; });
            return {pick_jobset(rows_named, name, row.hydra_url, {}), row.job};
        }
    }
    throw Error(quote(ctx.args.front()) + " is unknown to the index" +
                    (jobset ? " in jobset " + quote(jobset->text()) : std::string()),
                ExitCode::unknown);
}

std::vector<index::JobEval>
read_history(index::IndexReader& index, const JobTarget& target,
             const std::function<bool(const std::vector<index::JobEval>&)>& enough = {}) {
    auto history = index.job_history(target.jobset, target.job, enough);
    if (history.empty()) {
        require_synced(index);
        throw UsageError("no build of job " + quote(target.job) + " in jobset " +
                         quote(target.jobset.project + ":" + target.jobset.name));
    }
    return history;
}

std::vector<index::EvalInfo> evals_of(const std::vector<index::JobEval>& history) {
    std::vector<index::EvalInfo> evals;
    evals.reserve(history.size());
    for (const auto& entry : history) {
        evals.push_back(entry.eval);
    }
    return evals;
}

std::string revisions_text(const index::EvalInfo& eval, const std::string& input) {
    if (!input.empty()) {
        const auto revision = input_revision(eval, input);
        return revision.empty() ? "-" : short_revision(revision);
    }
    std::vector<std::string> parts;
    for (const auto& [name, revision] : eval.inputs) {
        parts.push_back(name + "=" + short_revision(revision));
    }
    return parts.empty() ? "-" : join(parts, " ");
}

std::string history_human(const JobTarget& target, const std::vector<HistoryRow>& rows,
                          const std::string& input) {
    std::string out = target.job + " in " + target.jobset.project + ":" + target.jobset.name +
                      " (" + target.jobset.url + ")\n";
    const std::string head_input = input.empty() ? "INPUTS" : input;
    size_t status_width = 6;
    for (const auto& row : rows) {
        status_width = std::max(status_width, row.status.word.size());
    }
    char line[512];
    std::snprintf(line, sizeof line, "  %-9s %-16s %-*s %-12s %s\n", "EVAL", "DATE",
                  static_cast<int>(status_width), "STATUS", "BUILD",
                  cut_end(head_input, 24).c_str());
    out += line;
    for (const auto& row : rows) {
        const std::string build = "#" + std::to_string(row.build.build_id);
        std::snprintf(line, sizeof line, "%c %-9lld %-16s %-*s %-12s %s\n", row.changed ? '*' : ' ',
                      static_cast<long long>(row.eval.eval_id), eval_date(row.eval).c_str(),
                      static_cast<int>(status_width), std::string(row.status.word).c_str(),
                      build.c_str(), revisions_text(row.eval, input).c_str());
        out += line;
    }
    if (rows.empty()) {
        out += "  (no eval in the index holds the job)\n";
    }
    return out;
}

void append_history_json(std::string& out, const JobTarget& target, const HistoryRow& row,
                         const std::string& input) {
    out += "{\"job\":";
    append_json_string(out, target.job);
    out += ",\"jobset\":";
    append_json_string(out, target.jobset.project + ":" + target.jobset.name);
    out += ",\"eval\":";
    append_eval_json(out, row.eval, input);
    out += ",\"build\":";
    append_build_json(out, row.build);
    out += ",\"changed\":";
    out += row.changed ? "true" : "false";
    out += "}\n";
}

// --- bisect output ----------------------------------------------------------

struct BisectReport {
    JobTarget target;
    BisectResult result;
    std::string input;
    std::vector<std::string> revisions_between; // distinct, of the evals between
    std::optional<int64_t> commits;             // git rev-list --count good..bad
};

std::string eval_line(const char* label, const index::JobEval& entry, const std::string& input) {
    std::string out = std::string("  ") + label + " eval " + std::to_string(entry.eval.eval_id) +
                      "  " + eval_date(entry.eval);
    if (entry.build) {
        out += "  #" + std::to_string(entry.build->build_id) + "  " +
               std::string(hydra_status(*entry.build).word);
    }
    out += "\n";
    const auto revision = input_revision(entry.eval, input);
    out += "       " + input + " " + (revision.empty() ? "(none)" : revision) + "\n";
    return out;
}

std::string bisect_human(const BisectReport& report) {
    const auto& r = report.result;
    const std::string who =
        report.target.job + " in " + report.target.jobset.project + ":" + report.target.jobset.name;
    std::string out;
    switch (r.kind) {
    case BisectResult::Kind::still_good:
        out = who + " still succeeds (eval " + std::to_string(r.newest->eval.eval_id) + ", " +
              eval_date(r.newest->eval) + "): nothing to bisect\n";
        return out;
    case BisectResult::Kind::no_verdict:
        return who + ": no eval in the index holds a finished verdict on the job\n";
    case BisectResult::Kind::never_succeeded:
        out = who + " never succeeded in the " + plural(r.between.size() + 1, "eval") +
              " the index holds up to eval " + std::to_string(r.newest->eval.eval_id) + "\n";
        out += eval_line("bad ", *r.bad, report.input);
        if (r.bad->build) {
            out += "       " + build_url(*r.bad->build) + "/log\n";
        }
        out += "Sync older evals to look further back: hydra-status sync --max-evals N\n";
        return out;
    case BisectResult::Kind::broke:
        break;
    }
    out = who + " broke between two evals:\n";
    out += eval_line("good", *r.good, report.input);
    out += eval_line("bad ", *r.bad, report.input);
    if (r.bad->build) {
        out += "       " + build_url(*r.bad->build) + "/log\n";
    }
    const auto good_rev = input_revision(r.good->eval, report.input);
    const auto bad_rev = input_revision(r.bad->eval, report.input);
    out += plural(r.between.size(), "eval") + " between them (without a verdict on the job),\n" +
           plural(report.revisions_between.size(), "other revision") + " of " + report.input +
           " evaluated there.\n";
    if (good_rev.empty() || bad_rev.empty() || good_rev == bad_rev) {
        out += "The input " + quote(report.input) +
               " did not change between them: the breakage came with another input "
               "(see --input).\n";
        return out;
    }
    if (report.commits) {
        out += std::to_string(*report.commits) + " commits lie between them (git rev-list).\n";
    } else {
        out += "Commits between them: git rev-list --count " + good_rev.substr(0, 12) + ".." +
               bad_rev.substr(0, 12) + "\n";
    }
    out += "To bisect:\n  git bisect start " + bad_rev + " " + good_rev + "\n";
    return out;
}

void append_job_eval_json(std::string& out, const std::optional<index::JobEval>& entry,
                          const std::string& input) {
    if (!entry) {
        out += "null";
        return;
    }
    out += "{\"eval\":";
    append_eval_json(out, entry->eval, input);
    out += ",\"build\":";
    if (entry->build) {
        append_build_json(out, *entry->build);
    } else {
        out += "null";
    }
    out += "}";
}

std::string bisect_json(const BisectReport& report) {
    const auto& r = report.result;
    std::string out = "{\"job\":";
    append_json_string(out, report.target.job);
    out += ",\"jobset\":";
    append_json_string(out, report.target.jobset.project + ":" + report.target.jobset.name);
    out += ",\"result\":";
    append_json_string(out, bisect_kind_name(r.kind));
    out += ",\"input\":";
    append_json_string(out, report.input);
    out += ",\"good\":";
    append_job_eval_json(out, r.good, report.input);
    out += ",\"bad\":";
    append_job_eval_json(out, r.bad, report.input);
    out += ",\"evals_between\":" + std::to_string(r.between.size());
    out += ",\"revisions_between\":[";
    for (size_t i = 0; i < report.revisions_between.size(); ++i) {
        out += i ? "," : "";
        append_json_string(out, report.revisions_between[i]);
    }
    out += "],\"commits_between\":" + (report.commits ? std::to_string(*report.commits) : "null");
    out += ",\"git_bisect\":";
    const auto good_rev = r.good ? input_revision(r.good->eval, report.input) : "";
    const auto bad_rev = r.bad ? input_revision(r.bad->eval, report.input) : "";
    if (r.kind == BisectResult::Kind::broke && !good_rev.empty() && !bad_rev.empty() &&
        good_rev != bad_rev) {
        append_json_string(out, "git bisect start " + bad_rev + " " + good_rev);
    } else {
        out += "null";
    }
    out += "}\n";
    return out;
}

std::string repo_option(const Context& ctx) {
    return string_option(ctx, "repo").value_or(".");
}

// --- evals output -------------------------------------------------------------

std::string evals_human(const std::vector<index::EvalInfo>& evals, const std::string& input) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-9s %-16s %s\n", "EVAL", "DATE",
                  input.empty() ? "INPUTS" : input.c_str());
    out += line;
    for (const auto& eval : evals) {
        std::string revisions;
        if (!input.empty()) {
            revisions = input_revision(eval, input);
        } else {
            revisions = revisions_text(eval, input);
        }
        std::snprintf(line, sizeof line, "%-9lld %-16s %s\n", static_cast<long long>(eval.eval_id),
                      eval_date(eval).c_str(), revisions.empty() ? "-" : revisions.c_str());
        out += line;
    }
    return out;
}

void append_evals_json(std::string& out, const std::vector<index::EvalInfo>& evals,
                       const std::string& input, const char* match) {
    for (const auto& eval : evals) {
        out += "{\"match\":";
        append_json_string(out, match);
        out += ",\"eval\":";
        append_eval_json(out, eval, input);
        out += "}\n";
    }
}

} // namespace

// --- decisions ------------------------------------------------------------------

std::optional<core::JobsetName> jobset_option(const Context& ctx) {
    if (!ctx.options.count("jobset")) {
        return std::nullopt;
    }
    auto name = core::parse_jobset_name(ctx.options["jobset"].as<std::string>());
    if (!name) {
        throw UsageError("--jobset: " + name.error());
    }
    return *name;
}

index::JobsetState resolve_jobset(index::IndexReader& index, const Context& ctx,
                                  const core::JobsetName& name) {
    const auto rows = index.jobsets_named(name.project, name.jobset);
    return pick_jobset(rows, name, ctx.settings.values().url,
                       rows.empty() ? held_jobsets(index) : std::vector<std::string>{});
}

bool is_git_revision(const std::string& revision) {
    return (revision.size() == 40 || revision.size() == 64) && is_hex(revision);
}

std::string input_revision(const index::EvalInfo& eval, const std::string& input) {
    for (const auto& [name, revision] : eval.inputs) {
        if (name == input) {
            return revision;
        }
    }
    return {};
}

namespace {

// choose_input without --input: the input, or "" and why none fits.
std::string default_input(const std::vector<index::EvalInfo>& evals, const std::string& project,
                          std::string& why) {
    std::set<std::string> names;
    std::set<std::string> git;
    std::set<std::string> not_git;
    for (const auto& eval : evals) {
        for (const auto& [name, revision] : eval.inputs) {
            names.insert(name);
            (is_git_revision(revision) ? git : not_git).insert(name);
        }
    }
    if (names.empty() || names.contains(project)) {
        return names.empty() ? std::string() : project;
    }
    std::vector<std::string> candidates;
    for (const auto& name : git) {
        if (!not_git.contains(name)) {
            candidates.push_back(name);
        }
    }
    if (candidates.size() == 1) {
        return candidates.front();
    }
    why = std::string(candidates.empty()
                          ? "no input is named like the project and none is a git input"
                          : "several git inputs and none is named like the project") +
          " (inputs: " + join(std::vector<std::string>(names.begin(), names.end()), ", ") +
          "); choose one with --input NAME";
    return {};
}

// A requested input, or a UsageError naming those the evals have.
std::string requested_input(const std::vector<index::EvalInfo>& evals,
                            const std::string& requested) {
    std::set<std::string> names;
    for (const auto& eval : evals) {
        for (const auto& input : eval.inputs) {
            names.insert(input.first);
        }
    }
    if (!names.contains(requested)) {
        throw UsageError(
            "--input: no eval has an input " + quote(requested) +
            (names.empty()
                 ? std::string(" (the evals list no inputs)")
                 : " (inputs: " + join(std::vector<std::string>(names.begin(), names.end()), ", ") +
                       ")"));
    }
    return requested;
}

} // namespace

std::string choose_input(const std::vector<index::EvalInfo>& evals, const std::string& project,
                         const std::optional<std::string>& requested) {
    if (requested) {
        return requested_input(evals, *requested);
    }
    std::string why;
    auto input = default_input(evals, project, why);
    if (!why.empty()) {
        throw UsageError(why);
    }
    return input;
}

// The input to show in history: the chosen one when one fits, else none
// (every input is shown).
std::string input_for_display(const std::vector<index::EvalInfo>& evals, const std::string& project,
                              const std::optional<std::string>& requested) {
    if (requested) {
        return requested_input(evals, *requested);
    }
    std::string why; // several inputs and none fits: show them all
    return default_input(evals, project, why);
}

index::JobsetState pick_jobset(const std::vector<index::JobsetState>& rows,
                               const core::JobsetName& name, const std::string& url,
                               const std::vector<std::string>& held) {
    for (const auto& row : rows) {
        if (row.url == url) {
            return row;
        }
    }
    if (rows.size() == 1) {
        return rows.front();
    }
    if (rows.empty()) {
        std::vector<std::string> shown(
            held.begin(), held.begin() + static_cast<ptrdiff_t>(std::min<size_t>(held.size(), 8)));
        throw UsageError(
            "jobset " + quote(name.text()) + " is not in the index (" +
            (held.empty() ? std::string("it holds none")
                          : "it holds: " + join(shown, ", ") + (held.size() > 8 ? ", ..." : "")) +
            ")");
    }
    std::vector<std::string> urls;
    urls.reserve(rows.size());
    for (const auto& row : rows) {
        urls.push_back(row.url);
    }
    throw UsageError("jobset " + quote(name.text()) +
                     " is in the index from several Hydra "
                     "instances (" +
                     join(urls, ", ") + "); choose one with --url");
}

std::vector<HistoryRow> history_rows(const std::vector<index::JobEval>& history, size_t limit) {
    std::vector<HistoryRow> rows;
    for (const auto& entry : history) {
        if (entry.build) {
            rows.push_back({entry.eval, *entry.build, hydra_status(*entry.build), false});
        }
    }
    // Newest first: a row changed when the one after it (older) differs.
    for (size_t i = 0; i + 1 < rows.size(); ++i) {
        rows[i].changed = rows[i].status.word != rows[i + 1].status.word;
    }
    if (limit != 0 && rows.size() > limit) {
        rows.resize(limit);
    }
    return rows;
}

namespace {

enum class Verdict { none, good, bad };

Verdict verdict_of(const index::JobEval& entry) {
    if (!entry.build) {
        return Verdict::none;
    }
    switch (hydra_status(*entry.build).cls) {
    case core::StatusClass::good:
        return Verdict::good;
    case core::StatusClass::permanent:
        return Verdict::bad;
    default:
        return Verdict::none;
    }
}

} // namespace

BisectResult find_breakage(const std::vector<index::JobEval>& history) {
    BisectResult result;
    size_t newest = history.size();
    for (size_t i = 0; i < history.size(); ++i) {
        if (verdict_of(history[i]) != Verdict::none) {
            newest = i;
            break;
        }
    }
    if (newest == history.size()) {
        result.kind = BisectResult::Kind::no_verdict;
        return result;
    }
    result.newest = history[newest];
    if (verdict_of(history[newest]) == Verdict::good) {
        result.kind = BisectResult::Kind::still_good;
        return result;
    }
    // Failing: walk back to the last success; the oldest failure after it
    // is the first bad eval.
    size_t bad = newest;
    for (size_t i = newest + 1; i < history.size(); ++i) {
        const auto verdict = verdict_of(history[i]);
        if (verdict == Verdict::bad) {
            bad = i;
        } else if (verdict == Verdict::good) {
            result.kind = BisectResult::Kind::broke;
            result.good = history[i];
            result.bad = history[bad];
            for (size_t k = bad + 1; k < i; ++k) {
                result.between.push_back(history[k].eval);
            }
            return result;
        }
    }
    result.kind = BisectResult::Kind::never_succeeded;
    result.bad = history[bad];
    // Here: the evals older than the newest verdict, for the count.
    for (size_t k = newest + 1; k < history.size(); ++k) {
        result.between.push_back(history[k].eval);
    }
    return result;
}

bool breakage_decided(const std::vector<index::JobEval>& history) {
    // Evals come newest first: the first success ends the search, whether
    // failures came before it (broke) or not (still good).
    return !history.empty() && verdict_of(history.back()) == Verdict::good;
}

int bisect_exit_code(BisectResult::Kind kind) {
    return kind == BisectResult::Kind::broke || kind == BisectResult::Kind::never_succeeded ? 1 : 0;
}

const char* bisect_kind_name(BisectResult::Kind kind) {
    switch (kind) {
    case BisectResult::Kind::broke:
        return "broke";
    case BisectResult::Kind::never_succeeded:
        return "never-succeeded";
    case BisectResult::Kind::still_good:
        return "still-good";
    case BisectResult::Kind::no_verdict:
        return "no-verdict";
    }
    return "no-verdict";
}

std::vector<std::string> distinct_revisions(const std::vector<index::EvalInfo>& evals,
                                            const std::string& input) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& eval : evals) {
        auto revision = input_revision(eval, input);
        if (!revision.empty() && seen.insert(revision).second) {
            out.push_back(std::move(revision));
        }
    }
    return out;
}

void check_revision_argument(const std::string& rev) {
    if (rev.size() < 7 || rev.size() > 64 || !is_hex(rev)) {
        throw UsageError("--rev " + quote(rev) +
                         ": expected a git revision, 7 to 64 lowercase hex digits");
    }
}

namespace {

// Where rev (built by no eval) falls among the evals' revisions: the newest
// eval whose revision is an ancestor of rev and the oldest that descends
// from it, by binary search over the evals oldest first.
RevisionMatch place_revision(const std::vector<index::EvalInfo>& evals, const std::string& input,
                             const std::string& rev, const AncestryCheck& ancestry) {
    RevisionMatch match;
    std::vector<index::EvalInfo> ordered;
    for (const auto& eval : evals) {
        if (!input_revision(eval, input).empty()) {
            ordered.push_back(eval);
        }
    }
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.eval_id < b.eval_id; });
    const auto is_before = [&](const index::EvalInfo& eval) {
        const auto answer = ancestry(input_revision(eval, input), rev);
        if (!answer) {
            throw Error("--rev " + quote(rev) +
                            ": no eval was built from it, and git cannot place it among the "
                            "evals' revisions: run in a git checkout of " +
                            quote(input) + " that has it, or pass --repo DIR",
                        ExitCode::usage);
        }
        return *answer;
    };
    size_t lo = 0; // ordered[0, lo) are before
    size_t hi = ordered.size();
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (is_before(ordered[mid])) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo > 0) {
        match.before = ordered[lo - 1];
    }
    if (lo < ordered.size()) {
        const auto answer = ancestry(rev, input_revision(ordered[lo], input));
        if (answer && *answer) {
            match.after = ordered[lo];
        }
    }
    return match;
}

} // namespace

RevisionMatch match_revision(const std::vector<index::EvalInfo>& evals, const std::string& input,
                             const std::string& rev, const AncestryCheck& ancestry) {
    RevisionMatch match;
    std::set<std::string> named;
    for (const auto& eval : evals) {
        const auto revision = input_revision(eval, input);
        if (revision.starts_with(rev)) {
            named.insert(revision);
        }
    }
    if (named.size() > 1) {
        throw UsageError("--rev " + quote(rev) + " is ambiguous: it begins " +
                         join(std::vector<std::string>(named.begin(), named.end()), ", "));
    }
    if (named.size() == 1) {
        match.revision = *named.begin();
        for (const auto& eval : evals) {
            if (input_revision(eval, input) == match.revision) {
                match.exact.push_back(eval);
            }
        }
        return match;
    }
    return place_revision(evals, input, rev, ancestry);
}

std::optional<std::string> run_git(const std::string& dir, const std::vector<std::string>& args) {
    std::vector<std::string> argv_text{"git", "-C", dir};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_text.size() + 1);
    for (auto& arg : argv_text) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return std::nullopt;
    }
    Fd from_git(fds[0]);
    Fd to_us(fds[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_us.get(), STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, "git", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    to_us.reset(); // git holds the only writing end: its exit ends our read
    if (rc != 0) {
        return std::nullopt;
    }
    const auto out = read_to_end(from_git.get());
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return std::nullopt;
    }
    return *out;
}

// --- commands -----------------------------------------------------------------

void history_options(po::options_description& desc) {
    desc.add_options()                                                                   //
        ("job", po::value<std::string>()->value_name("NAME"), "the job (with --jobset)") //
        ("jobset", po::value<std::string>()->value_name("PROJECT:JOBSET"),               //
         "the jobset of --job, or of KEY when several built it")                         //
        ("input", po::value<std::string>()->value_name("NAME"),                          //
         "the eval input whose revisions to show (default: the one named like the "      //
         "project, else the only git input)")                                            //
        ("limit", po::value<std::string>()->value_name("N"),                             //
         "show at most N evals (default 30; 0: all)");
}

int history_command(Context& ctx) {
    auto index = index::IndexReader::open(ctx.settings.values().db);
    const auto target = job_target(index, ctx, true);
    const size_t limit = limit_option(ctx);
    const auto history = read_history(index, target);
    const auto rows = history_rows(history, limit);
    const auto input =
        input_for_display(evals_of(history), target.jobset.project, string_option(ctx, "input"));
    if (ctx.json) {
        std::string out;
        for (const auto& row : rows) {
            append_history_json(out, target, row, input);
        }
        write_stdout(out);
    } else {
        write_stdout(history_human(target, rows, input));
    }
    return 0;
}

void bisect_options(po::options_description& desc) {
    desc.add_options()                                                                   //
        ("job", po::value<std::string>()->value_name("NAME"), "the job that broke")      //
        ("jobset", po::value<std::string>()->value_name("PROJECT:JOBSET"), "its jobset") //
        ("input", po::value<std::string>()->value_name("NAME"),                          //
         "the eval input to bisect (default: the one named like the project, else the "  //
         "only git input)")                                                              //
        ("repo", po::value<std::string>()->value_name("DIR"),                            //
         "a git checkout of the input, to count the commits between (default: .)");
}

int bisect_command(Context& ctx) {
    auto index = index::IndexReader::open(ctx.settings.values().db);
    if (!ctx.args.empty()) {
        throw UsageError("bisect takes no arguments (use --job NAME --jobset PROJECT:JOBSET)");
    }
    BisectReport report;
    report.target = job_target(index, ctx, false);
    const auto history = read_history(index, report.target, breakage_decided);
    report.result = find_breakage(history);
    auto& r = report.result;
    if (r.kind == BisectResult::Kind::broke || r.kind == BisectResult::Kind::never_succeeded) {
        std::vector<index::EvalInfo> evals{r.bad->eval};
        if (r.good) {
            evals.push_back(r.good->eval);
        }
        evals.insert(evals.end(), r.between.begin(), r.between.end());
        report.input =
            choose_input(evals, report.target.jobset.project, string_option(ctx, "input"));
    }
    if (r.kind == BisectResult::Kind::broke) {
        const auto good_rev = input_revision(r.good->eval, report.input);
        const auto bad_rev = input_revision(r.bad->eval, report.input);
        for (auto& revision : distinct_revisions(r.between, report.input)) {
            if (revision != good_rev && revision != bad_rev) {
                report.revisions_between.push_back(std::move(revision));
            }
        }
        if (is_git_revision(good_rev) && is_git_revision(bad_rev) && good_rev != bad_rev) {
            if (const auto count =
                    run_git(repo_option(ctx), {"rev-list", "--count", good_rev + ".." + bad_rev})) {
                const auto parsed = core::parse_count(std::string(trim(*count)), 0, INT64_MAX);
                if (parsed) {
                    report.commits = *parsed;
                }
            }
        }
    }
    write_stdout(ctx.json ? bisect_json(report) : bisect_human(report));
    return bisect_exit_code(r.kind);
}

void evals_options(po::options_description& desc) {
    desc.add_options()                                                                   //
        ("jobset", po::value<std::string>()->value_name("PROJECT:JOBSET"), "the jobset") //
        ("rev", po::value<std::string>()->value_name("SHA"),                             //
         "the evals built from this revision (7 or more hex digits), or the nearest "    //
         "ones before and after it")                                                     //
        ("input", po::value<std::string>()->value_name("NAME"),                          //
         "the input --rev is a revision of (default: the one named like the project, "   //
         "else the only git input)")                                                     //
        ("repo", po::value<std::string>()->value_name("DIR"),                            //
         "a git checkout of the input, to place a --rev no eval was built from "         //
         "(default: .)")                                                                 //
        ("limit", po::value<std::string>()->value_name("N"),                             //
         "without --rev: list at most N evals (default 30; 0: all)");
}

namespace {

// Ancestry answered by git in `repo`: merge-base --is-ancestor says yes
// (0) or no (1, or an error); a revision git lacks makes it nullopt.
AncestryCheck git_ancestry(std::string repo) {
    return [repo = std::move(repo)](const std::string& ancestor,
                                    const std::string& descendant) -> std::optional<bool> {
        if (run_git(repo, {"merge-base", "--is-ancestor", ancestor, descendant})) {
            return true;
        }
        if (run_git(repo, {"cat-file", "-e", ancestor + "^{commit}"}) &&
            run_git(repo, {"cat-file", "-e", descendant + "^{commit}"})) {
            return false;
        }
        return std::nullopt;
    };
}

// What evals --rev prints: the evals built from it, or the nearest ones.
std::string revision_answer(bool json, const RevisionMatch& match, const std::string& input,
                            const std::string& rev) {
    std::string out;
    if (json) {
        append_evals_json(out, match.exact, input, "exact");
        if (match.before) {
            append_evals_json(out, {*match.before}, input, "before");
        }
        if (match.after) {
            append_evals_json(out, {*match.after}, input, "after");
        }
        return out;
    }
    if (!match.exact.empty()) {
        return plural(match.exact.size(), "eval") + " built from " + input + " " + match.revision +
               ":\n" + evals_human(match.exact, input);
    }
    out = "No eval was built from " + input + " " + rev + "; the nearest:\n";
    std::vector<index::EvalInfo> around;
    if (match.after) {
        around.push_back(*match.after);
    }
    if (match.before) {
        around.push_back(*match.before);
    }
    out += evals_human(around, input);
    out += std::string("  before: ") +
           (match.before ? "eval " + std::to_string(match.before->eval_id) : "none") +
           "; after: " + (match.after ? "eval " + std::to_string(match.after->eval_id) : "none") +
           "\n";
    return out;
}

} // namespace

int evals_command(Context& ctx) {
    if (!ctx.args.empty()) {
        throw UsageError("evals takes no arguments");
    }
    const auto jobset_name = jobset_option(ctx);
    if (!jobset_name) {
        throw UsageError("--jobset PROJECT:JOBSET is required");
    }
    const auto rev = string_option(ctx, "rev");
    if (rev) {
        check_revision_argument(*rev);
    }
    const size_t limit = limit_option(ctx);
    auto index = index::IndexReader::open(ctx.settings.values().db);
    const auto jobset = resolve_jobset(index, ctx, *jobset_name);
    auto evals = index.jobset_evals(jobset.id);
    if (!rev) {
        const auto input = input_for_display(evals, jobset.project, string_option(ctx, "input"));
        if (limit != 0 && evals.size() > limit) {
            evals.resize(limit);
        }
        std::string out;
        if (ctx.json) {
            append_evals_json(out, evals, input, "listed");
        } else {
            out = evals_human(evals, input);
        }
        write_stdout(out);
        return 0;
    }
    const auto input = choose_input(evals, jobset.project, string_option(ctx, "input"));
    const auto match = match_revision(evals, input, *rev, git_ancestry(repo_option(ctx)));
    write_stdout(revision_answer(ctx.json, match, input, *rev));
    return 0;
}

} // namespace hs::cli
