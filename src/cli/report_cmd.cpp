// `report`: an eval against an earlier one of its jobset, job by job, as
// text, JSON Lines or an HTML page (report_html.cpp). Offline.

#include "cli/report_cmd.hpp"

#include "cli/history_cmd.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/file.hpp"
#include "core/store_path.hpp"
#include "core/units.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hs::cli {

namespace {

bool failing(const core::Status& status) {
    return status.cls == core::StatusClass::permanent;
}

ReportBuild report_build(const index::EvalMember& member) {
    return {member.build_id, core::status_of(member.finished, member.buildstatus), {}};
}

const std::string& name_of(const std::vector<std::string>& names, int64_t id) {
    static const std::string none;
    return id >= 0 && static_cast<size_t>(id) < names.size() ? names[static_cast<size_t>(id)]
                                                             : none;
}

// For each job id, the index of its build among the eval's members, or -1
// (a job has one build per eval; should an eval list two, the newest
// counts). A table by job id, not a sort: 250,000 members take one pass.
std::vector<int32_t> by_job(const index::EvalContents& eval, size_t jobs) {
    std::vector<int32_t> slot(jobs, -1);
    for (size_t i = 0; i < eval.builds.size(); ++i) {
        const auto job = static_cast<size_t>(eval.builds[i].job);
        if (job >= slot.size()) {
            slot.resize(job + 1, -1);
        }
        slot[job] = static_cast<int32_t>(i); // members come by id: the newest last
    }
    return slot;
}

std::string eval_heading(const index::EvalInfo& eval, const std::string& input) {
    std::string out =
        "eval " + std::to_string(eval.eval_id) + " (" + utc_time(eval.timestamp, "%Y-%m-%d %H:%M");
    for (const auto& [name, revision] : eval.inputs) {
        if (input.empty() || name == input) {
            out +=
                ", " + name + " " + (is_git_revision(revision) ? revision.substr(0, 12) : revision);
        }
    }
    return out + ")";
}

std::string build_url(const std::string& url, int64_t id) {
    return url + "/build/" + std::to_string(id);
}

void append_report_build_json(std::string& out, const std::string& url, const ReportBuild& b) {
    out += "{\"build_id\":" + std::to_string(b.build_id) + ",\"status\":";
    append_json_string(out, b.status.word);
    out += ",\"class\":";
    append_json_string(out, core::class_name(b.status.cls));
    out += ",\"build_url\":";
    append_json_string(out, build_url(url, b.build_id));
    out += ",\"log_url\":";
    append_json_string(out, build_url(url, b.build_id) + "/log");
    out += ",\"raw_log_url\":";
    append_json_string(out, url + "/log/" + b.drv_basename);
    out += "}";
}

void append_eval_json(std::string& out, const index::EvalInfo& eval) {
    out += "{\"eval_id\":" + std::to_string(eval.eval_id) +
           ",\"timestamp\":" + std::to_string(eval.timestamp) + ",\"inputs\":";
    append_inputs_json(out, eval);
    out += "}";
}

std::optional<int64_t> eval_option(const Context& ctx, const char* name) {
    if (!ctx.options.count(name)) {
        return std::nullopt;
    }
    const auto text = ctx.options[name].as<std::string>();
    const auto id = core::parse_count(text, 1, index::k_id_mask);
    if (!id) {
        throw UsageError(std::string("--") + name + ": " + id.error());
    }
    return *id;
}

void write_file(const std::string& path, const std::string& text) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) {
        throw Error("cannot write " + quote(path) + ": " + errno_text(errno), ExitCode::usage);
    }
    const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    const bool closed = std::fclose(file) == 0;
    if (!written || !closed) {
        throw Error("cannot write " + quote(path) + ": " + errno_text(errno), ExitCode::usage);
    }
}

} // namespace

const char* change_name(Change change) {
    switch (change) {
    case Change::newly_failing:
        return "newly-failing";
    case Change::newly_fixed:
        return "newly-fixed";
    case Change::still_failing:
        return "still-failing";
    case Change::new_job:
        return "new-job";
    case Change::removed_job:
        return "removed-job";
    }
    return "";
}

const char* change_title(Change change) {
    switch (change) {
    case Change::newly_failing:
        return "Newly failing";
    case Change::newly_fixed:
        return "Newly fixed";
    case Change::still_failing:
        return "Still failing";
    case Change::new_job:
        return "New jobs";
    case Change::removed_job:
        return "Removed jobs";
    }
    return "";
}

Report compare_evals(const index::EvalContents& eval, const index::EvalContents& against,
                     const std::vector<std::string>& names) {
    Report report;
    report.eval = eval.eval;
    report.against = against.eval;
    const auto now = by_job(eval, names.size());
    const auto before = by_job(against, names.size());
    const auto add = [&](Change change, const index::EvalMember* a, const index::EvalMember* b) {
        const auto* any = a ? a : b;
        ReportRow row;
        row.change = change;
        row.job = name_of(names, any->job);
        row.system = name_of(names, any->system);
        if (a) {
            row.now = report_build(*a);
        }
        if (b) {
            row.before = report_build(*b);
        }
        report.rows.push_back(std::move(row));
    };
    const size_t jobs = std::max(now.size(), before.size());
    for (size_t job = 0; job < jobs; ++job) {
        const int32_t i = job < now.size() ? now[job] : -1;
        const int32_t k = job < before.size() ? before[job] : -1;
        const auto* a = i < 0 ? nullptr : &eval.builds[static_cast<size_t>(i)];
        const auto* b = k < 0 ? nullptr : &against.builds[static_cast<size_t>(k)];
        if (!a && !b) {
            continue;
        }
        if (!b) {
            add(Change::new_job, a, nullptr);
            continue;
        }
        if (!a) {
            add(Change::removed_job, nullptr, b);
            continue;
        }
        const auto status_now = core::status_of(a->finished, a->buildstatus);
        const auto status_before = core::status_of(b->finished, b->buildstatus);
        if (failing(status_now)) {
            add(failing(status_before) ? Change::still_failing : Change::newly_failing, a, b);
        } else if (status_now.cls == core::StatusClass::good && failing(status_before)) {
            add(Change::newly_fixed, a, b);
        }
    }
    std::sort(report.rows.begin(), report.rows.end(), [](const ReportRow& x, const ReportRow& y) {
        if (x.change != y.change) {
            return x.change < y.change;
        }
        return x.system != y.system ? x.system < y.system : x.job < y.job;
    });
    for (const auto& row : report.rows) {
        const auto c = static_cast<size_t>(row.change);
        ++report.by_system[row.system][c];
        ++report.totals[c];
    }
    return report;
}

std::pair<int64_t, int64_t> pick_evals(const std::vector<index::EvalInfo>& evals,
                                       const std::optional<int64_t>& eval,
                                       const std::optional<int64_t>& against,
                                       const std::string& jobset) {
    if (evals.empty()) {
        throw UsageError("jobset " + quote(jobset) + " has no eval in the index");
    }
    const auto held = [&](int64_t id) {
        return std::find_if(evals.begin(), evals.end(),
                            [&](const auto& e) { return e.eval_id == id; });
    };
    const auto range = " (it holds evals " + std::to_string(evals.back().eval_id) + " to " +
                       std::to_string(evals.front().eval_id) + ", " + plural(evals.size(), "eval") +
                       ")";
    const int64_t reported = eval.value_or(evals.front().eval_id);
    const auto at = held(reported);
    if (at == evals.end()) {
        throw UsageError("--eval " + std::to_string(reported) + ": jobset " + quote(jobset) +
                         " has no such eval in the index" + range);
    }
    if (against) {
        if (held(*against) == evals.end()) {
            throw UsageError("--against " + std::to_string(*against) + ": jobset " + quote(jobset) +
                             " has no such eval in the index" + range);
        }
        return {reported, *against};
    }
    if (at + 1 == evals.end()) {
        throw UsageError("no eval before eval " + std::to_string(reported) + " of " +
                         quote(jobset) + " in the index to compare against" + range +
                         "; sync more with --max-evals N, or give --against ID");
    }
    return {reported, (at + 1)->eval_id};
}

int report_exit_code(const Report& report) {
    return report.totals[static_cast<size_t>(Change::newly_failing)] > 0 ? 1 : 0;
}

std::string report_text(const Report& report, size_t width) {
    std::string out = report.jobset + " (" + report.url + ")\n";
    out += "  " + eval_heading(report.eval, report.input) + "\n";
    out += "  against " + eval_heading(report.against, report.input) + "\n\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-18s %8s %8s %8s %8s %8s\n", "SYSTEM", "FAILING", "FIXED",
                  "STILL", "NEW", "REMOVED");
    out += line;
    const auto counts_line = [&](const std::string& name, const ChangeCounts& c) {
        std::snprintf(line, sizeof line, "%-18s %8zu %8zu %8zu %8zu %8zu\n",
                      cut_middle(name, 18).c_str(), c[0], c[1], c[2], c[3], c[4]);
        out += line;
    };
    for (const auto& [system, counts] : report.by_system) {
        counts_line(system, counts);
    }
    counts_line("total", report.totals);
    std::optional<Change> section;
    for (const auto& row : report.rows) {
        if (row.change != section) {
            section = row.change;
            out += "\n" + std::string(change_title(row.change)) + " (" +
                   std::to_string(report.totals[static_cast<size_t>(row.change)]) + "):\n";
        }
        const auto& build = row.now ? *row.now : *row.before;
        const std::string word(build.status.word);
        const size_t room = width > word.size() + 24 ? width - word.size() - 24 : 20;
        std::snprintf(line, sizeof line, "  %-18s %s  %s\n", word.c_str(),
                      cut_middle(row.job, room).c_str(), cut_end(row.system, 14).c_str());
        out += line;
        std::string where = "    " + build_url(report.url, build.build_id) +
                            (build.status.cls == core::StatusClass::permanent ? "/log" : "");
        if (row.now && row.before) {
            where += "  (was " + std::string(row.before->status.word) + ")";
        }
        out += where + "\n";
    }
    return out;
}

std::string report_json(const Report& report) {
    std::string out = R"({"type":"report","jobset":)";
    append_json_string(out, report.jobset);
    out += ",\"url\":";
    append_json_string(out, report.url);
    out += ",\"eval\":";
    append_eval_json(out, report.eval);
    out += ",\"against\":";
    append_eval_json(out, report.against);
    out += ",\"counts\":{";
    for (size_t c = 0; c < k_change_count; ++c) {
        out += c ? "," : "";
        append_json_string(out, change_name(static_cast<Change>(c)));
        out += ":{\"total\":" + std::to_string(report.totals[c]) + ",\"systems\":{";
        bool first = true;
        for (const auto& [system, counts] : report.by_system) {
            if (counts[c] != 0) {
                out += first ? "" : ",";
                first = false;
                append_json_string(out, system);
                out += ":" + std::to_string(counts[c]);
            }
        }
        out += "}}";
    }
    out += "}}\n";
    for (const auto& row : report.rows) {
        out += R"({"type":"job","change":)";
        append_json_string(out, change_name(row.change));
        out += ",\"job\":";
        append_json_string(out, row.job);
        out += ",\"system\":";
        append_json_string(out, row.system);
        out += ",\"now\":";
        if (row.now) {
            append_report_build_json(out, report.url, *row.now);
        } else {
            out += "null";
        }
        out += ",\"before\":";
        if (row.before) {
            append_report_build_json(out, report.url, *row.before);
        } else {
            out += "null";
        }
        out += "}\n";
    }
    return out;
}

void report_options(po::options_description& desc) {
    desc.add_options()                                                                   //
        ("jobset", po::value<std::string>()->value_name("PROJECT:JOBSET"), "the jobset") //
        ("eval", po::value<std::string>()->value_name("ID"),                             //
         "the eval to report (default: the newest in the index)")                        //
        ("against", po::value<std::string>()->value_name("ID"),                          //
         "the eval to compare it with (default: the one before it)")                     //
        ("html", po::value<std::string>()->value_name("FILE"),                           //
         "also write the report as one self-contained HTML page to FILE");
}

int report_command(Context& ctx) {
    if (!ctx.args.empty()) {
        throw UsageError("report takes no arguments");
    }
    const auto name = jobset_option(ctx);
    if (!name) {
        throw UsageError("--jobset PROJECT:JOBSET is required");
    }
    const auto eval_id = eval_option(ctx, "eval");
    const auto against_id = eval_option(ctx, "against");
    auto index = index::IndexReader::open(ctx.settings.values().db);
    const auto jobset = resolve_jobset(index, ctx, *name);
    const auto evals = index.jobset_evals(jobset.id);
    const auto [reported, against] = pick_evals(evals, eval_id, against_id, name->text());
    const auto snapshot = index.snapshot();
    const std::vector<int64_t> ids{reported, against};
    const auto contents = index.eval_contents(jobset.instance, ids);
    if (!contents[0] || !contents[1]) {
        throw Error(index.path() + ": an eval vanished while it was read", ExitCode::no_index);
    }
    auto report = compare_evals(*contents[0], *contents[1], index.names());
    // The drvs (for the raw log URLs) of the builds listed only.
    std::vector<ReportBuild*> listed;
    std::vector<int64_t> build_ids;
    for (auto& row : report.rows) {
        for (auto* build : {&row.now, &row.before}) {
            if (*build) {
                listed.push_back(&**build);
                build_ids.push_back((*build)->build_id);
            }
        }
    }
    const auto drvs = index.drvs_of_builds(jobset.instance, build_ids);
    for (size_t i = 0; i < listed.size(); ++i) {
        listed[i]->drv_basename =
            core::format_basename(drvs[i].first, drvs[i].second, core::k_drv_suffix);
    }
    report.url = jobset.url;
    report.jobset = name->text();
    report.input = input_for_display({report.eval, report.against}, jobset.project, std::nullopt);
    if (ctx.options.count("html")) {
        write_file(ctx.options["html"].as<std::string>(), report_html(report));
    }
    write_stdout(ctx.json ? report_json(report) : report_text(report, output_width()));
    return report_exit_code(report);
}

} // namespace hs::cli
