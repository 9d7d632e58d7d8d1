#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"
#include "index/index.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace hs::cli {

namespace {

core::StorePath parse_drv(const std::string& text) {
    std::string why;
    const auto key = core::parse_key(text, &why);
    if (!key) {
        throw UsageError("malformed drv " + quote(text) + ": " + why);
    }
    if (key->kind != core::KeyKind::drv_path && key->kind != core::KeyKind::drv_basename) {
        throw UsageError(quote(text) + " is not a .drv path");
    }
    return core::StorePath{key->hash, key->name};
}

index::IndexWriter open_for_writing(const Settings& settings) {
    const std::string db = settings.get("db");
    if (settings.origin("db") == "default") {
        std::filesystem::create_directories(std::filesystem::path(db).parent_path());
    }
    return index::IndexWriter::open(db);
}

// The absolute path of record's --log FILE, which must be a file that
// exists: a record pointing at no log helps nobody. Exit 2 otherwise.
std::string log_file(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        const int err = errno;
        throw Error("record: log file " + quote(file) +
                        (err == ENOENT ? std::string(" does not exist")
                                       : ": " + std::string(std::strerror(err))),
                    ExitCode::usage);
    }
    if (S_ISDIR(st.st_mode)) {
        throw Error("record: log file " + quote(file) + " is a directory", ExitCode::usage);
    }
    return std::filesystem::absolute(file).string();
}

std::string iso_time(int64_t t) {
    if (t == 0) {
        return "never";
    }
    char buf[32];
    const auto tt = static_cast<time_t>(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

} // namespace

void record_options(po::options_description& desc) {
    desc.add_options()                                                                 //
        ("failed", po::value<std::string>()->value_name("DRV"), "the drv that failed") //
        ("log", po::value<std::string>()->value_name("FILE"), "its build log")         //
        ("reason", po::value<std::string>()->value_name("TEXT"), "why it failed");
}

int record_command(Context& ctx) {
    if (!ctx.options.count("failed")) {
        throw UsageError("record: --failed DRV is required");
    }
    if (!ctx.args.empty()) {
        throw UsageError("record: unexpected argument " + quote(ctx.args.front()));
    }
    const auto drv = parse_drv(ctx.options["failed"].as<std::string>());
    // Left empty, a log or reason keeps the one recorded before.
    std::string log;
    if (ctx.options.count("log")) {
        log = log_file(ctx.options["log"].as<std::string>());
    }
    const std::string reason =
        ctx.options.count("reason") ? ctx.options["reason"].as<std::string>() : "";
    auto index = open_for_writing(ctx.settings);
    index.record_local_failure(drv, unix_now(), log, reason);
    return 0;
}

void forget_options(po::options_description& desc) {
    desc.add_options()("all", "forget every local failure record");
}

int forget_command(Context& ctx) {
    const bool all = ctx.options.count("all") > 0;
    if (ctx.args.empty() && !all) {
        throw UsageError("forget: give DRV... or --all");
    }
    std::vector<core::StorePath> drvs;
    for (const auto& arg : ctx.args) {
        drvs.push_back(parse_drv(arg));
    }
    auto index = open_for_writing(ctx.settings);
    if (all) {
        const auto n = index.forget_all_local_failures();
        std::fprintf(stderr, "forgot %lld local failure records\n", static_cast<long long>(n));
        return 0;
    }
    for (const auto& drv : drvs) {
        if (!index.forget_local_failure(drv.hash)) {
            print_warning("no local failure record for " + drv.path());
        }
    }
    return 0;
}

void info_options(po::options_description&) {}

int info_command(Context& ctx) {
    if (!ctx.args.empty()) {
        throw UsageError("info takes no arguments");
    }
    auto index = index::IndexReader::open(ctx.settings.get("db"));
    const auto jobsets = index.jobsets();
    struct stat st {};
    int64_t size = 0;
    if (::stat(index.path().c_str(), &st) == 0) {
        size = st.st_size;
    }
    const std::string wal = index.path() + "-wal";
    if (::stat(wal.c_str(), &st) == 0) {
        size += st.st_size;
    }
    std::string out;
    const int64_t now = unix_now();
    if (ctx.json) {
        for (const auto& info : jobsets) {
            out += "{\"jobset\":";
            append_json_string(out, info.state.project + ":" + info.state.name);
            out += ",\"url\":";
            append_json_string(out, info.state.url);
            out += ",\"synced_at\":" +
                   (info.state.synced_at ? std::to_string(*info.state.synced_at) : "null") +
                   ",\"newest_eval\":" +
                   (info.state.newest_eval ? std::to_string(*info.state.newest_eval) : "null") +
                   ",\"evals\":" + std::to_string(info.evals) +
                   ",\"builds\":" + std::to_string(info.builds) + "}\n";
        }
        out += "{\"index\":";
        append_json_string(out, index.path());
        out += ",\"size\":" + std::to_string(size) +
               ",\"jobsets\":" + std::to_string(jobsets.size()) + "}\n";
    } else {
        // Labels in one column, values from column 15 (80 columns with any
        // jobset name and URL of up to 65 characters; paths are not cut).
        const auto line = [&out](std::string_view indent, std::string_view label,
                                 const std::string& value) {
            out += indent;
            out += label;
            out.append(13 - indent.size() - label.size() + 2, ' ');
            out += value + "\n";
        };
        line("", "index", index.path());
        line("", "size", std::to_string(size / 1024) + " KiB");
        for (const auto& info : jobsets) {
            out += info.state.project + ":" + info.state.name + "\n";
            line("  ", "url", info.state.url);
            line("  ", "last sync",
                 info.state.synced_at ? iso_time(*info.state.synced_at) + " (" +
                                            relative_age(*info.state.synced_at, now) + ")"
                                      : std::string("never"));
            line("  ", "newest eval",
                 info.state.newest_eval ? std::to_string(*info.state.newest_eval) : "none");
            line("  ", "evals", std::to_string(info.evals));
            line("  ", "builds", std::to_string(info.builds));
        }
        if (jobsets.empty()) {
            out += "no jobsets synced yet (run 'hydra-status sync --jobset PROJECT:JOBSET')\n";
        }
    }
    write_stdout(out);
    return 0;
}

} // namespace hs::cli
