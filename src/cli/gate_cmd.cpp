#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"
#include "gate/closure.hpp"
#include "gate/dry_run.hpp"
#include "index/index.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
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
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw UsageError(file + ": cannot read dry-run output");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Appends the nodes of `more` that `closure` does not hold yet. Parents come
// before their children in a walk, so each parent is already mapped.
void merge(gate::Closure& closure, gate::Closure more) {
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
    size_t permanent = 0;
    size_t transient = 0;
    size_t unknown = 0;
    size_t good = 0;
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
                ++unknown;
                return std::nullopt;
            }
            if (core::status_of(state->finished, state->buildstatus).cls ==
                core::StatusClass::good) {
                ++good;
                return std::nullopt;
            }
        }
        auto rows = index.builds_of_drv(hash);
        if (!rows.empty()) {
            answer.hydra = std::move(rows.front());
        }
        switch (answer.status().cls) {
        case core::StatusClass::good:
            ++good;
            return std::nullopt;
        case core::StatusClass::unknown:
            ++unknown;
            return std::nullopt;
        case core::StatusClass::permanent:
            ++permanent;
            break;
        case core::StatusClass::transient:
            ++transient;
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

// Where Nix keeps its store when /nix cannot be used: its automatic chroot
// store, $NIX_DATA_HOME/root or ${XDG_DATA_HOME:-~/.local/share}/nix/root
// (Nix >= 2.4). A drv missing from /nix/store but found there gets a
// --store-root suggestion.
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

} // namespace

void gate_options(po::options_description& desc) {
    desc.add_options() //
        ("policy", po::value<std::string>()->value_name("warn|fail"),
         "fail (default): exit 1 on a permanent failure; warn: report and exit 0") //
        ("strict", "transient failures (and queued builds) exit 4")                //
        ("store-root", po::value<std::string>()->value_name("DIR"),
         "read /nix/store/x from DIR/nix/store/x") //
        ("from-dry-run", po::value<std::string>()->value_name("FILE|-"),
         "check the drvs that 'nix-build --dry-run' says will be built") //
        ("local-ttl", po::value<std::string>()->value_name("DURATION"),
         "how long a local failure record counts (default 7d)");
}

int gate_command(Context& ctx) {
    const std::string policy = ctx.settings.get("policy");
    if (policy != "warn" && policy != "fail") {
        throw UsageError(ctx.settings.origin("policy") + ": policy: expected warn or fail, got " +
                         quote(policy));
    }
    const bool strict = ctx.options.count("strict") > 0;
    const std::string store_root =
        ctx.options.count("store-root") ? ctx.options["store-root"].as<std::string>() : "";
    const bool from_dry_run = ctx.options.count("from-dry-run") > 0;
    if (ctx.args.empty() && !from_dry_run) {
        throw UsageError("gate: no .drv given");
    }
    const int64_t now = unix_now();
    const int64_t not_before = now - ctx.settings.get_seconds("local-ttl");

    // The index is opened first, so that drvs are checked while the walk
    // reads the next ones. If it cannot be opened, the drvs are still read:
    // a malformed one (exit 2) comes before a missing index (exit 5).
    std::optional<Error> index_error;
    auto index = open_index_for_answers(ctx.settings.get("db"), index_error);
    std::optional<index::Snapshot> snapshot;
    std::optional<GateRun> run;
    if (index) {
        snapshot.emplace(index->snapshot());
        run.emplace(*index, ctx.json, not_before,
                    HumanStyle{use_color(), now, output_width(), false});
    }
    const gate::Visit check = [&](const gate::Closure& closure, size_t begin, size_t end) {
        if (run) {
            run->check(closure, begin, end);
        }
    };
    // Drvs that cannot be read are reported after the others were checked
    // (exit 2), as lookup answers every valid key beside a malformed one.
    std::vector<Error> bad_drvs;
    const auto chroot_stores = nix_chroot_stores();
    gate::Closure closure;
    if (from_dry_run) {
        const auto file = ctx.options["from-dry-run"].as<std::string>();
        const auto dry_run =
            gate::parse_dry_run(read_all(file), file == "-" ? "dry-run output (stdin)"
                                                            : "dry-run output " + quote(file));
        std::vector<std::string> drvs;
        for (const auto& path : dry_run.will_build) {
            if (path.ends_with(core::k_drv_suffix)) {
                drvs.push_back(path);
            }
        }
        closure = gate::flat_closure(drvs);
        if (!ctx.args.empty()) {
            // Drvs given beside the dry run are walked, and their closure added;
            // a drv in both is checked once.
            merge(closure, gate::walk_closure(ctx.args, store_root, {}, &bad_drvs, chroot_stores));
        }
        check(closure, 0, closure.nodes.size());
    } else {
        closure = gate::walk_closure(ctx.args, store_root, check, &bad_drvs, chroot_stores);
    }
    const auto report_bad_drvs = [&] {
        for (const auto& bad : bad_drvs) {
            print_error(bad.what());
        }
    };
    if (!run) {
        if (!bad_drvs.empty()) {
            // 2 before 5: the drvs' errors decide the exit.
            report_bad_drvs();
            print_error(index_error->what());
            return static_cast<int>(ExitCode::usage);
        }
        throw Error(index_error->what(), index_error->code());
    }
    const bool synced = index->ever_synced();
    if (!synced) {
        print_warning(index->path() +
                      ": the index was never synced; only local failures are checked");
    }
    // A local failure in a never-synced index still blocks (it is the only
    // evidence there is, and a wrapper treats 5 as "no gate"); with nothing
    // found, a never-synced index is exit 5 as for lookup, not a clean 0.
    int code = 0;
    if (!bad_drvs.empty()) {
        code = static_cast<int>(ExitCode::usage);
    } else if (policy == "fail" && run->permanent > 0) {
        code = static_cast<int>(ExitCode::failure);
    } else if (policy == "fail" && !synced) {
        code = static_cast<int>(ExitCode::no_index);
    } else if (policy == "fail" && strict && run->transient > 0) {
        code = static_cast<int>(ExitCode::transient);
    }
    if (ctx.json) {
        run->out += R"({"summary":true,"drvs":)" + std::to_string(closure.nodes.size()) +
                    ",\"permanent\":" + std::to_string(run->permanent) +
                    ",\"transient\":" + std::to_string(run->transient) +
                    ",\"succeeded\":" + std::to_string(run->good) +
                    ",\"unknown\":" + std::to_string(run->unknown) +
                    ",\"exit\":" + std::to_string(code) + "}\n";
    }
    if (!ctx.json) {
        append_human_table(run->out, run->failures, run->style);
    }
    write_stdout(run->out);
    std::fflush(stdout);
    const std::string summary = wrap_list(
        "gate: " + plural(closure.nodes.size(), "drv") + " checked: ",
        {std::to_string(run->permanent) + " failed", std::to_string(run->transient) + " transient",
         std::to_string(run->good) + " succeeded",
         std::to_string(run->unknown) + " never built by Hydra"},
        80, 6);
    std::fprintf(stderr, "%s\n", summary.c_str());
    if (run->transient > 0 && !strict && policy == "fail") {
        print_warning("transient failures (aborted, timed out, queued, ...) do not block without "
                      "--strict");
    }
    report_bad_drvs();
    return code;
}

} // namespace hs::cli
