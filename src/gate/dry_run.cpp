#include "gate/dry_run.hpp"

#include "core/error.hpp"
#include "core/store_path.hpp"

#include <string>

namespace hs::gate {

namespace {

enum class Section { none, build, fetch, unknown };

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

// Removes terminal control sequences ESC '[' <parameters> <final byte>:
// colours (\e[35;1m, \e[0m) and the progress bar's \e[K. A line the
// progress bar rewrote with '\r' keeps only its last version.
std::string clean_line(std::string_view line) {
    std::string out;
    out.reserve(line.size());
    size_t i = 0;
    while (i < line.size()) {
        if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
            size_t j = i + 2;
            while (j < line.size() && (is_digit(line[j]) || line[j] == ';' || line[j] == '?')) {
                ++j;
            }
            if (j < line.size() &&
                ((line[j] >= 'A' && line[j] <= 'Z') || (line[j] >= 'a' && line[j] <= 'z'))) {
                i = j + 1;
                continue;
            }
        }
        out += line[i];
        ++i;
    }
    while (!out.empty() && (out.back() == '\r' || is_blank(out.back()))) {
        out.pop_back();
    }
    const size_t carriage_return = out.rfind('\r');
    if (carriage_return != std::string::npos) {
        out.erase(0, carriage_return + 1);
    }
    return out;
}

// "these " [<count> " "] <noun> ... : the count is absent before Nix 2.4.
bool starts_with_these(std::string_view line, std::string_view noun) {
    constexpr std::string_view k_these = "these ";
    if (!line.starts_with(k_these)) {
        return false;
    }
    line.remove_prefix(k_these.size());
    size_t digits = 0;
    while (digits < line.size() && is_digit(line[digits])) {
        ++digits;
    }
    if (digits > 0) {
        if (digits == line.size() || line[digits] != ' ') {
            return false;
        }
        line.remove_prefix(digits + 1);
    }
    return line.starts_with(noun);
}

// "this derivation will be built:" (one, Nix >= 2.4), "these [N]
// derivations will be built:", "the following derivations will be built:"
// (Nix < 1.0).
bool is_build_header(std::string_view line) {
    return line == "this derivation will be built:" ||
           line == "the following derivations will be built:" ||
           (starts_with_these(line, "derivations will be built:") &&
            line.ends_with("derivations will be built:"));
}

// "this path will be fetched (<sizes>):", "these [N] paths will be fetched
// (<sizes>):", "the following paths will be downloaded/copied (<size>):".
bool is_fetch_header(std::string_view line) {
    if (!line.ends_with("):")) {
        return false;
    }
    return line.starts_with("this path will be fetched (") ||
           starts_with_these(line, "paths will be fetched (") ||
           line.starts_with("the following paths will be downloaded/copied (");
}

// "don't know how to build these paths:", optionally with " (may be caused
// by read-only store access)" before the colon.
bool is_unknown_header(std::string_view line) {
    return line.starts_with("don't know how to build these paths") && line.ends_with(":");
}

[[noreturn]] void fail(size_t line_number, std::string_view path, const std::string& why) {
    throw Error("dry-run output line " + std::to_string(line_number) + ": " + quote(path) + " " +
                    why,
                ExitCode::usage);
}

} // namespace

DryRun parse_dry_run(std::string_view text) {
    DryRun result;
    Section section = Section::none;
    size_t line_number = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        ++line_number;
        const std::string line = clean_line(text.substr(start, end - start));
        start = end + 1;

        if (line.empty()) {
            section = Section::none;
            continue;
        }
        if (!is_blank(line.front())) {
            if (is_build_header(line)) {
                section = Section::build;
            } else if (is_fetch_header(line)) {
                section = Section::fetch;
            } else if (is_unknown_header(line)) {
                section = Section::unknown;
            } else {
                section = Section::none; // a warning, an error, a build log line...
            }
            continue;
        }
        if (section == Section::none || section == Section::unknown) {
            continue;
        }
        const std::string_view path = std::string_view(line).substr(line.find_first_not_of(" \t"));
        std::string why;
        const auto parsed = core::parse_store_path(path, &why);
        if (!parsed) {
            fail(line_number, path, "is not a store path: " + why);
        }
        if (section == Section::build) {
            if (!parsed->is_drv()) {
                fail(line_number, path, "is to be built but is not a .drv");
            }
            result.will_build.emplace_back(path);
        } else {
            result.will_fetch.emplace_back(path);
        }
    }
    return result;
}

} // namespace hs::gate
