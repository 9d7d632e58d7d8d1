// The report as one HTML page: inline CSS and JS, no external asset, no
// fetch (the Content-Security-Policy forbids both). The rows travel as one
// embedded JSON array; the script builds the table body from it in one
// assignment per filter or sort, so that 10,000 rows stay responsive.
//
// Every text from the index is escaped where it lands: html_escape in the
// HTML written here, JSON escaping plus \u003c for '<', '>' and '&' inside
// the <script> element (so that "</script>" in a job name stays a string),
// and the script's own esc() when it builds rows.
//
// The page reads its URL fragment: #filter=TEXT types TEXT into the filter
// box (as input events), #sort=N sorts by column N (a click on its
// heading), #all shows every row (a click on "show all"); joined by '&'.
// tests/integration/test_report_browser.py drives the page so.

#include "cli/output.hpp"
#include "cli/report_cmd.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace hs::cli {

namespace {

constexpr const char* k_style = R"css(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.3em;margin:0 0 .3em}
.evals{color:#444;margin:0 0 1em}
table{border-collapse:collapse}
th,td{padding:.2em .6em;text-align:left;border-bottom:1px solid #e3e3e3}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
#rows th{cursor:pointer;user-select:none;background:#f4f4f4;position:sticky;top:0}
#rows th[aria-sort=ascending]::after{content:" \25B2"}
#rows th[aria-sort=descending]::after{content:" \25BC"}
.newly-failing td:first-child{border-left:4px solid #c62828}
.newly-fixed td:first-child{border-left:4px solid #2e7d32}
.still-failing td:first-child{border-left:4px solid #ef9a9a}
.new-job td:first-child{border-left:4px solid #1565c0}
.removed-job td:first-child{border-left:4px solid #9e9e9e}
.st-good{color:#2e7d32}.st-permanent{color:#c62828;font-weight:600}
.st-transient{color:#ef6c00}.st-unknown{color:#666}
.controls{margin:1em 0 .5em}
#filter{font:inherit;padding:.25em .5em;width:24em}
#shown{margin-left:1em;color:#444}
.chart{margin:.5em 0 1em}
a{color:#0b57d0}
)css";

// The page's script. D: {url, changes, statuses, classes, systems, rows};
// a row is [change, job, system, status, build id, status before, build id
// before], with indexes into the lists and null where a build is missing.
constexpr const char* k_script = R"js(
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var rows = D.rows;
  var base = /^https?:\/\//.test(D.url) ? D.url : null;
  var tbody = document.querySelector("#rows tbody");
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var heads = document.querySelectorAll("#rows th");
  var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function cell(r, k) {
    switch (k) {
      case 0: return D.changes[r[0]];
      case 1: return r[1];
      case 2: return D.systems[r[2]];
      case 3: return r[3] === null ? "" : D.statuses[r[3]];
      case 4: return r[4];
      case 5: return r[5] === null ? "" : D.statuses[r[5]];
      default: return r[6];
    }
  }
  for (var i = 0; i < rows.length; i++) {
    rows[i].hay = (cell(rows[i], 0) + " " + rows[i][1] + " " + cell(rows[i], 2) + " " +
                   cell(rows[i], 3) + " " + cell(rows[i], 5)).toLowerCase();
  }
  function link(id, suffix, text) {
    if (id === null) { return ""; }
    if (!base) { return esc(text); }
    return '<a href="' + esc(base + "/build/" + id + suffix) + '">' + esc(text) + "</a>";
  }
  function status(s) {
    if (s === null) { return "<td></td>"; }
    return '<td class="st-' + esc(D.classes[s]) + '">' + esc(D.statuses[s]) + "</td>";
  }
  // At most PAGE rows are built at a time: a filter or sort answers at
  // once, and "show all" builds the rest on request.
  var PAGE = 1000, showAll = false;
  var more = document.getElementById("more");
  function render() {
    var started = performance.now();
    var q = filter.value.toLowerCase();
    var html = [];
    var n = 0;
    var limit = showAll ? rows.length : PAGE;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (q && r.hay.indexOf(q) < 0) { continue; }
      n++;
      if (n > limit) { continue; }
      var id = r[4] !== null ? r[4] : r[6];
      html.push('<tr class="' + esc(D.changes[r[0]]) + '"><td>' + esc(D.changes[r[0]]) +
                "</td><td>" + esc(r[1]) + "</td><td>" + esc(D.systems[r[2]]) + "</td>" +
                status(r[3]) + '<td class="n">' + link(r[4], "", "#" + r[4]) + "</td><td>" +
                link(id, "/log", "log") + "</td>" + status(r[5]) + '<td class="n">' +
                link(r[6], "", "#" + r[6]) + "</td></tr>");
    }
    tbody.innerHTML = html.join("");
    var built = Math.min(n, limit);
    shown.textContent = (built < n ? built + " shown of " + n + " matching, " : n + " of ") +
                        rows.length + " rows";
    shown.setAttribute("data-shown", String(built));
    shown.setAttribute("data-matching", String(n));
    shown.setAttribute("data-render-ms", String(Math.round(performance.now() - started)));
    more.hidden = built >= n;
    more.textContent = "show all " + n;
  }
  more.addEventListener("click", function () { showAll = true; render(); });
  var KEYS = [0, 1, 2, 3, 4, 4, 5, 6]; // heading -> cell (the log column sorts by build)
  var sortHead = -1, sortDir = 1;
  function sortBy(h0) {
    sortDir = h0 === sortHead ? -sortDir : 1;
    sortHead = h0;
    var k = KEYS[h0];
    var numeric = k === 4 || k === 6;
    rows.sort(function (a, b) {
      var x = cell(a, k), y = cell(b, k);
      if (numeric) { x = x === null ? -1 : x; y = y === null ? -1 : y; return (x - y) * sortDir; }
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
    });
    for (var h = 0; h < heads.length; h++) {
      heads[h].setAttribute("aria-sort", h === h0 ? (sortDir > 0 ? "ascending" : "descending") : "none");
    }
    render();
  }
  for (var h = 0; h < heads.length; h++) {
    heads[h].addEventListener("click", sortBy.bind(null, h));
  }
  filter.addEventListener("input", render);
  // "#sort=1&filter=gcc": each part as if done by hand, in this order.
  function fromFragment() {
    var parts = location.hash.replace(/^#/, "").split("&");
    for (var p = 0; p < parts.length; p++) {
      var m = /^(filter|sort|all)(?:=(.*))?$/.exec(parts[p]);
      if (!m) { continue; }
      var value = decodeURIComponent(m[2] || "");
      if (m[1] === "all") {
        more.click();
      } else if (m[1] === "sort") {
        heads[Number(value)].click();
      } else {
        filter.value = "";
        for (var i = 0; i < value.length; i++) {
          filter.value += value[i];
          filter.dispatchEvent(new Event("input", {bubbles: true}));
        }
      }
    }
  }
  window.addEventListener("hashchange", fromFragment);
  render();
  fromFragment();
})();
)js";

std::string eval_text(const index::EvalInfo& eval) {
    std::string out =
        "eval " + std::to_string(eval.eval_id) + " (" + utc_time(eval.timestamp, "%Y-%m-%d %H:%M");
    for (const auto& [name, revision] : eval.inputs) {
        out += ", " + name + " " + revision.substr(0, 12);
    }
    return out + ")";
}

// JSON for inside <script>: no '<', '>' or '&' at all, so that no text can
// end the element or open a comment.
std::string script_safe(const std::string& json) {
    std::string out;
    out.reserve(json.size() + json.size() / 16);
    for (const char c : json) {
        switch (c) {
        case '<':
            out += "\\u003c";
            break;
        case '>':
            out += "\\u003e";
            break;
        case '&':
            out += "\\u0026";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// The index of text in list, adding it if new.
size_t intern(std::vector<std::string>& list, std::map<std::string, size_t>& at,
              const std::string& text) {
    const auto [it, added] = at.emplace(text, list.size());
    if (added) {
        list.push_back(text);
    }
    return it->second;
}

std::string data_json(const Report& report) {
    std::vector<std::string> statuses;
    std::vector<std::string> classes;
    std::map<std::string, size_t> status_at;
    std::vector<std::string> systems;
    std::map<std::string, size_t> system_at;
    std::string rows;
    rows.reserve(report.rows.size() * 64);
    const auto status_index = [&](const std::optional<ReportBuild>& build) -> std::string {
        if (!build) {
            return "null";
        }
        const std::string word(build->status.word);
        const size_t before = statuses.size();
        const size_t index = intern(statuses, status_at, word);
        if (statuses.size() != before) {
            classes.emplace_back(core::class_name(build->status.cls));
        }
        return std::to_string(index);
    };
    const auto id = [](const std::optional<ReportBuild>& build) {
        return build ? std::to_string(build->build_id) : std::string("null");
    };
    for (const auto& row : report.rows) {
        rows += rows.empty() ? "[" : ",[";
        rows += std::to_string(static_cast<size_t>(row.change)) + ",";
        append_json_string(rows, row.job);
        // One statement each: the order of a + b's operands is unspecified,
        // and interning must go now, then before.
        const std::string system = std::to_string(intern(systems, system_at, row.system));
        const std::string now = status_index(row.now);
        const std::string before = status_index(row.before);
        rows += "," + system + "," + now + "," + id(row.now) + "," + before + "," + id(row.before) +
                "]";
    }
    const auto list = [](const std::vector<std::string>& items) {
        std::string out = "[";
        for (size_t i = 0; i < items.size(); ++i) {
            out += i ? "," : "";
            append_json_string(out, items[i]);
        }
        return out + "]";
    };
    std::vector<std::string> changes;
    for (size_t c = 0; c < k_change_count; ++c) {
        changes.emplace_back(change_name(static_cast<Change>(c)));
    }
    std::string out = "{\"url\":";
    append_json_string(out, report.url);
    out += ",\"changes\":" + list(changes) + ",\"statuses\":" + list(statuses) +
           ",\"classes\":" + list(classes) + ",\"systems\":" + list(systems) + ",\"rows\":[" +
           rows + "]}";
    return script_safe(out);
}

// Failures per system (newly and still failing) as horizontal bars.
std::string chart_svg(const Report& report) {
    constexpr int k_bar_height = 18;
    constexpr int k_gap = 6;
    constexpr int k_label_width = 150;
    constexpr int k_bar_width = 400;
    size_t most = 0;
    std::vector<std::pair<std::string, ChangeCounts>> systems;
    for (const auto& [system, counts] : report.by_system) {
        const size_t failures = counts[0] + counts[2];
        if (failures > 0) {
            systems.emplace_back(system, counts);
            most = std::max(most, failures);
        }
    }
    if (systems.empty()) {
        return "<p class=\"chart\">No failures in this eval.</p>\n";
    }
    const int height = static_cast<int>(systems.size()) * (k_bar_height + k_gap) + k_gap;
    const int width = k_label_width + k_bar_width + 120;
    std::string out = "<svg class=\"chart\" id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                      "width=\"" +
                      std::to_string(width) + "\" height=\"" + std::to_string(height) +
                      "\" role=\"img\" aria-label=\"failures per system\">\n";
    int y = k_gap;
    for (const auto& [system, counts] : systems) {
        const auto scaled = [&](size_t n) {
            return static_cast<int>(static_cast<double>(n) * k_bar_width /
                                    static_cast<double>(most));
        };
        const int newly = scaled(counts[0]);
        const int still = scaled(counts[0] + counts[2]) - newly;
        const std::string text_y = std::to_string(y + k_bar_height - 4);
        out += "<g data-system=\"" + html_escape(system) + "\" data-failures=\"" +
               std::to_string(counts[0] + counts[2]) + R"("><text x="0" y=")" + text_y +
               R"(" font-size="13">)" + html_escape(cut_middle(system, 22)) + "</text>";
        out += "<rect x=\"" + std::to_string(k_label_width) + "\" y=\"" + std::to_string(y) +
               "\" width=\"" + std::to_string(newly) + "\" height=\"" +
               std::to_string(k_bar_height) + R"(" fill="#c62828"><title>newly failing: )" +
               std::to_string(counts[0]) + "</title></rect>";
        out += "<rect x=\"" + std::to_string(k_label_width + newly) + "\" y=\"" +
               std::to_string(y) + "\" width=\"" + std::to_string(still) + "\" height=\"" +
               std::to_string(k_bar_height) + R"(" fill="#ef9a9a"><title>still failing: )" +
               std::to_string(counts[2]) + "</title></rect>";
        out += "<text x=\"" + std::to_string(k_label_width + newly + still + 6) + "\" y=\"" +
               text_y + R"(" font-size="13">)" + std::to_string(counts[0] + counts[2]) + " (" +
               std::to_string(counts[0]) + " new)</text></g>\n";
        y += k_bar_height + k_gap;
    }
    return out + "</svg>\n";
}

std::string counts_table(const Report& report) {
    std::string out = "<table id=\"counts\"><thead><tr><th>system</th>";
    for (size_t c = 0; c < k_change_count; ++c) {
        out += "<th class=\"n\">" + std::string(change_name(static_cast<Change>(c))) + "</th>";
    }
    out += "</tr></thead><tbody>\n";
    const auto line = [&](const std::string& name, const ChangeCounts& counts, bool total) {
        out += total ? "<tr class=\"total\"><th>" : "<tr><td>";
        out += html_escape(name);
        out += total ? "</th>" : "</td>";
        for (size_t c = 0; c < k_change_count; ++c) {
            out += R"(<td class="n" data-change=")" +
                   std::string(change_name(static_cast<Change>(c))) + "\"" +
                   (total ? " id=\"total-" + std::string(change_name(static_cast<Change>(c))) + "\""
                          : std::string()) +
                   ">" + std::to_string(counts[c]) + "</td>";
        }
        out += "</tr>\n";
    };
    for (const auto& [system, counts] : report.by_system) {
        line(system, counts, false);
    }
    line("total", report.totals, true);
    return out + "</tbody></table>\n";
}

} // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string report_html(const Report& report) {
    const std::string title = "hydra-status report: " + report.jobset + ", eval " +
                              std::to_string(report.eval.eval_id) + " against " +
                              std::to_string(report.against.eval_id);
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                      "'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>";
    out += html_escape(title) + "</title>\n<style>" + k_style + "</style></head>\n<body>\n";
    out += "<h1>" + html_escape(report.jobset) + ": eval " + std::to_string(report.eval.eval_id) +
           " against " + std::to_string(report.against.eval_id) + "</h1>\n";
    out += "<p class=\"evals\">" + html_escape(eval_text(report.eval)) + "<br>against " +
           html_escape(eval_text(report.against)) + "<br>" + html_escape(report.url) + "</p>\n";
    out += counts_table(report);
    out += "<h2>Failures per system</h2>\n" + chart_svg(report);
    out += "<div class=\"controls\"><label>Filter <input id=\"filter\" type=\"search\" "
           "placeholder=\"job, system or status\" autocomplete=\"off\"></label><span "
           "id=\"shown\"></span> <button id=\"more\" type=\"button\" hidden></button></div>\n";
    out += "<table id=\"rows\"><thead><tr><th>change</th><th>job</th><th>system</th>"
           "<th>status</th><th class=\"n\">build</th><th>log</th><th>before</th>"
           "<th class=\"n\">build before</th></tr></thead><tbody></tbody></table>\n";
    out += R"(<script type="application/json" id="data">)" + data_json(report) + "</script>\n";
    out += std::string("<script>") + k_script + "</script>\n</body></html>\n";
    return out;
}

} // namespace hs::cli
