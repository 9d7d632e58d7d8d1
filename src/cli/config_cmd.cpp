// `config show|get|keys` and the hidden `jobsets --complete` that shell
// completions call.
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/settings.hpp"
#include "core/error.hpp"
#include "core/url.hpp"
#include "index/index.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace hs::cli {

namespace {

// "path:12" -> {"path", 12}; the path may itself contain ':'.
std::pair<std::string, int> split_file_origin(const std::string& origin) {
    const auto colon = origin.rfind(':');
    if (colon == std::string::npos) {
        return {origin, 0};
    }
    return {origin.substr(0, colon), std::stoi(origin.substr(colon + 1))};
}

// A setting's value as shown: credentials in the url never are.
std::string shown(const Settings& settings, const std::string& key) {
    const auto& value = settings.get(key);
    return key == "url" ? core::redact_url(value) : value;
}

std::string pad_right(const std::string& text, size_t width) {
    return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

void show_json(const Settings& settings, std::string& out) {
    for (const auto& spec : setting_specs()) {
        const std::string key = spec.key;
        const auto kind = settings.origin_kind(key);
        out += "{\"key\":";
        append_json_string(out, key);
        out += ",\"value\":";
        append_json_string(out, shown(settings, key));
        out += ",\"origin\":";
        append_json_string(out, origin_kind_name(kind));
        out += ",\"file\":";
        if (kind == OriginKind::system_file || kind == OriginKind::user_file) {
            const auto [file, line] = split_file_origin(settings.origin(key));
            append_json_string(out, file);
            out += ",\"line\":" + std::to_string(line);
        } else {
            out += "null,\"line\":null";
        }
        out += ",\"env\":";
        if (kind == OriginKind::environment && spec.env) {
            append_json_string(out, spec.env);
        } else {
            out += "null";
        }
        out += "}\n";
    }
}

void show_human(const Settings& settings, std::string& out) {
    size_t key_width = 3;
    size_t value_width = 5;
    for (const auto& spec : setting_specs()) {
        key_width = std::max(key_width, std::string(spec.key).size());
        value_width = std::max(value_width, shown(settings, spec.key).size());
    }
    // A very long value (a deep db path) does not push every origin away.
    value_width = std::min<size_t>(value_width, 48);
    out += pad_right("KEY", key_width) + "  " + pad_right("VALUE", value_width) + "  ORIGIN\n";
    for (const auto& spec : setting_specs()) {
        out += pad_right(spec.key, key_width) + "  " +
               pad_right(shown(settings, spec.key), value_width) + "  " +
               settings.origin(spec.key) + "\n";
    }
    out += "\nconfig files, lowest layer first:\n";
    size_t path_width = 0;
    for (const auto& file : settings.config_files()) {
        path_width = std::max(path_width, file.path.size());
    }
    for (const auto& file : settings.config_files()) {
        out += "  " + pad_right(file.path, path_width) + "  " +
               (file.kind == OriginKind::system_file ? "system" : "user") +
               (file.read ? "" : ", not present") + "\n";
    }
}

} // namespace

void config_options(po::options_description&) {}

int config_command(Context& ctx) {
    const std::string sub = ctx.args.empty() ? "show" : ctx.args.front();
    std::string out;
    if (sub == "show" || sub == "keys") {
        if (ctx.args.size() > 1) {
            throw UsageError("config " + sub + ": unexpected argument " + quote(ctx.args[1]));
        }
        if (sub == "keys") {
            for (const auto& spec : setting_specs()) {
                out += std::string(spec.key) + "\n";
            }
        } else if (ctx.json) {
            show_json(ctx.settings, out);
        } else {
            show_human(ctx.settings, out);
        }
    } else if (sub == "get") {
        if (ctx.args.size() != 2) {
            throw UsageError("config get: expected one KEY");
        }
        const auto& key = ctx.args[1];
        const auto& specs = setting_specs();
        if (std::none_of(specs.begin(), specs.end(),
                         [&](const SettingSpec& spec) { return key == spec.key; })) {
            throw UsageError("config get: unknown key " + quote(key) +
                             " (see 'hydra-status config show')");
        }
        out += shown(ctx.settings, key) + "\n";
    } else {
        throw UsageError("config: unknown subcommand " + quote(sub) + " (expected show or get)");
    }
    write_stdout(out);
    return 0;
}

void jobsets_options(po::options_description& desc) {
    desc.add_options()("complete", "for shell completion: never fail, print nothing on errors");
}

int jobsets_command(Context& ctx) {
    const bool complete = ctx.options.count("complete") > 0;
    std::set<std::string> names;
    for (const auto& name : ctx.settings.get_list("jobsets")) {
        names.insert(name);
    }
    try {
        auto index = index::Index::open_read_only(ctx.settings.get("db"));
        for (const auto& info : index.jobsets()) {
            names.insert(info.state.project + ":" + info.state.name);
        }
    } catch (const std::exception&) {
        // A completion must not print errors into the user's command line:
        // with --complete a missing or broken index just offers nothing more.
        if (!complete) {
            throw;
        }
    }
    std::string out;
    for (const auto& name : names) {
        out += name + "\n";
    }
    write_stdout(out);
    return 0;
}

} // namespace hs::cli
