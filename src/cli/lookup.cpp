#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"
#include "index/index.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::cli {

namespace {

// Folds answers into the contract's exit code: 2, then 5, then 1, 4, 3, 0.
class ExitTally {
public:
    void add(core::StatusClass cls) {
        switch (cls) {
        case core::StatusClass::permanent:
            m_permanent = true;
            break;
        case core::StatusClass::transient:
            m_transient = true;
            break;
        case core::StatusClass::unknown:
            m_unknown = true;
            break;
        case core::StatusClass::good:
            break;
        }
    }
    void malformed() { m_malformed = true; }
    void no_index() { m_no_index = true; }

    int code() const {
        if (m_malformed) {
            return static_cast<int>(ExitCode::usage);
        }
        if (m_no_index) {
            return static_cast<int>(ExitCode::no_index);
        }
        if (m_permanent) {
            return static_cast<int>(ExitCode::failure);
        }
        if (m_transient) {
            return static_cast<int>(ExitCode::transient);
        }
        if (m_unknown) {
            return static_cast<int>(ExitCode::unknown);
        }
        return 0;
    }

private:
    bool m_malformed = false;
    bool m_no_index = false;
    bool m_permanent = false;
    bool m_transient = false;
    bool m_unknown = false;
};

// Human output is aligned in batches of this many answers.
constexpr size_t k_table_batch = 1024;

// Keys are looked up this many at a time, in hash order, where neighbouring
// keys share the index's B-tree pages (a batch of 100,000 keys reads a
// fraction of the pages), and answered in the order they were given.
constexpr size_t k_lookup_chunk = 4096;

struct LookupRun {
    index::IndexReader* index; // null when the index could not be opened: every key is unknown
    bool json;
    bool all;
    int64_t local_not_before;
    HumanTable human;
    ExitTally tally;
    std::string out;
    std::vector<Answer> table; // human answers not yet formatted
    int64_t stale_before = 0;  // a jobset synced before this is stale (0: no check)
    std::map<std::string, int64_t> stale_jobsets;           // "project:jobset (url)" -> synced_at
    std::vector<std::pair<std::string, core::Key>> pending; // keys not looked up yet
    std::optional<bool> any_local; // whether any local failure counts, asked once

    void answer(const std::string& query, std::vector<index::BuildRow> rows,
                const std::optional<core::HashBytes>& drv) {
        Answer answer;
        answer.query = query;
        std::optional<core::HashBytes> drv_hash = drv;
        if (!rows.empty()) {
            answer.hydra = rows.front();
            drv_hash = rows.front().drv_hash;
        }
        if (drv_hash && index && !any_local) {
            any_local = index->has_local_failures(local_not_before);
        }
        if (drv_hash && index && *any_local) {
            answer.local = index->local_failure(*drv_hash, local_not_before);
        }
        tally.add(answer.status().cls);
        emit(answer);
        if (all) {
            for (size_t i = 1; i < rows.size(); ++i) {
                Answer older;
                older.query = query;
                older.hydra = std::move(rows[i]);
                older.same_key = true;
                emit(older);
            }
        }
        if (out.size() > (1 << 16) || table.size() >= k_table_batch) {
            write_out();
        }
    }

    void emit(const Answer& answer) {
        if (answer.hydra && answer.hydra->synced_at && *answer.hydra->synced_at < stale_before) {
            const auto& row = *answer.hydra;
            stale_jobsets.emplace(row.project + ":" + row.jobset + " (" + row.hydra_url + ")",
                                  *row.synced_at);
        }
        if (json) {
            append_json(out, answer);
        } else {
            table.push_back(answer);
        }
    }

    // `where` names the key's place for a message ("stdin line 7: "), or "".
    void key(const std::string& text, const std::string& where = {}) {
        std::string why;
        auto key = core::parse_key(text, &why);
        if (!key) {
            // Said at once on stderr; the answers around it stay one table.
            print_error(where + "malformed key " + quote(text) + ": " + why);
            tally.malformed();
            return;
        }
        pending.emplace_back(text, std::move(*key));
        if (pending.size() >= k_lookup_chunk) {
            look_up_pending();
        }
    }

    void look_up_pending() {
        std::vector<size_t> order(pending.size());
        for (size_t i = 0; i < order.size(); ++i) {
            order[i] = i;
        }
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return pending[a].second.hash < pending[b].second.hash;
        });
        std::vector<std::vector<index::BuildRow>> rows(pending.size());
        if (index) {
            for (const size_t i : order) {
                rows[i] = index->builds_for_key(pending[i].second);
            }
        }
        for (size_t i = 0; i < pending.size(); ++i) {
            const auto& [text, key] = pending[i];
            std::optional<core::HashBytes> drv;
            if (key.kind == core::KeyKind::drv_path || key.kind == core::KeyKind::drv_basename ||
                key.kind == core::KeyKind::hash) {
                drv = key.hash; // a local record needs no Hydra data
            }
            answer(text, std::move(rows[i]), drv);
        }
        pending.clear();
    }

    // Answers every key given so far and writes the output.
    void flush() {
        if (!pending.empty()) {
            look_up_pending();
        }
        write_out();
    }

    void write_out() {
        if (!table.empty()) {
            human.append(out, table);
            table.clear();
        }
        write_stdout(out);
        std::fflush(stdout);
        out.clear();
    }
};

// "project:jobset" -> its parts; throws UsageError.
std::pair<std::string, std::string> split_jobset(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        throw UsageError("--jobset: expected PROJECT:JOBSET, got " + quote(text));
    }
    return {text.substr(0, colon), text.substr(colon + 1)};
}

// Spaces, tabs and a CR (a file written on Windows) around a line of --stdin.
std::string_view trim_blanks(std::string_view line) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
        return {};
    }
    return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
}

// A --job lookup that found nothing in a jobset the index does not hold is
// most likely a typo: say which jobsets it holds (the answer stays unknown).
void warn_unless_jobset_known(index::IndexReader& index, const std::string& project,
                              const std::string& jobset) {
    std::set<std::string> held;
    for (const auto& info : index.jobsets()) {
        if (info.state.project == project && info.state.name == jobset) {
            return;
        }
        held.insert(info.state.project + ":" + info.state.name);
    }
    constexpr size_t k_named = 8; // the rest: 'hydra-status info'
    std::string list;
    size_t named = 0;
    for (const auto& name : held) {
        if (named++ == k_named) {
            list += " and " + std::to_string(held.size() - k_named) + " more";
            break;
        }
        list += (list.empty() ? "" : ", ") + name;
    }
    print_warning("jobset " + quote(project + ":" + jobset) + " is not in the index (" +
                  (held.empty() ? std::string("it holds none") : "it holds: " + list) + ")");
}

} // namespace

std::optional<index::IndexReader> open_index_for_answers(const std::string& path,
                                                         std::optional<Error>& error) {
    try {
        return index::IndexReader::open(path);
    } catch (const Error& e) {
        if (e.code() != ExitCode::no_index) {
            throw;
        }
        error = e;
        return std::nullopt;
    }
}

void lookup_options(po::options_description& desc) {
    desc.add_options()                                              //
        ("all", "list every known build of each key, newest first") //
        ("stdin", "read keys from standard input, one per line")    //
        ("job", po::value<std::string>()->value_name("NAME"),
         "answer for the latest build of this job (with --jobset)") //
        ("jobset", po::value<std::string>()->value_name("PROJECT:JOBSET"),
         "the jobset of --job") //
        ("local-ttl", po::value<std::string>()->value_name("DURATION"),
         "how long a local failure record counts (default 7d)") //
        ("stale-after", po::value<std::string>()->value_name("DURATION"),
         "warn when a jobset's last sync is older (default 48h; 0: never)");
}

int lookup_command(Context& ctx) {
    const bool from_stdin = ctx.options.count("stdin") > 0;
    const bool by_job = ctx.options.count("job") > 0;
    if (by_job != (ctx.options.count("jobset") > 0)) {
        throw UsageError("--job and --jobset go together");
    }
    if (ctx.args.empty() && !from_stdin && !by_job) {
        throw UsageError("lookup: no key given");
    }
    const int64_t ttl = ctx.settings.get_seconds("local-ttl");
    const int64_t stale_after = ctx.settings.get_seconds("stale-after");
    const auto job_jobset = by_job ? split_jobset(ctx.options["jobset"].as<std::string>())
                                   : std::pair<std::string, std::string>{};
    // A missing or unreadable index is exit 5, but the keys are still read:
    // a malformed one makes it exit 2, and every valid one is answered
    // (unknown), as when the index was never synced.
    std::optional<Error> index_error;
    auto index = open_index_for_answers(ctx.settings.get("db"), index_error);
    if (index_error) {
        print_error(index_error->what());
    }
    // Every answer of the run from one snapshot: one WAL read lock, not one
    // per statement (bench/ANALYSIS.md, change 4).
    std::optional<index::Snapshot> snapshot;
    if (index) {
        snapshot.emplace(index->snapshot());
    }
    const int64_t now = unix_now();
    const HumanStyle style{use_color(), now, output_width(), ctx.options.count("all") > 0};
    LookupRun run{index ? &*index : nullptr,
                  ctx.json,
                  ctx.options.count("all") > 0,
                  now - ttl,
                  HumanTable(style),
                  {},
                  {},
                  {},
                  stale_after > 0 ? now - stale_after : 0,
                  {},
                  {},
                  {}};
    if (!index) {
        run.tally.no_index();
    } else if (!index->ever_synced()) {
        print_error(index->path() + ": the index was never synced (run 'hydra-status sync')");
        run.tally.no_index();
    }
    if (by_job) {
        const auto& [project, jobset] = job_jobset;
        const auto job = ctx.options["job"].as<std::string>();
        auto rows =
            index ? index->builds_of_job(project, jobset, job) : std::vector<index::BuildRow>{};
        // The contract answers for the job's latest build (the greatest id,
        // finished or not), not for the deciding build of some older drv.
        const auto latest =
            std::max_element(rows.begin(), rows.end(),
                             [](const auto& a, const auto& b) { return a.build_id < b.build_id; });
        if (latest != rows.end()) {
            std::rotate(rows.begin(), latest, latest + 1);
        } else if (index && index->ever_synced()) {
            warn_unless_jobset_known(*index, project, jobset);
        }
        run.answer(job, std::move(rows), std::nullopt);
    }
    for (const auto& arg : ctx.args) {
        run.key(arg);
    }
    if (from_stdin) {
        std::ios::sync_with_stdio(false);
        std::string line;
        for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
            const auto key = trim_blanks(line);
            if (!key.empty()) {
                run.key(std::string(key), "stdin line " + std::to_string(line_no) + ": ");
            }
        }
    }
    run.flush();
    for (const auto& [jobset, synced_at] : run.stale_jobsets) {
        print_warning(jobset + " was last synced " + relative_age(synced_at, now) +
                      ", longer ago than stale-after (" + ctx.settings.get("stale-after") +
                      "); run 'hydra-status sync' to refresh it");
    }
    return run.tally.code();
}

} // namespace hs::cli
