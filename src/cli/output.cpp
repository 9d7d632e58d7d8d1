#include "cli/output.hpp"

#include "core/store_path.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace hs::cli {

namespace {

void field(std::string& out, const char* name) {
    if (out.back() != '{') {
        out += ',';
    }
    out += '"';
    out += name;
    out += "\":";
}

void str_field(std::string& out, const char* name, std::string_view value) {
    field(out, name);
    append_json_string(out, value);
}

void null_field(std::string& out, const char* name) {
    field(out, name);
    out += "null";
}

// An empty text is none: null.
void text_field(std::string& out, const char* name, std::string_view value) {
    if (value.empty()) {
        null_field(out, name);
    } else {
        str_field(out, name, value);
    }
}

void int_field(std::string& out, const char* name, std::optional<int64_t> value) {
    field(out, name);
    out += value ? std::to_string(*value) : "null";
}

std::string build_url(const index::BuildRow& row) {
    return row.hydra_url + "/build/" + std::to_string(row.build_id);
}

void append_build_fields(std::string& out, const std::string& query, const index::BuildRow& row) {
    const auto status = hydra_status(row);
    str_field(out, "query", query);
    str_field(out, "status", status.word);
    str_field(out, "class", core::class_name(status.cls));
    str_field(out, "drv_path", row.drv_path());
    int_field(out, "build_id", row.build_id);
    const auto url = build_url(row);
    str_field(out, "build_url", url);
    str_field(out, "log_url", url + "/log");
    str_field(out, "raw_log_url", row.hydra_url + "/log/" + row.drv_basename());
    str_field(out, "job", row.job);
    str_field(out, "jobset", row.project + ":" + row.jobset);
    str_field(out, "system", row.system);
    int_field(out, "stoptime", row.finished ? row.stoptime : std::nullopt);
    if (row.finished && row.buildstatus) {
        int_field(out, "buildstatus", *row.buildstatus);
    } else {
        null_field(out, "buildstatus");
    }
    str_field(out, "source", "hydra");
    int_field(out, "synced_at", row.synced_at);
}

void append_unknown_fields(std::string& out, const std::string& query) {
    str_field(out, "query", query);
    str_field(out, "status", core::k_unknown_status.word);
    str_field(out, "class", core::class_name(core::StatusClass::unknown));
    for (const char* name : {"drv_path", "build_id", "build_url", "log_url", "raw_log_url", "job",
                             "jobset", "system", "stoptime", "buildstatus"}) {
        null_field(out, name);
    }
    str_field(out, "source", "hydra");
    null_field(out, "synced_at");
}

const char* mark_of(core::StatusClass cls) {
    switch (cls) {
    case core::StatusClass::good:
        return "✓";
    case core::StatusClass::permanent:
        return "✗";
    case core::StatusClass::transient:
        return "!";
    case core::StatusClass::unknown:
        break;
    }
    return "?";
}

const char* color_of(core::StatusClass cls) {
    switch (cls) {
    case core::StatusClass::good:
        return "\x1b[32m";
    case core::StatusClass::permanent:
        return "\x1b[31m";
    case core::StatusClass::transient:
        return "\x1b[33m";
    case core::StatusClass::unknown:
        break;
    }
    return "\x1b[2m";
}

// When a line has too little room, a long jobset gives some up first (down
// to k_cut_where columns), then the name (down to k_min_name), then the
// jobset again (down to k_min_where). Even the widest status word, jobset
// and age then fit in 80 columns.
constexpr size_t k_cut_where = 20;
constexpr size_t k_min_name = 16;
constexpr size_t k_min_where = 16;
constexpr size_t k_max_where = 28;
// Detail lines: "    label  text", 4 columns right of their row.
constexpr size_t k_detail_indent = 4;
constexpr size_t k_label_width = 6;
// With --all, rows are indented under the name of their key.
constexpr size_t k_history_indent = 2;

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

// Bytes of the first `columns` code points of text.
size_t prefix_bytes(std::string_view text, size_t columns) {
    size_t i = 0;
    while (i < text.size()) {
        if (!is_continuation(text[i])) {
            if (columns == 0) {
                break;
            }
            --columns;
        }
        ++i;
    }
    return i;
}

// Bytes of the last `columns` code points of text.
size_t suffix_bytes(std::string_view text, size_t columns) {
    size_t i = text.size();
    while (i > 0 && columns > 0) {
        --i;
        if (!is_continuation(text[i])) {
            --columns;
        }
    }
    return text.size() - i;
}

void pad(std::string& out, std::string_view text, size_t width) {
    out += text;
    for (size_t i = display_width(text); i < width; ++i) {
        out += ' ';
    }
}

void pad_left(std::string& out, std::string_view text, size_t width) {
    for (size_t i = display_width(text); i < width; ++i) {
        out += ' ';
    }
    out += text;
}

void trim_line(std::string& out, size_t line_start) {
    while (out.size() > line_start && out.back() == ' ') {
        out.pop_back();
    }
    out += '\n';
}

// Text from a user or a file (a reason, a log path), made safe for one line
// of a terminal: control bytes become spaces.
std::string one_line(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            c = ' ';
        }
    }
    return out;
}

// "2025-01-01" (UTC).
std::string date_of(int64_t t) {
    return utc_time(t, "%Y-%m-%d");
}

void append_mark(std::string& out, core::Status status, const HumanStyle& style) {
    if (style.color) {
        out += color_of(status.cls);
    }
    out += mark_of(status.cls);
    out += ' ';
    out += status.word;
    if (style.color) {
        out += "\x1b[0m";
    }
}

// A line under a row: "    build  https://hydra.nixos.org/build/1".
struct Detail {
    std::string label;
    std::string text;
    std::optional<core::Status> status; // a mark and word first (Hydra's answer under a local one)
    std::vector<std::string> chain;     // gate's chain, wrapped at " <- "
};

// One answer (or with --all, one build): its line and the lines under it.
struct Row {
    std::string header; // --all: the key's name, on a line of its own before its first row
    core::Status status;
    std::string name;
    std::string where;
    std::string id;   // --all: "#123"
    std::string when; // "synced 3 h ago"; --all: the build's date
    std::vector<Detail> details;
};

void add_urls(std::vector<Detail>& details, const index::BuildRow& row) {
    const auto url = build_url(row);
    details.push_back({"build", url, std::nullopt, {}});
    details.push_back({"log", url + "/log", std::nullopt, {}});
}

// How old the jobset's data is: "3 h ago" (it was synced then).
std::string synced_text(const index::BuildRow& row, const HumanStyle& style) {
    return row.synced_at ? relative_age(*row.synced_at, style.now) : std::string();
}

Row hydra_row(const index::BuildRow& row, const HumanStyle& style) {
    Row out{"", hydra_status(row), row.drv_name, row.project + ":" + row.jobset, "", "", {}};
    if (style.history) {
        out.id = "#" + std::to_string(row.build_id);
        if (row.finished && row.stoptime) {
            out.when = date_of(*row.stoptime);
        }
    } else {
        out.when = synced_text(row, style);
    }
    if (out.status.cls != core::StatusClass::good) {
        add_urls(out.details, row);
    }
    return out;
}

Row local_row(const Answer& answer, const HumanStyle& style) {
    const auto& local = *answer.local;
    Row out{"", answer.status(), local.drv_name, "local failure", "", "", {}};
    if (local.count > 1) {
        out.where += " x" + std::to_string(local.count);
    }
    // When it last failed.
    out.when = style.history ? date_of(local.last_at) : relative_age(local.last_at, style.now);
    if (!local.reason.empty()) {
        out.details.push_back({"reason", one_line(local.reason), std::nullopt, {}});
    }
    if (local.log.starts_with('/')) {
        out.details.push_back({"log", one_line(local.log), std::nullopt, {}});
    }
    if (answer.hydra && !style.history) { // with --all, the build has its own row
        const auto& row = *answer.hydra;
        std::string text = row.project + ":" + row.jobset;
        if (const auto synced = synced_text(row, style); !synced.empty()) {
            text += "  " + synced;
        }
        out.details.push_back({"hydra", text, hydra_status(row), {}});
        if (hydra_status(row).cls != core::StatusClass::good) {
            add_urls(out.details, row);
        }
    }
    return out;
}

Row unknown_row(const Answer& answer) {
    // The name keeps the column narrow; the key itself goes under it.
    const auto key = core::parse_key(answer.query);
    std::string name = key && !key->name.empty() ? key->name : answer.query;
    if (name.ends_with(".drv")) {
        name.resize(name.size() - 4);
    }
    Row out{"", core::k_unknown_status, name, "not in the index", "", "", {}};
    if (name != answer.query) {
        out.details.push_back({"key", one_line(answer.query), std::nullopt, {}});
    }
    return out;
}

// A key cut to `width` columns keeps its hash whole: the name after it is
// cut in the middle.
std::string cut_key(std::string_view key, size_t width) {
    if (display_width(key) <= width) {
        return std::string(key);
    }
    const size_t slash = key.rfind('/');
    const size_t dash = key.find('-', slash == std::string_view::npos ? 0 : slash + 1);
    if (dash == std::string_view::npos || dash + 1 + 8 > width) {
        return cut_middle(key, width);
    }
    return std::string(key.substr(0, dash + 1)) +
           cut_middle(key.substr(dash + 1), width - dash - 1);
}

// "top.drv <- mid.drv <- bad-leaf.drv", wrapped before a " <- " where it
// would pass the width, in lines that start at column `text_column`;
// elements without their hash.
void append_chain(std::string& out, const std::vector<std::string>& chain, size_t text_column,
                  size_t width) {
    const size_t room = width > text_column + 16 ? width - text_column : 16;
    size_t used = 0;
    for (size_t i = 0; i < chain.size(); ++i) {
        std::string_view base = chain[i];
        if (const auto slash = base.rfind('/'); slash != std::string_view::npos) {
            base.remove_prefix(slash + 1);
        }
        if (base.size() > core::k_hash_chars + 1 && base[core::k_hash_chars] == '-') {
            base.remove_prefix(core::k_hash_chars + 1);
        }
        const std::string element = cut_middle(base, room - 3);
        const size_t element_width = display_width(element);
        if (i == 0) {
            out += element;
            used = element_width;
        } else if (used + 4 + element_width <= room) {
            out += " <- " + element;
            used += 4 + element_width;
        } else {
            out += '\n';
            out.append(text_column, ' ');
            out += "<- " + element;
            used = 3 + element_width;
        }
    }
}

// A detail line, its label at column `indent`.
void append_detail(std::string& out, const Detail& detail, const HumanStyle& style, size_t indent) {
    const size_t line_start = out.size();
    const size_t text_column = indent + k_label_width + 1;
    const size_t room = style.width > text_column ? style.width - text_column : 1;
    out.append(indent, ' ');
    pad(out, detail.label, k_label_width);
    out += ' ';
    if (detail.status) {
        append_mark(out, *detail.status, style);
        out += "  " + detail.text;
    } else if (!detail.chain.empty()) {
        append_chain(out, detail.chain, text_column, style.width);
    } else if (detail.label == "reason") {
        out += cut_end(detail.text, room);
    } else if (detail.label == "key") {
        out += cut_key(detail.text, room);
    } else {
        out += detail.text; // a URL or a file path: cut, it would be of no use
    }
    trim_line(out, line_start);
}

std::vector<Row> rows_of(const std::vector<Answer>& answers, const HumanStyle& style) {
    std::vector<Row> rows;
    rows.reserve(answers.size());
    for (const auto& answer : answers) {
        Row row = answer.local   ? local_row(answer, style)
                  : answer.hydra ? hydra_row(*answer.hydra, style)
                                 : unknown_row(answer);
        if (style.history && !answer.same_key) {
            row.header = row.name;
        }
        if (!answer.chain.empty()) {
            row.details.push_back({"chain", "", std::nullopt, answer.chain});
        }
        rows.push_back(std::move(row));
        if (answer.local && answer.hydra && style.history) {
            rows.push_back(hydra_row(*answer.hydra, style));
        }
    }
    return rows;
}
} // namespace

core::Status hydra_status(const index::BuildRow& row) {
    return core::status_of(row.finished, row.buildstatus);
}

core::Status Answer::status() const {
    if (local) {
        return {"failed", core::StatusClass::permanent};
    }
    if (hydra) {
        return hydra_status(*hydra);
    }
    return core::k_unknown_status;
}

void append_json(std::string& out, const Answer& answer) {
    out += '{';
    if (answer.local) {
        const auto& local = *answer.local;
        str_field(out, "query", answer.query);
        str_field(out, "status", "failed");
        str_field(out, "class", "permanent");
        str_field(out, "drv_path", local.drv_path());
        for (const char* name : {"build_id", "build_url"}) {
            null_field(out, name);
        }
        if (local.log.starts_with('/')) {
            str_field(out, "log_url", "file://" + local.log);
        } else {
            null_field(out, "log_url");
        }
        for (const char* name : {"raw_log_url", "job", "jobset", "system"}) {
            null_field(out, name);
        }
        int_field(out, "stoptime", local.last_at);
        null_field(out, "buildstatus");
        str_field(out, "source", "local");
        null_field(out, "synced_at");
        int_field(out, "count", local.count);
        int_field(out, "first_at", local.first_at);
        int_field(out, "last_at", local.last_at);
        text_field(out, "reason", local.reason);
        text_field(out, "log", local.log);
        if (answer.hydra) {
            field(out, "hydra");
            out += '{';
            append_build_fields(out, answer.query, *answer.hydra);
            out += '}';
        }
    } else if (answer.hydra) {
        append_build_fields(out, answer.query, *answer.hydra);
    } else {
        append_unknown_fields(out, answer.query);
    }
    out += "}\n";
}

void HumanTable::append(std::string& out, const std::vector<Answer>& answers) {
    const auto rows = rows_of(answers, m_style);
    for (const auto& row : rows) {
        m_word = std::max(m_word, display_width(row.status.word));
        m_name = std::max(m_name, display_width(row.name));
        if (!row.id.empty() || !row.when.empty()) {
            // Else WHERE ends the line ("not in the index") and may run on.
            m_where = std::max(m_where, display_width(row.where));
        }
        m_id = std::max(m_id, display_width(row.id));
        m_when = std::max(m_when, display_width(row.when));
    }
    const bool history = m_style.history;
    const size_t indent = history ? k_history_indent : 0;
    // Room for the name (none with --all: it heads its rows) and WHERE.
    const size_t fixed = indent + 2 + m_word + 2 + (history ? 0 : 2) + (m_id > 0 ? 2 + m_id : 0) +
                         (m_when > 0 ? 2 + m_when : 0);
    const size_t room = m_style.width > fixed ? m_style.width - fixed : 0;
    const auto less = [](size_t width, size_t cut, size_t floor) {
        return std::max(std::min(width, floor), width > cut ? width - cut : 0);
    };
    size_t where_width = std::min(m_where, k_max_where);
    size_t name_width = history ? 0 : m_name;
    const auto over = [&] {
        return name_width + where_width > room ? name_width + where_width - room : 0;
    };
    where_width = less(where_width, over(), k_cut_where);
    if (!history) {
        name_width = less(name_width, over(), k_min_name);
    }
    where_width = less(where_width, over(), k_min_where);
    for (const auto& row : rows) {
        if (!row.header.empty()) {
            out += cut_middle(row.header, m_style.width) + '\n';
        }
        const size_t line_start = out.size();
        out.append(indent, ' ');
        append_mark(out, row.status, m_style); // colour codes take no columns
        out.append(m_word - display_width(row.status.word) + 2, ' ');
        if (!history) {
            pad(out, cut_middle(row.name, name_width), name_width);
            out += "  ";
        }
        const bool where_ends = row.id.empty() && row.when.empty();
        pad(out, where_ends ? row.where : cut_middle(row.where, where_width), where_width);
        if (m_id > 0) {
            out += "  ";
            pad_left(out, row.id, m_id);
        }
        out += "  ";
        out += row.when;
        trim_line(out, line_start);
        for (const auto& detail : row.details) {
            append_detail(out, detail, m_style, indent + k_detail_indent);
        }
    }
}

void append_human_table(std::string& out, const std::vector<Answer>& answers,
                        const HumanStyle& style) {
    HumanTable(style).append(out, answers);
}

std::optional<size_t> terminal_columns(int fd) {
    struct winsize size {};
    if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
        return size.ws_col;
    }
    if (::isatty(fd) != 1) {
        return std::nullopt;
    }
    const char* columns = std::getenv("COLUMNS");
    size_t value = 0;
    if (columns != nullptr) {
        const std::string_view text(columns);
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc{} && ptr == text.data() + text.size() && value > 0) {
            return value;
        }
    }
    return std::nullopt;
}

size_t output_width() {
    return ::isatty(STDOUT_FILENO) == 1 ? terminal_columns(STDOUT_FILENO).value_or(80) : 80;
}

size_t display_width(std::string_view text) {
    return static_cast<size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation(c); }));
}

std::string cut_middle(std::string_view text, size_t width) {
    if (display_width(text) <= width) {
        return std::string(text);
    }
    if (width == 0) {
        return {};
    }
    // The start names the package, the end holds its version.
    const size_t tail = (width - 1) * 2 / 5;
    const size_t head = width - 1 - tail;
    return std::string(text.substr(0, prefix_bytes(text, head))) + "…" +
           std::string(text.substr(text.size() - suffix_bytes(text, tail)));
}

std::string cut_end(std::string_view text, size_t width) {
    if (display_width(text) <= width) {
        return std::string(text);
    }
    if (width == 0) {
        return {};
    }
    return std::string(text.substr(0, prefix_bytes(text, width - 1))) + "…";
}

std::string wrap_list(std::string_view head, const std::vector<std::string>& items, size_t width,
                      size_t indent) {
    std::string out(head);
    size_t line_start = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
        const size_t used = display_width(std::string_view(out).substr(line_start));
        if (i > 0 && used + 1 + display_width(item) > width) {
            out += '\n';
            line_start = out.size();
            out.append(indent, ' ');
        } else if (i > 0) {
            out += ' ';
        }
        out += item;
    }
    return out;
}

std::string plural(uint64_t count, std::string_view word) {
    std::string out = std::to_string(count) + " ";
    out += word;
    if (count != 1) {
        out += 's';
    }
    return out;
}

std::string utc_time(int64_t t, const char* format) {
    char buf[64];
    const auto tt = static_cast<time_t>(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

std::string relative_age(int64_t then, int64_t now) {
    const int64_t age = now - then;
    if (age < 60) {
        return age < 0 ? "in the future" : "just now";
    }
    if (age < 3600) {
        return std::to_string(age / 60) + " min ago";
    }
    if (age < int64_t{2} * 86400) {
        return std::to_string(age / 3600) + " h ago";
    }
    return std::to_string(age / 86400) + " d ago";
}

std::string human_bytes(uint64_t bytes) {
    char buf[32];
    if (bytes < 1024) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    } else if (bytes < uint64_t{1024} * 1024) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
    } else if (bytes < 1024ULL * 1024 * 1024) {
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024 * 1024));
    } else {
        std::snprintf(buf, sizeof buf, "%.2f GiB",
                      static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
    }
    return buf;
}

void append_inputs_json(std::string& out, const index::EvalInfo& eval) {
    out += "{";
    bool first = true;
    for (const auto& [name, revision] : eval.inputs) {
        out += first ? "" : ",";
        first = false;
        append_json_string(out, name);
        out += ":";
        append_json_string(out, revision);
    }
    out += "}";
}

} // namespace hs::cli
