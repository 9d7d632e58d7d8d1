#include "sync/evals_html.hpp"

#include "core/sha256.hpp"
#include "core/text.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace hs::sync {

namespace {

constexpr std::string_view k_title_prefix = "Hydra - Evaluations of jobset ";
constexpr size_t k_cells = 7;       // #, date, input changes, succeeded, failed, queued, delta
constexpr size_t k_max_digits = 18; // fits int64_t

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

void skip_spaces(std::string_view text, size_t& at) {
    while (at < text.size() && is_space(text[at])) {
        ++at;
    }
}

// A non-negative decimal number of 1 to 18 digits, nothing else.
std::optional<int64_t> parse_number(std::string_view digits) {
    if (digits.empty() || digits.size() > k_max_digits) {
        return std::nullopt;
    }
    int64_t value = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

// Reads the digits at `at` (advancing past them).
std::optional<int64_t> read_number(std::string_view text, size_t& at) {
    const size_t start = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        ++at;
    }
    return parse_number(text.substr(start, at - start));
}

// Consumes `word` at `at` after optional whitespace.
bool expect(std::string_view text, size_t& at, std::string_view word) {
    skip_spaces(text, at);
    if (text.substr(at).starts_with(word)) {
        at += word.size();
        return true;
    }
    return false;
}

// The text between the first `open` at or after `at` and the next `close`;
// `at` moves past `close`.
std::optional<std::string_view> between(std::string_view text, size_t& at, std::string_view open,
                                        std::string_view close) {
    const size_t start = text.find(open, at);
    if (start == std::string_view::npos) {
        return std::nullopt;
    }
    const size_t inner = start + open.size();
    const size_t end = text.find(close, inner);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    at = end + close.size();
    return text.substr(inner, end - inner);
}

// "<first> - <last> out of <total>.</p>" after "<p>Showing evaluations".
Expected<void> parse_showing(std::string_view text, size_t& at, EvalsHtmlPage& out) {
    const size_t start = text.find("<p>Showing evaluations ", at);
    if (start == std::string_view::npos) {
        return Unexpected{"no \"showing evaluations\" line"};
    }
    at = start + std::string_view("<p>Showing evaluations ").size();
    std::optional<int64_t> first;
    std::optional<int64_t> last;
    std::optional<int64_t> total;
    skip_spaces(text, at);
    first = read_number(text, at);
    if (first && expect(text, at, "-")) {
        skip_spaces(text, at);
        last = read_number(text, at);
    }
    if (last && expect(text, at, "out") && expect(text, at, "of")) {
        skip_spaces(text, at);
        total = read_number(text, at);
    }
    if (!total || !expect(text, at, ".</p>")) {
        return Unexpected{"unreadable \"showing evaluations\" line"};
    }
    out.first = *first;
    out.last = *last;
    out.total = *total;
    const bool empty = out.total == 0 && out.last + 1 == out.first;
    const bool range = out.first >= 1 && out.first <= out.last && out.last <= out.total;
    if (!empty && !range) {
        return Unexpected{"\"showing evaluations\" line with an impossible range"};
    }
    return {};
}

// A count cell: exactly `<span class="badge badge-<kind>">N</span>`, or
// nothing when Hydra leaves out a zero count (`optional`).
Expected<void> parse_badge(std::string_view cell, std::string_view kind, bool optional,
                           int64_t& out) {
    const std::string_view content = trim(cell);
    if (content.empty() && optional) {
        out = 0;
        return {};
    }
    const std::string open = "<span class=\"badge badge-" + std::string(kind) + "\">";
    constexpr std::string_view close = "</span>";
    if (!content.starts_with(open) || !content.ends_with(close)) {
        return Unexpected{"no " + std::string(kind) + " badge"};
    }
    const auto value =
        parse_number(content.substr(open.size(), content.size() - open.size() - close.size()));
    if (!value) {
        return Unexpected{"a " + std::string(kind) + " badge without a count"};
    }
    out = *value;
    return {};
}

// The first cell: `<a class="row-link" href="<base>/eval/<id>"><id></a>`.
Expected<void> parse_id_cell(std::string_view cell, int64_t& id) {
    const std::string_view content = trim(cell);
    constexpr std::string_view open = R"(<a class="row-link" href=")";
    if (!content.starts_with(open)) {
        return Unexpected{"no link to the eval"};
    }
    size_t at = open.size();
    const size_t href_end = content.find('"', at);
    if (href_end == std::string_view::npos || content.substr(href_end, 2) != "\">") {
        return Unexpected{"no link to the eval"};
    }
    const std::string_view href = content.substr(at, href_end - at);
    at = href_end + 2;
    const size_t text_end = content.find("</a>", at);
    if (text_end == std::string_view::npos || text_end + 4 != content.size()) {
        return Unexpected{"no link to the eval"};
    }
    const std::string_view text = content.substr(at, text_end - at);
    const auto value = parse_number(text);
    if (!value || *value == 0) {
        return Unexpected{"an eval link without an eval id"};
    }
    const std::string suffix = "/eval/" + std::string(text);
    if (!href.ends_with(suffix)) {
        return Unexpected{"an eval link to another page"};
    }
    id = *value;
    return {};
}

Expected<void> parse_row(std::string_view row, EvalRow& out) {
    std::vector<std::string_view> cells;
    size_t at = 0;
    while (true) {
        skip_spaces(row, at);
        if (at == row.size()) {
            break;
        }
        if (!row.substr(at).starts_with("<td") || cells.size() == k_cells) {
            return Unexpected{"a row that is not Hydra's"};
        }
        const size_t open_end = row.find('>', at);
        const size_t close = row.find("</td>", at);
        if (open_end == std::string_view::npos || close == std::string_view::npos ||
            close < open_end) {
            return Unexpected{"a row that is not Hydra's"};
        }
        cells.push_back(row.substr(open_end + 1, close - open_end - 1));
        at = close + std::string_view("</td>").size();
    }
    if (cells.size() != k_cells) {
        return Unexpected{"a row of " + std::to_string(cells.size()) + " cells instead of 7"};
    }
    if (auto why = parse_id_cell(cells[0], out.id); !why) {
        return why;
    }
    size_t time_at = 0;
    const auto stamp = between(cells[1], time_at, "data-timestamp=\"", "\"");
    const auto timestamp = stamp ? parse_number(*stamp) : std::nullopt;
    if (!timestamp) {
        return Unexpected{"eval " + std::to_string(out.id) + ": no timestamp"};
    }
    out.timestamp = *timestamp;
    for (const auto& [cell, kind, optional, value] :
         {std::tuple{cells[3], "success", false, &out.succeeded},
          std::tuple{cells[4], "danger", true, &out.failed},
          std::tuple{cells[5], "secondary", true, &out.queued}}) {
        if (auto why = parse_badge(cell, kind, optional, *value); !why) {
            return Unexpected{"eval " + std::to_string(out.id) + ": " + why.error()};
        }
    }
    return {};
}

Expected<void> parse_table(std::string_view text, size_t& at, EvalsHtmlPage& out) {
    const auto body = between(text, at, "<tbody>", "</tbody>");
    if (!body) {
        return Unexpected{"no table of evaluations"};
    }
    size_t pos = 0;
    while (true) {
        skip_spaces(*body, pos);
        if (pos == body->size()) {
            break;
        }
        if (!body->substr(pos).starts_with("<tr>")) {
            return Unexpected{"unexpected text in the table of evaluations"};
        }
        const size_t end = body->find("</tr>", pos);
        if (end == std::string_view::npos) {
            return Unexpected{"an unterminated row"};
        }
        const size_t inner = pos + std::string_view("<tr>").size();
        EvalRow row;
        if (auto why = parse_row(body->substr(inner, end - inner), row); !why) {
            return Unexpected{"row " + std::to_string(out.rows.size() + 1) + ": " + why.error()};
        }
        if (!out.rows.empty() && row.id >= out.rows.back().id) {
            return Unexpected{"row " + std::to_string(out.rows.size() + 1) + ": eval " +
                              std::to_string(row.id) + " is not older than the row before"};
        }
        out.rows.push_back(row);
        pos = end + std::string_view("</tr>").size();
    }
    return {};
}

} // namespace

Expected<EvalsHtmlPage> parse_evals_html(std::string_view html) {
    EvalsHtmlPage out;
    size_t at = 0;
    const auto title = between(html, at, "<title>", "</title>");
    if (!title || !trim(*title).starts_with(k_title_prefix) ||
        trim(*title).size() == k_title_prefix.size()) {
        return Unexpected{"not Hydra's evaluations page (title)"};
    }
    if (auto why = parse_showing(html, at, out); !why) {
        return Unexpected{why.error()};
    }
    if (auto why = parse_table(html, at, out); !why) {
        return Unexpected{why.error()};
    }
    const int64_t expected = out.total == 0 ? 0 : out.last - out.first + 1;
    if (static_cast<int64_t>(out.rows.size()) != expected) {
        return Unexpected{std::to_string(out.rows.size()) + " rows where the page says " +
                          std::to_string(expected)};
    }
    return out;
}

std::string listing_digest(const std::vector<EvalRow>& rows) {
    std::string text;
    for (const auto& row : rows) {
        text += std::to_string(row.id) + ' ' + std::to_string(row.succeeded) + ' ' +
                std::to_string(row.failed) + ' ' + std::to_string(row.queued) + '\n';
    }
    return core::to_hex(core::sha256(text));
}

} // namespace hs::sync
