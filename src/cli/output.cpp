#include "cli/output.hpp"

#include "core/store_path.hpp"

#include <algorithm>
#include <cstdio>

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

void pad(std::string& out, std::string_view text, size_t width) {
    out += text;
    for (size_t i = text.size(); i < width; ++i) {
        out += ' ';
    }
}

void append_mark(std::string& out, core::Status status, const HumanStyle& style) {
    if (style.color) {
        out += color_of(status.cls);
    }
    out += mark_of(status.cls);
    out += ' ';
    pad(out, status.word, 22);
    if (style.color) {
        out += "\x1b[0m";
    }
}

void append_hydra_human(std::string& out, const index::BuildRow& row, const HumanStyle& style) {
    const auto status = hydra_status(row);
    append_mark(out, status, style);
    out += row.drv_name;
    if (status.cls != core::StatusClass::good) {
        const auto url = build_url(row);
        out += "  " + url + "  log " + url + "/log";
    }
    out += "  " + row.project + ":" + row.jobset;
    if (row.synced_at) {
        out += ", synced " + relative_age(*row.synced_at, style.now);
    }
}

// One line of the human table, cut into columns.
struct TableRow {
    core::Status status;
    std::string name;
    std::string where;
    std::string age;
    std::string rest;
};

TableRow hydra_row(const index::BuildRow& row, const HumanStyle& style) {
    TableRow out{hydra_status(row), row.drv_name, row.project + ":" + row.jobset, "", ""};
    if (row.synced_at) {
        out.age = "synced " + relative_age(*row.synced_at, style.now);
    }
    if (out.status.cls != core::StatusClass::good) {
        const auto url = build_url(row);
        out.rest = url + "  log " + url + "/log";
    }
    return out;
}

void append_cell(std::string& out, const std::string& text, size_t width) {
    out += "  ";
    pad(out, text, width);
}

} // namespace

void append_human_table(std::string& out, const std::vector<Answer>& answers,
                        const HumanStyle& style) {
    std::vector<TableRow> rows;
    rows.reserve(answers.size());
    for (const auto& answer : answers) {
        if (answer.local) {
            const auto& local = *answer.local;
            TableRow row{answer.status(), local.drv_name, "local failure", "", ""};
            if (local.count > 1) {
                row.where += " x" + std::to_string(local.count);
            }
            row.age = "last " + relative_age(local.last_at, style.now);
            if (!local.reason.empty()) {
                row.rest = "reason: " + local.reason;
            }
            if (local.log.starts_with('/')) {
                row.rest += (row.rest.empty() ? "log " : "  log ") + local.log;
            }
            rows.push_back(std::move(row));
            if (answer.hydra) {
                auto hydra = hydra_row(*answer.hydra, style);
                hydra.name = "hydra: " + hydra.name;
                rows.push_back(std::move(hydra));
            }
        } else if (answer.hydra) {
            rows.push_back(hydra_row(*answer.hydra, style));
        } else {
            // The name keeps the column narrow; the key itself goes last.
            const auto key = core::parse_key(answer.query);
            std::string name = key && !key->name.empty() ? key->name : answer.query;
            if (name.ends_with(".drv")) {
                name.resize(name.size() - 4);
            }
            rows.push_back({core::k_unknown_status, name, "not in the index", "",
                            name == answer.query ? "" : answer.query});
        }
    }
    size_t word_width = 0;
    size_t name_width = 0;
    size_t where_width = 0;
    size_t age_width = 0;
    for (const auto& row : rows) {
        word_width = std::max(word_width, std::string_view(row.status.word).size());
        name_width = std::max(name_width, row.name.size());
        where_width = std::max(where_width, row.where.size());
        age_width = std::max(age_width, row.age.size());
    }
    for (const auto& row : rows) {
        const size_t line_start = out.size();
        if (style.color) {
            out += color_of(row.status.cls);
        }
        out += mark_of(row.status.cls);
        out += ' ';
        pad(out, row.status.word, word_width);
        if (style.color) {
            out += "\x1b[0m";
        }
        append_cell(out, row.name, name_width);
        append_cell(out, row.where, where_width);
        append_cell(out, row.age, age_width);
        append_cell(out, row.rest, 0);
        while (out.size() > line_start && out.back() == ' ') {
            out.pop_back();
        }
        out += '\n';
    }
}

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

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
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

void append_human(std::string& out, const Answer& answer, const HumanStyle& style) {
    if (answer.local) {
        const auto& local = *answer.local;
        append_mark(out, answer.status(), style);
        out += local.drv_name + "  local failure";
        out += local.count > 1 ? " x" + std::to_string(local.count) : "";
        out += ", last " + relative_age(local.last_at, style.now);
        if (!local.reason.empty()) {
            out += "  reason: " + local.reason;
        }
        if (local.log.starts_with('/')) {
            out += "  log " + local.log;
        }
        out += '\n';
        if (answer.hydra) {
            out += "  hydra: ";
            append_hydra_human(out, *answer.hydra, style);
            out += '\n';
        }
        return;
    }
    if (answer.hydra) {
        append_hydra_human(out, *answer.hydra, style);
        out += '\n';
        return;
    }
    append_mark(out, core::k_unknown_status, style);
    out += answer.query + "  not in the index\n";
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

} // namespace hs::cli
