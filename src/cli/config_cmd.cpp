// `config show|get|keys` and the hidden `jobsets --complete` that shell
// completions call.
#include "cli/config_cmd.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/settings.hpp"
#include "core/error.hpp"
#include "core/url.hpp"
#include "index/index.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace hs::cli {

namespace {

// Human output is laid out for this many columns.
constexpr size_t k_columns = 80;

std::string spaces(size_t n) {
    return std::string(n, ' ');
}

std::string pad_right(const std::string& text, size_t width) {
    const auto used = display_width(text);
    return used >= width ? text : text + spaces(width - used);
}

// Appends `prefix` and `text` at column `indent`, wrapped within k_columns;
// the text's further lines start below its first.
void append_wrapped(std::string& out, std::string_view text, size_t indent,
                    std::string_view prefix = {}) {
    const size_t text_at = indent + prefix.size();
    bool first = true;
    for (const auto& piece : wrap_columns(text, k_columns - text_at)) {
        out += first ? spaces(indent) + std::string(prefix) : spaces(text_at);
        out += piece + "\n";
        first = false;
    }
}

// Says on stderr what is wrong with each flagged value; the exit code.
int report_problems(const Settings& settings, const std::map<std::string, std::string>& problems) {
    for (const auto& [key, why] : problems) {
        print_error(settings.origin(key) + ": " + key + ": " + why);
    }
    return problems.empty() ? 0 : static_cast<int>(ExitCode::usage);
}

void show_json(const Settings& settings, std::string& out) {
    const auto& problems = settings.problems();
    for (const auto& spec : setting_specs()) {
        const std::string key = spec.key;
        const auto kind = settings.origin_kind(key);
        out += "{\"key\":";
        append_json_string(out, key);
        out += ",\"value\":";
        append_json_string(out, shown_value(settings, key));
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
        out += ",\"problem\":";
        if (const auto found = problems.find(key); found != problems.end()) {
            append_json_string(out, found->second);
        } else {
            out += "null";
        }
        out += "}\n";
    }
}

// KEY, VALUE and ORIGIN in columns within 80: a value too long for its
// column, or an origin that would pass column 80, puts the origin on a line
// of its own; a value longer than a line wraps. A value that is not valid is
// followed by a line "! why".
void show_human(const Settings& settings, std::string& out) {
    const auto& problems = settings.problems();
    // A value longer than this (a deep db path) does not push every origin
    // away: it gets a line of its own.
    constexpr size_t k_value_column_max = 28;
    size_t key_width = 3;
    size_t value_width = 5;
    for (const auto& spec : setting_specs()) {
        key_width = std::max(key_width, display_width(spec.key));
        const auto value_columns = display_width(shown_value(settings, spec.key));
        if (value_columns <= k_value_column_max) {
            value_width = std::max(value_width, value_columns);
        }
    }
    const size_t value_at = key_width + 2;
    const size_t origin_at = value_at + value_width + 2;
    out += pad_right("KEY", key_width) + "  " + pad_right("VALUE", value_width) + "  ORIGIN\n";
    for (const auto& spec : setting_specs()) {
        const auto value = shown_value(settings, spec.key);
        const auto& origin = settings.origin(spec.key);
        const auto origin_columns = display_width(origin);
        if (display_width(value) <= value_width && origin_at + origin_columns <= k_columns) {
            out += pad_right(spec.key, key_width) + "  " + pad_right(value, value_width) + "  " +
                   origin + "\n";
        } else {
            auto pieces = wrap_columns(value, k_columns - value_at);
            out += pad_right(spec.key, key_width) + "  " + pieces.front() + "\n";
            for (size_t i = 1; i < pieces.size(); ++i) {
                out += spaces(value_at) + pieces[i] + "\n";
            }
            // Under ORIGIN, or as far right as it fits, but indented past
            // the value's own lines.
            const size_t fits_at = origin_columns < k_columns ? k_columns - origin_columns : 0;
            append_wrapped(out, origin, std::max(value_at + 2, std::min(origin_at, fits_at)));
        }
        if (const auto found = problems.find(spec.key); found != problems.end()) {
            append_wrapped(out, "not valid: " + found->second, value_at, "! ");
        }
    }
    out += "\nconfig files, lowest layer first:\n";
    for (const auto& file : settings.config_files()) {
        const std::string kind = file.kind == OriginKind::system_file ? "system" : "user";
        const auto text = file.path + (file.read ? "" : " (not present)");
        const auto pieces = wrap_columns(text, k_columns - 10);
        out += "  " + pad_right(kind, 6) + "  " + pieces.front() + "\n";
        for (size_t i = 1; i < pieces.size(); ++i) {
            out += spaces(10) + pieces[i] + "\n";
        }
    }
}

} // namespace

std::pair<std::string, int> split_file_origin(const std::string& origin) {
    const auto colon = origin.rfind(':');
    if (colon == std::string::npos) {
        return {origin, 0};
    }
    return {origin.substr(0, colon), std::stoi(origin.substr(colon + 1))};
}

std::string shown_value(const Settings& settings, std::string_view key) {
    const auto& value = settings.text(key);
    return key == "url" || key == "from" ? core::redact_url(value) : value;
}

std::vector<std::string> wrap_columns(std::string_view text, size_t width) {
    std::vector<std::string> pieces;
    while (display_width(text) > width) {
        size_t cut = 0; // bytes of the first `width` columns
        size_t columns = 0;
        size_t soft_cut = 0; // after the last '/' or blank in them
        while (cut < text.size()) {
            size_t next = cut + 1;
            while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) {
                ++next;
            }
            if (columns == width) {
                break;
            }
            ++columns;
            if (text[cut] == '/' || text[cut] == ' ') {
                soft_cut = next;
            }
            cut = next;
        }
        if (soft_cut > 0 && soft_cut < cut) {
            cut = soft_cut;
        }
        auto piece = text.substr(0, cut);
        while (piece.ends_with(' ')) {
            piece.remove_suffix(1); // a blank at a break is not shown
        }
        pieces.emplace_back(piece);
        text.remove_prefix(cut);
    }
    pieces.emplace_back(text);
    return pieces;
}

std::string config_json(const Settings& settings) {
    std::string out;
    show_json(settings, out);
    return out;
}

std::string config_table(const Settings& settings) {
    std::string out;
    show_human(settings, out);
    return out;
}

ConfigRequest parse_config_args(const std::vector<std::string>& args) {
    ConfigRequest request{args.empty() ? "show" : args.front(), {}};
    if (request.sub == "show" || request.sub == "keys") {
        if (args.size() > 1) {
            throw UsageError("config " + request.sub + ": unexpected argument " + quote(args[1]));
        }
    } else if (request.sub == "get") {
        if (args.size() != 2) {
            throw UsageError("config get: expected one KEY");
        }
        request.key = args[1];
        if (!find_setting(request.key)) {
            throw UsageError("config get: unknown key " + quote(request.key) +
                             " (see 'hydra-status config show')");
        }
    } else {
        throw UsageError("config: unknown subcommand " + quote(request.sub) +
                         " (expected show or get)");
    }
    return request;
}

void config_options(po::options_description&) {}

int config_command(Context& ctx) {
    const auto request = parse_config_args(ctx.args);
    const auto& settings = ctx.settings;
    std::string out;
    // A value that is not valid is shown and marked, then named on stderr:
    // exit 2, as any other command would.
    std::map<std::string, std::string> problems;
    if (request.sub == "keys") {
        for (const auto& spec : setting_specs()) {
            out += std::string(spec.key) + "\n";
        }
    } else if (request.sub == "get") {
        out += shown_value(settings, request.key) + "\n";
        if (const auto found = settings.problems().find(request.key);
            found != settings.problems().end()) {
            problems.insert(*found);
        }
    } else {
        out += ctx.json ? config_json(settings) : config_table(settings);
        problems = settings.problems();
    }
    write_stdout(out);
    std::fflush(stdout); // the table first, then what is wrong in it
    return report_problems(settings, problems);
}

void jobsets_options(po::options_description& desc) {
    desc.add_options()("complete", "for shell completion: never fail, print nothing on errors");
}

int jobsets_command(Context& ctx) {
    const bool complete = ctx.options.count("complete") > 0;
    std::set<std::string> names;
    for (const auto& name : ctx.settings.values().jobsets) {
        names.insert(name.text());
    }
    try {
        auto index = index::IndexReader::open(ctx.settings.values().db);
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
