#include "cli/gate_cmd.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/file.hpp"
#include "core/store_path.hpp"
#include "gate/closure.hpp"
#include "gate/dry_run.hpp"
#include "index/index.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace hs::cli {

namespace {

std::string read_all(const std::string& file) {
    if (file == "-") {
        std::ostringstream text;
        text << std::cin.rdbuf();
        return text.str();
    }
    auto text = read_whole_file(file);
    if (!text) {
        throw UsageError(file + ": cannot read dry-run output: " + text.error());
    }
    return *std::move(text);
}

// Checks drvs against the index and the local record, and keeps the report.
struct GateRun {
    GateRun(index::IndexReader& db, bool as_json, int64_t expired_before, HumanStyle human)
        : index(db), json(as_json), not_before(expired_before), style(human) {}

    index::IndexReader& index;
    bool json = false;
    int64_t not_before = 0; // local failures older than this have expired
    // Whether any local failure counts at all, asked at the first check
    // (inside the walk, whose visitor's errors wait for the drvs' own).
    std::optional<bool> any_local;
    HumanStyle style;
    GateCounts counts;
    std::string out;              // JSON Lines
    std::vector<Answer> failures; // human output: formatted as one table at the end

    // Checks nodes [begin, end). The index is asked in hash order, where
    // neighbouring keys share B-tree pages (bench/ANALYSIS.md: 56 -> 40 ms
    // for 20,000 probes); what is found is reported in node order.
    void check(const gate::Closure& closure, size_t begin, size_t end) {
        std::vector<std::pair<core::HashBytes, size_t>> keys;
        keys.reserve(end - begin);
        for (size_t i = begin; i < end; ++i) {
            // A closure only holds valid store paths: the hash is all it takes.
            const auto hash =
                core::nix32_decode(std::string_view(closure.nodes[i].path)
                                       .substr(core::k_store_dir.size() + 1, core::k_hash_chars));
            if (hash) {
                keys.emplace_back(*hash, i);
            }
        }
        std::sort(keys.begin(), keys.end());
        std::vector<std::pair<size_t, Answer>> found;
        for (const auto& [hash, i] : keys) {
            if (auto answer = failure(hash)) {
                answer->query = closure.nodes[i].path;
                found.emplace_back(i, std::move(*answer));
            }
        }
        std::sort(found.begin(), found.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [i, answer] : found) {
            report(answer, closure.chain(i));
        }
    }

    // Counts a drv, and returns its answer when it failed (transiently or not).
    std::optional<Answer> failure(const core::HashBytes& hash) {
        Answer answer;
        if (!any_local) {
            any_local = index.has_local_failures(not_before);
        }
        if (*any_local) {
            answer.local = index.local_failure(hash, not_before);
        }
        if (!answer.local) {
            // Most drvs are good or unknown: their state alone says so.
            const auto state = index.deciding_state(hash);
            if (!state) {
                ++counts.unknown;
                return std::nullopt;
            }
            if (core::status_of(state->finished, state->buildstatus).cls ==
                core::StatusClass::good) {
                ++counts.good;
                return std::nullopt;
            }
        }
        auto rows = index.builds_of_drv(hash);
        if (!rows.empty()) {
            answer.hydra = std::move(rows.front());
        }
        switch (answer.status().cls) {
        case core::StatusClass::good:
            ++counts.good;
            return std::nullopt;
        case core::StatusClass::unknown:
            ++counts.unknown;
            return std::nullopt;
        case core::StatusClass::permanent:
            ++counts.permanent;
            break;
        case core::StatusClass::transient:
            ++counts.transient;
            break;
        }
        return answer;
    }

    void report(const Answer& answer, const std::vector<std::string>& chain) {
        if (json) {
            std::string object;
            append_json(object, answer);
            object.pop_back(); // newline
            object.pop_back(); // '}'
            object += ",\"chain\":[";
            for (size_t c = 0; c < chain.size(); ++c) {
                if (c) {
                    object += ',';
                }
                append_json_string(object, chain[c]);
            }
            object += "]}\n";
            out += object;
        } else {
            failures.push_back(answer);
            failures.back().chain = chain;
        }
    }
};

// What `gate` was given on its command line.
struct GateArgs {
    std::vector<std::string> drvs;
    bool strict = false;
    std::string store_root;
    std::optional<std::string> from_dry_run; // FILE or "-"
};

GateArgs gate_args(const Context& ctx) {
    GateArgs args;
    args.drvs = ctx.args;
    args.strict = ctx.options.count("strict") > 0;
    if (ctx.options.count("store-root")) {
        args.store_root = ctx.options["store-root"].as<std::string>();
    }
    if (ctx.options.count("from-dry-run")) {
        args.from_dry_run = ctx.options["from-dry-run"].as<std::string>();
    }
    if (args.drvs.empty() && !args.from_dry_run) {
        throw UsageError("gate: no .drv given");
    }
    return args;
}

// The closure to check: the drvs a dry run will build, plus the closure of
// the drvs given beside it (a drv in both is checked once), or the closure
// of the drvs given. `check` sees each part as soon as it is read, so that
// drvs are checked while the walk reads the next ones. Drvs that cannot be
// read are appended to `bad_drvs`.
gate::Closure gate_closure(const GateArgs& args, const gate::Visit& check,
                           std::vector<Error>& bad_drvs) {
    const auto chroot_stores = nix_chroot_stores();
    if (!args.from_dry_run) {
        return gate::walk_closure(args.drvs, args.store_root, check, &bad_drvs, chroot_stores);
    }
    const auto& file = *args.from_dry_run;
    const auto dry_run = gate::parse_dry_run(
        read_all(file), file == "-" ? "dry-run output (stdin)" : "dry-run output " + quote(file));
    auto closure = gate::flat_closure(drvs_to_build(dry_run.will_build));
    if (!args.drvs.empty()) {
        merge_closure(closure,
                      gate::walk_closure(args.drvs, args.store_root, {}, &bad_drvs, chroot_stores));
    }
    check(closure, 0, closure.nodes.size());
    return closure;
}

void report_bad_drvs(const std::vector<Error>& bad_drvs) {
    for (const auto& bad : bad_drvs) {
        print_error(bad.what());
    }
}

// Without an index nothing was checked: the drvs' errors first (exit 2),
// else the index's (exit 5).
int fail_without_index(const std::vector<Error>& bad_drvs, const Error& index_error) {
    if (bad_drvs.empty()) {
        throw Error(index_error.what(), index_error.code());
    }
    report_bad_drvs(bad_drvs);
    print_error(index_error.what());
    return static_cast<int>(ExitCode::usage);
}

// The failures on stdout, the counts on stderr.
void print_gate_report(GateRun& run, const GateVerdict& verdict, size_t drvs, int code) {
    if (run.json) {
        run.out += gate_summary_json(drvs, run.counts, code);
    } else {
        append_human_table(run.out, run.failures, run.style);
    }
    write_stdout(run.out);
    std::fflush(stdout);
    const auto& counts = run.counts;
    const std::string summary =
        wrap_list("gate: " + plural(drvs, "drv") + " checked: ",
                  {std::to_string(counts.permanent) + " failed",
                   std::to_string(counts.transient) + " transient",
                   std::to_string(counts.good) + " succeeded",
                   std::to_string(counts.unknown) + " never built by Hydra"},
                  80, 6);
    std::fprintf(stderr, "%s\n", summary.c_str());
    if (counts.transient > 0 && !verdict.strict && verdict.policy == Policy::fail) {
        print_warning("transient failures (aborted, timed out, queued, ...) do not block without "
                      "--strict");
    }
}

} // namespace

void merge_closure(gate::Closure& closure, gate::Closure more) {
    std::unordered_map<std::string, int32_t> at;
    for (size_t i = 0; i < closure.nodes.size(); ++i) {
        at.emplace(closure.nodes[i].path, static_cast<int32_t>(i));
    }
    std::vector<int32_t> moved(more.nodes.size(), -1);
    for (size_t i = 0; i < more.nodes.size(); ++i) {
        auto& node = more.nodes[i];
        const auto [it, added] = at.emplace(node.path, static_cast<int32_t>(closure.nodes.size()));
        moved[i] = it->second;
        if (added) {
            const int32_t parent = node.parent < 0 ? -1 : moved[static_cast<size_t>(node.parent)];
            closure.nodes.push_back({std::move(node.path), parent});
        }
    }
}

std::vector<std::string> drvs_to_build(const std::vector<std::string>& will_build) {
    std::vector<std::string> drvs;
    for (const auto& path : will_build) {
        if (path.ends_with(core::k_drv_suffix)) {
            drvs.push_back(path);
        }
    }
    return drvs;
}

std::vector<std::string> nix_chroot_stores() {
    std::vector<std::string> out;
    const auto env = [](const char* name) {
        const char* value = std::getenv(name);
        return value && *value ? std::string(value) : std::string();
    };
    if (const auto data = env("NIX_DATA_HOME"); !data.empty()) {
        out.push_back(data + "/root");
    }
    if (const auto xdg = env("XDG_DATA_HOME"); !xdg.empty()) {
        out.push_back(xdg + "/nix/root");
    } else if (const auto home = env("HOME"); !home.empty()) {
        out.push_back(home + "/.local/share/nix/root");
    }
    return out;
}

int gate_exit_code(const GateVerdict& verdict) {
    const bool fail = verdict.policy == Policy::fail;
    if (verdict.bad_drvs) {
        return static_cast<int>(ExitCode::usage);
    }
    if (fail && verdict.counts.permanent > 0) {
        return static_cast<int>(ExitCode::failure);
    }
    if (fail && !verdict.synced) {
        return static_cast<int>(ExitCode::no_index);
    }
    if (fail && verdict.strict && verdict.counts.transient > 0) {
        return static_cast<int>(ExitCode::transient);
    }
    return 0;
}

std::string gate_summary_json(size_t drvs, const GateCounts& counts, int code) {
    return R"({"summary":true,"drvs":)" + std::to_string(drvs) +
           ",\"permanent\":" + std::to_string(counts.permanent) +
           ",\"transient\":" + std::to_string(counts.transient) +
           ",\"succeeded\":" + std::to_string(counts.good) +
           ",\"unknown\":" + std::to_string(counts.unknown) + ",\"exit\":" + std::to_string(code) +
           "}\n";
}

void gate_options(po::options_description& desc) {
    desc.add_options()                                              //
        ("strict", "transient failures (and queued builds) exit 4") //
        ("store-root", po::value<std::string>()->value_name("DIR"),
         "read /nix/store/x from DIR/nix/store/x") //
        ("from-dry-run", po::value<std::string>()->value_name("FILE|-"),
         "check the drvs that 'nix-build --dry-run' says will be built");
}

int gate_command(Context& ctx) {
    const auto args = gate_args(ctx);
    const auto& settings = ctx.settings.values();
    const int64_t now = unix_now();
    // The index is opened first, so that drvs are checked while the walk
    // reads the next ones. If it cannot be opened, the drvs are still read:
    // a malformed one (exit 2) comes before a missing index (exit 5).
    std::optional<Error> index_error;
    auto index = open_index_for_answers(settings.db, index_error);
    std::optional<index::Snapshot> snapshot;
    std::optional<GateRun> run;
    if (index) {
        snapshot.emplace(index->snapshot());
        const int64_t ttl =
            std::chrono::duration_cast<std::chrono::seconds>(settings.local_ttl).count();
        run.emplace(*index, ctx.json, now - ttl,
                    HumanStyle{.color = use_color(), .now = now, .width = output_width()});
    }
    // Drvs that cannot be read are reported after the others were checked
    // (exit 2), as lookup answers every valid key beside a malformed one.
    std::vector<Error> bad_drvs;
    const auto closure = gate_closure(
        args,
        [&](const gate::Closure& part, size_t begin, size_t end) {
            if (run) {
                run->check(part, begin, end);
            }
        },
        bad_drvs);
    if (!run) {
        return fail_without_index(bad_drvs, *index_error);
    }
    const GateVerdict verdict{.bad_drvs = !bad_drvs.empty(),
                              .policy = settings.policy,
                              .strict = args.strict,
                              .synced = index->ever_synced(),
                              .counts = run->counts};
    if (!verdict.synced) {
        print_warning(index->path() +
                      ": the index was never synced; only local failures are checked");
    }
    const int code = gate_exit_code(verdict);
    print_gate_report(*run, verdict, closure.nodes.size(), code);
    report_bad_drvs(bad_drvs);
    return code;
}

} // namespace hs::cli
