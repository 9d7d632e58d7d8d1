#include "cli/local_cmd.hpp"

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

index::IndexWriter open_for_writing(const Settings& settings) {
    const std::string& db = settings.values().db;
    if (settings.origin_kind("db") == OriginKind::default_value) {
        std::filesystem::create_directories(std::filesystem::path(db).parent_path());
    }
    return index::IndexWriter::open(db);
}

// The index file and its -wal: what the index takes on disk.
int64_t index_bytes(const std::string& path) {
    int64_t bytes = 0;
    for (const auto& file : {path, path + "-wal"}) {
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0) {
            bytes += st.st_size;
        }
    }
    return bytes;
}

} // namespace

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
    return utc_time(t, "%Y-%m-%d %H:%M:%SZ");
}

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

std::string info_json(const IndexInfo& info) {
    std::string out;
    for (const auto& jobset : info.jobsets) {
        const auto& state = jobset.state;
        out += "{\"jobset\":";
        append_json_string(out, state.project + ":" + state.name);
        out += ",\"url\":";
        append_json_string(out, state.url);
        out += ",\"synced_at\":" + (state.synced_at ? std::to_string(*state.synced_at) : "null") +
               ",\"newest_eval\":" +
               (state.newest_eval ? std::to_string(*state.newest_eval) : "null") +
               ",\"evals\":" + std::to_string(jobset.evals) +
               ",\"builds\":" + std::to_string(jobset.builds) + "}\n";
    }
    out += "{\"index\":";
    append_json_string(out, info.path);
    out += ",\"size\":" + std::to_string(info.bytes) +
           ",\"jobsets\":" + std::to_string(info.jobsets.size());
    if (info.source) {
        out += R"(,"source":{"url":)";
        append_json_string(out, info.source->url);
        out += ",\"created\":" + std::to_string(info.source->created) +
               ",\"pulled_at\":" + std::to_string(info.source->pulled_at) + R"(,"signed_by":)";
        if (info.source->signed_by.empty()) {
            out += "null";
        } else {
            append_json_string(out, info.source->signed_by);
        }
        out += "}";
    } else {
        out += R"(,"source":null)";
    }
    out += "}\n";
    return out;
}

// 80 columns with any jobset name and URL of up to 65 characters; paths are
// not cut.
std::string info_human(const IndexInfo& info, int64_t now) {
    std::string out;
    const auto line = [&out](std::string_view indent, std::string_view label,
                             const std::string& value) {
        out += indent;
        out += label;
        out.append(13 - indent.size() - label.size() + 2, ' ');
        out += value + "\n";
    };
    line("", "index", info.path);
    line("", "size", std::to_string(info.bytes / 1024) + " KiB");
    if (info.source) {
        const auto& source = *info.source;
        line("", "pulled from", source.url);
        line("", "snapshot of",
             iso_time(source.created) + " (" + relative_age(source.created, now) + ")");
        line("", "last pull",
             iso_time(source.pulled_at) + " (" + relative_age(source.pulled_at, now) + ")");
        line("", "signed by",
             source.signed_by.empty() ? "not verified (--no-verify)" : source.signed_by);
    }
    for (const auto& jobset : info.jobsets) {
        const auto& state = jobset.state;
        out += state.project + ":" + state.name + "\n";
        line("  ", "url", state.url);
        line("  ", "last sync",
             state.synced_at
                 ? iso_time(*state.synced_at) + " (" + relative_age(*state.synced_at, now) + ")"
                 : std::string("never"));
        line("  ", "newest eval", state.newest_eval ? std::to_string(*state.newest_eval) : "none");
        line("  ", "evals", std::to_string(jobset.evals));
        line("  ", "builds", std::to_string(jobset.builds));
    }
    if (info.jobsets.empty()) {
        out += "no jobsets synced yet (run 'hydra-status sync --jobset PROJECT:JOBSET')\n";
    }
    return out;
}

int info_command(Context& ctx) {
    if (!ctx.args.empty()) {
        throw UsageError("info takes no arguments");
    }
    auto index = index::IndexReader::open(ctx.settings.values().db);
    IndexInfo info;
    info.jobsets = index.jobsets();
    info.path = index.path();
    info.bytes = index_bytes(info.path);
    info.source = index.replica_source();
    write_stdout(ctx.json ? info_json(info) : info_human(info, unix_now()));
    return 0;
}

} // namespace hs::cli
