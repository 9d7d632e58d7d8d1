#include "gate/dry_run.hpp"

#include "core/error.hpp"
#include "core/store_path.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace hs::gate {

namespace {

// What the lines being read belong to: a list (whose header came last), a
// message of Nix (whose indented continuation lines are skipped), or
// nothing.
enum class Section { none, build, fetch, unknown, message };

bool is_digit(char c) {
    return c >= '0' && c <= '9';
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
    while (!out.empty() && is_blank(out.back())) {
        out.pop_back();
    }
    const size_t carriage_return = out.rfind('\r');
    if (carriage_return != std::string::npos) {
        out.erase(0, carriage_return + 1);
    }
    return out;
}

// A list header: which list, and how many paths it announces (absent in
// the wording of Nix < 2.4).
struct Header {
    Section section = Section::none;
    std::optional<size_t> count;
};

// Reads "these " [<count> " "] <noun> at the start of line (the count is
// absent before Nix 2.4) and returns the rest of the line, or nullopt.
std::optional<std::string_view> after_these(std::string_view line, std::string_view noun,
                                            std::optional<size_t>& count) {
    constexpr std::string_view k_these = "these ";
    if (!line.starts_with(k_these)) {
        return std::nullopt;
    }
    line.remove_prefix(k_these.size());
    size_t digits = 0;
    size_t value = 0;
    while (digits < line.size() && is_digit(line[digits])) {
        // A count too large for any store is one that no list matches.
        value =
            value > SIZE_MAX / 20 ? SIZE_MAX : value * 10 + static_cast<size_t>(line[digits] - '0');
        ++digits;
    }
    if (digits > 0) {
        if (digits == line.size() || line[digits] != ' ') {
            return std::nullopt;
        }
        count = value;
        line.remove_prefix(digits + 1);
    }
    if (!line.starts_with(noun)) {
        return std::nullopt;
    }
    return line.substr(noun.size());
}

// The list headers of every Nix version:
//   "this derivation will be built:"              (one; Nix >= 2.4)
//   "these [N] derivations will be built:"        (no count before 2.4)
//   "the following derivations will be built:"    (Nix < 1.0)
//   "this path will be fetched (<sizes>):"
//   "these [N] paths will be fetched (<sizes>):"
//   "the following paths will be downloaded/copied (<size>):"
//   "don't know how to build these paths[ (may be caused by read-only store access)]:"
std::optional<Header> parse_header(std::string_view line) {
    if (line == "this derivation will be built:") {
        return Header{Section::build, 1};
    }
    if (line == "the following derivations will be built:") {
        return Header{Section::build, std::nullopt};
    }
    Header header;
    if (const auto rest = after_these(line, "derivations will be built:", header.count)) {
        if (!rest->empty()) {
            return std::nullopt;
        }
        header.section = Section::build;
        return header;
    }
    if (line.ends_with("):")) {
        if (line.starts_with("this path will be fetched (")) {
            return Header{Section::fetch, 1};
        }
        if (line.starts_with("the following paths will be downloaded/copied (")) {
            return Header{Section::fetch, std::nullopt};
        }
        header.count.reset();
        if (after_these(line, "paths will be fetched (", header.count)) {
            header.section = Section::fetch;
            return header;
        }
    }
    if (line == "don't know how to build these paths:" ||
        line == "don't know how to build these paths (may be caused by read-only store access):") {
        return Header{Section::unknown, std::nullopt};
    }
    return std::nullopt;
}

// A message that Nix may print around its report: a warning (also "warning:
// error: unable to download ..."), the output of builtins.warn and
// builtins.trace, an error that Nix ignored. Indented lines below it are its
// continuation.
bool is_message(std::string_view line) {
    constexpr std::array<std::string_view, 4> k_prefixes = {
        "warning: ", "evaluation warning: ", "trace: ", "error (ignored): "};
    return std::ranges::any_of(k_prefixes,
                               [&](std::string_view prefix) { return line.starts_with(prefix); });
}

class Parser {
public:
    explicit Parser(std::string_view origin) : m_origin(origin) {}

    void line(size_t number, const std::string& line) {
        m_number = number;
        if (line.empty()) {
            // A blank line ends a list; a message may hold blank lines.
            if (m_section != Section::message) {
                close();
            }
            return;
        }
        m_any_text = true;
        if (!is_blank(line.front())) {
            close();
            if (const auto header = parse_header(line)) {
                m_section = header->section;
                m_list = OpenList{number, line, header->count, 0};
                m_any_list = true;
            } else if (is_message(line)) {
                m_section = Section::message;
            } else if (line.starts_with("error:")) {
                fail(number, "Nix reported an error: " + quote(line));
            } else {
                fail(number, quote(line) + " is not part of a Nix dry-run report");
            }
            return;
        }
        const std::string_view path = std::string_view(line).substr(line.find_first_not_of(" \t"));
        switch (m_section) {
        case Section::none:
            fail(number, quote(path) + " is not part of a Nix dry-run report (no list above it)");
        case Section::message:
            return;
        case Section::build:
        case Section::fetch:
        case Section::unknown:
            list_path(path);
            return;
        }
    }

    DryRun finish() {
        close();
        if (!m_any_list) {
            if (!m_any_text) {
                throw Error(std::string(m_origin) +
                                " is empty: Nix prints its dry-run report on stderr (2>&1), and "
                                "prints nothing when nothing is to be built or fetched",
                            ExitCode::usage);
            }
            throw Error(std::string(m_origin) +
                            " has no list of what will be built or fetched, only messages (Nix's "
                            "--quiet hides the list; Nix prints none when nothing is to be built "
                            "or fetched)",
                        ExitCode::usage);
        }
        return std::move(m_result);
    }

private:
    struct OpenList {
        size_t line_number = 0;
        std::string header;
        std::optional<size_t> count;
        size_t paths = 0;
    };

    void list_path(std::string_view path) {
        std::string why;
        const auto parsed = core::parse_store_path(path, &why);
        if (!parsed) {
            fail(m_number, quote(path) + " is not a store path: " + why);
        }
        ++m_list.paths;
        if (m_section == Section::build) {
            if (!parsed->is_drv()) {
                fail(m_number, quote(path) + " is to be built but is not a .drv");
            }
            m_result.will_build.emplace_back(path);
        } else if (m_section == Section::fetch) {
            m_result.will_fetch.emplace_back(path);
        }
    }

    // Ends the current section; a list must hold as many paths as its header
    // says (a report cut short must not pass as a shorter one).
    void close() {
        if (m_section != Section::none && m_section != Section::message) {
            const size_t want = m_list.count.value_or(m_list.paths == 0 ? 1 : m_list.paths);
            if (m_list.paths != want) {
                fail(m_list.line_number, quote(m_list.header) + " is followed by " +
                                             std::to_string(m_list.paths) +
                                             (m_list.paths == 1 ? " path" : " paths"));
            }
        }
        m_section = Section::none;
    }

    [[noreturn]] void fail(size_t number, const std::string& why) const {
        throw Error(std::string(m_origin) + " line " + std::to_string(number) + ": " + why,
                    ExitCode::usage);
    }

    std::string_view m_origin;
    DryRun m_result;
    Section m_section = Section::none;
    OpenList m_list;
    size_t m_number = 0;
    bool m_any_list = false;
    bool m_any_text = false;
};

} // namespace

DryRun parse_dry_run(std::string_view text, std::string_view origin) {
    Parser parser(origin);
    size_t line_number = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        ++line_number;
        parser.line(line_number, clean_line(text.substr(start, end - start)));
        start = end + 1;
    }
    return parser.finish();
}

} // namespace hs::gate
