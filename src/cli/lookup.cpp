#include "cli/lookup.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"
#include "index/index.hpp"

#include <algorithm>
#include <chrono>
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

// Human output is aligned in batches of this many answers.
constexpr size_t k_table_batch = 1024;

// Keys are looked up this many at a time, in hash order, where neighbouring
// keys share the index's B-tree pages (a batch of 100,000 keys reads a
// fraction of the pages), and answered in the order they were given.
constexpr size_t k_lookup_chunk = 4096;

// How a lookup run answers: its index, output and limits.
struct LookupSetup {
    index::IndexReader* index = nullptr; // null when it could not be opened: every key is unknown
    bool json = false;
    bool all = false;             // --all: every build of each key
    int64_t local_not_before = 0; // local failures recorded before this have expired
    int64_t stale_before = 0;     // a jobset synced before this is stale (0: no check)
    HumanStyle style;
};

struct LookupRun {
    explicit LookupRun(const LookupSetup& setup)
        : index(setup.index), json(setup.json), all(setup.all),
          local_not_before(setup.local_not_before), stale_before(setup.stale_before),
          human(setup.style) {}

    index::IndexReader* index;
    bool json;
    bool all;
    int64_t local_not_before;
    int64_t stale_before;
    HumanTable human;
    ExitTally tally;
    std::string out;
    std::vector<Answer> table;                              // human answers not yet formatted
    std::map<std::string, int64_t> stale_jobsets;           // "project:jobset (url)" -> synced_at
    std::vector<std::pair<std::string, core::Key>> pending; // keys not looked up yet
    bool batch = false;              // many keys: answer_keys in chunks, in one snapshot
    std::optional<bool> ever_synced; // as the answers tell, or asked at the end

    void answer(const std::string& query, index::KeyAnswer found) {
        Answer answer;
        answer.query = query;
        auto& rows = found.builds;
        if (!rows.empty()) {
            answer.hydra = rows.front();
        }
        answer.local = std::move(found.local);
        if (found.ever_synced && !ever_synced) {
            ever_synced = found.ever_synced;
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
        std::vector<index::KeyAnswer> found(pending.size());
        if (index && batch) {
            std::vector<core::Key> keys;
            keys.reserve(order.size());
            for (const size_t i : order) {
                keys.push_back(pending[i].second);
            }
            auto answers = index->answer_keys(keys, local_not_before);
            for (size_t j = 0; j < order.size(); ++j) {
                found[order[j]] = std::move(answers[j]);
            }
        } else if (index) {
            for (const size_t i : order) {
                found[i] = index->answer_key(pending[i].second, local_not_before);
            }
        }
        for (size_t i = 0; i < pending.size(); ++i) {
            answer(pending[i].first, std::move(found[i]));
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

// The index a lookup answers from, or none (every key is then unknown, and
// the run exits 5). The keys are still read: a malformed one makes it exit 2.
// Whether it was ever synced is asked after the answers (check_synced), and
// only when none of them told.
std::optional<index::IndexReader> open_answering_index(const std::string& db, ExitTally& tally) {
    std::optional<Error> error;
    auto index = open_index_for_answers(db, error);
    if (error) {
        print_error(error->what());
        tally.no_index();
    }
    return index;
}

// An index never synced answers nothing: the run exits 5.
void check_synced(LookupRun& run) {
    if (!run.index) {
        return;
    }
    if (!run.ever_synced) {
        run.ever_synced = run.index->ever_synced();
    }
    if (!*run.ever_synced) {
        print_error(run.index->path() + ": the index was never synced (run 'hydra-status sync')");
        run.tally.no_index();
    }
}

LookupArgs lookup_args(const Context& ctx) {
    LookupArgs args;
    args.keys = ctx.args;
    args.from_stdin = ctx.options.count("stdin") > 0;
    if (ctx.options.count("job")) {
        args.job = ctx.options["job"].as<std::string>();
    }
    if (ctx.options.count("jobset")) {
        args.jobset = ctx.options["jobset"].as<std::string>();
    }
    return args;
}

// A --job lookup that found nothing in a jobset the index does not hold is
// most likely a typo: say which jobsets it holds (the answer stays unknown).
void answer_job(LookupRun& run, const JobQuery& query) {
    index::KeyAnswer found;
    auto& rows = found.builds;
    if (run.index) {
        rows = run.index->builds_of_job(query.jobset.project, query.jobset.jobset, query.job);
    }
    const bool any = put_latest_first(rows);
    if (any && run.index && run.index->has_local_failures(run.local_not_before)) {
        found.local = run.index->local_failure(rows.front().drv_hash, run.local_not_before);
    }
    if (!any && run.index && run.index->ever_synced()) {
        std::set<std::string> held;
        for (const auto& info : run.index->jobsets()) {
            held.insert(info.state.project + ":" + info.state.name);
        }
        if (const auto warning = unknown_jobset_warning(query.jobset, held); !warning.empty()) {
            print_warning(warning);
        }
    }
    run.answer(query.job, std::move(found));
}

void read_stdin_keys(LookupRun& run) {
    std::ios::sync_with_stdio(false);
    std::string line;
    for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
        const auto key = trim(line);
        if (!key.empty()) {
            run.key(std::string(key), "stdin line " + std::to_string(line_no) + ": ");
        }
    }
}

void warn_stale(const LookupRun& run, const Settings& settings, int64_t now) {
    for (const auto& [jobset, synced_at] : run.stale_jobsets) {
        print_warning(jobset + " was last synced " + relative_age(synced_at, now) +
                      ", longer ago than stale-after (" + settings.text("stale-after") +
                      "); run 'hydra-status sync' to refresh it");
    }
}

int64_t seconds(std::chrono::milliseconds duration) {
    return std::chrono::duration_cast<std::chrono::seconds>(duration).count();
}

} // namespace

void ExitTally::add(core::StatusClass cls) {
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

int ExitTally::code() const {
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

std::optional<JobQuery> check_lookup_args(const LookupArgs& args) {
    if (args.job.has_value() != args.jobset.has_value()) {
        throw UsageError("--job and --jobset go together");
    }
    if (args.keys.empty() && !args.from_stdin && !args.job) {
        throw UsageError("lookup: no key given");
    }
    if (!args.job) {
        return std::nullopt;
    }
    auto jobset = core::parse_jobset_name(*args.jobset);
    if (!jobset) {
        throw UsageError("--jobset: " + jobset.error());
    }
    return JobQuery{std::move(*jobset), *args.job};
}

bool put_latest_first(std::vector<index::BuildRow>& rows) {
    const auto latest =
        std::max_element(rows.begin(), rows.end(),
                         [](const auto& a, const auto& b) { return a.build_id < b.build_id; });
    if (latest == rows.end()) {
        return false;
    }
    std::rotate(rows.begin(), latest, latest + 1);
    return true;
}

std::string unknown_jobset_warning(const core::JobsetName& jobset,
                                   const std::set<std::string>& held) {
    if (held.contains(jobset.text())) {
        return "";
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
    return "jobset " + quote(jobset.text()) + " is not in the index (" +
           (held.empty() ? std::string("it holds none") : "it holds: " + list) + ")";
}

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
        ("jobset", po::value<std::string>()->value_name("PROJECT:JOBSET"), "the jobset of --job");
}

int lookup_command(Context& ctx) {
    const auto args = lookup_args(ctx);
    const auto job = check_lookup_args(args);
    const auto& settings = ctx.settings.values();
    ExitTally tally;
    auto index = open_answering_index(settings.db, tally);
    // A single key is one statement, without BEGIN and COMMIT around it.
    // Many answers come from one snapshot: one WAL read lock, not one per
    // statement (bench/ANALYSIS.md, lookups).
    const bool batch = args.from_stdin || args.keys.size() > 1;
    std::optional<index::Snapshot> snapshot;
    if (index && (batch || job)) {
        snapshot.emplace(index->snapshot());
    }
    const int64_t now = unix_now();
    const int64_t stale_after = seconds(settings.stale_after);
    const bool all = ctx.options.count("all") > 0;
    LookupRun run(LookupSetup{
        .index = index ? &*index : nullptr,
        .json = ctx.json,
        .all = all,
        .local_not_before = now - seconds(settings.local_ttl),
        .stale_before = stale_after > 0 ? now - stale_after : 0,
        .style =
            HumanStyle{.color = use_color(), .now = now, .width = output_width(), .history = all}});
    run.tally = tally;
    run.batch = batch;
    if (job) {
        answer_job(run, *job);
    }
    for (const auto& key : args.keys) {
        run.key(key);
    }
    if (args.from_stdin) {
        read_stdin_keys(run);
    }
    run.flush();
    check_synced(run);
    warn_stale(run, ctx.settings, now);
    return run.tally.code();
}

} // namespace hs::cli
