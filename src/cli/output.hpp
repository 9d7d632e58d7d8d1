#pragma once

#include "core/status.hpp"
#include "core/text.hpp"
#include "index/index.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hs::cli {

// The answer for one key: the deciding Hydra build and the local failure
// record, either of which may be missing.
struct Answer {
    std::string query;
    std::optional<index::BuildRow> hydra;
    std::optional<index::LocalFailure> local;
    // gate: the drvs from a root down to this one (human output only; the
    // JSON object gets its "chain" from gate itself).
    std::vector<std::string> chain;
    // lookup --all: another build of the key of the answer before.
    bool same_key = false;

    core::Status status() const; // the top-level status (local wins)
};

core::Status hydra_status(const index::BuildRow& row);

// Appends the answer as one JSON object and a newline (JSON Lines).
void append_json(std::string& out, const Answer& answer);

// The layout every human answer shares (lookup and gate), made for 80
// columns. One unindented line per answer:
//
//   MARK WORD  NAME  WHERE  AGE
//
// a mark and the status word, the drv name, where the answer comes from (the
// jobset, "local failure", "not in the index") and how old it is ("3 h ago":
// when the jobset was synced, or when the local failure was last recorded).
// Lines indented by 4 follow with what does not fit there: the build and log
// URL of a failure, the reason and log of a local failure and Hydra's answer
// under it, the key of an unknown answer, gate's chain. With --all, the name
// of each key heads one row per build, indented by 2:
//
//     MARK WORD  WHERE  #BUILD-ID  DATE
//
// Names too long for their column are cut in the middle
// ("python3.12-azure-mgmt-rec…ckup-9.1.0"), and a long jobset when the name
// would get too narrow; URLs and file paths are never cut.
struct HumanStyle {
    bool color = false;
    int64_t now = 0;
    size_t width = 80;    // columns a line may take
    bool history = false; // lookup --all: a row per build, with its id and date
};

// Formats answers as aligned columns, one call per batch. Column widths
// never shrink from one batch to the next, so that the batches of a long
// --stdin run line up.
class HumanTable {
public:
    explicit HumanTable(HumanStyle style) : m_style(style) {}
    void append(std::string& out, const std::vector<Answer>& answers);

private:
    HumanStyle m_style;
    size_t m_word = 0;
    size_t m_name = 0;
    size_t m_where = 0;
    size_t m_id = 0;
    size_t m_when = 0;
};

// One batch, on its own.
void append_human_table(std::string& out, const std::vector<Answer>& answers,
                        const HumanStyle& style);

// The width human output is laid out for on stdout: the terminal's when
// stdout is one, else 80.
size_t output_width();

// Columns of the terminal on fd (TIOCGWINSZ, else $COLUMNS), if it is one.
std::optional<size_t> terminal_columns(int fd);

// Columns a UTF-8 text takes (one per code point: every text printed here is
// narrow).
size_t display_width(std::string_view text);

// At most `width` columns of text: its start (3/5) and end (2/5) around "…"
// when it is longer (the end of a drv name holds its version).
std::string cut_middle(std::string_view text, size_t width);

// At most `width` columns of text: its start and "…" when it is longer.
std::string cut_end(std::string_view text, size_t width);

// head and the items joined by ", ", in lines of at most `width` columns
// where it can: a line that would pass it is broken before an item, and the
// next starts with `indent` blanks. No final newline.
std::string wrap_list(std::string_view head, const std::vector<std::string>& items, size_t width,
                      size_t indent);

// "1 drv", "2 drvs".
std::string plural(uint64_t count, std::string_view word);

// "3 h ago", "2 d ago", "just now".
std::string relative_age(int64_t then, int64_t now);

// t (unix seconds) in UTC, formatted as strftime's format says.
std::string utc_time(int64_t t, const char* format);

// "12.0 KiB": bytes for people.
std::string human_bytes(uint64_t bytes);

// An eval's inputs as a JSON object: {"nixpkgs":"<revision>",...}.
void append_inputs_json(std::string& out, const index::EvalInfo& eval);

} // namespace hs::cli
