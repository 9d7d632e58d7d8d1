// libFuzzer target for the evals listing read as HTML (sync/evals_html):
// besides "no crash", what it accepts is consistent (as many rows as the
// "showing" line says, ids positive and strictly descending, counts not
// negative), its digest is stable, and reasons are printable.
#include "fuzz_check.hpp"
#include "sync/evals_html.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    const auto parsed = hs::sync::parse_evals_html(copy);
    if (!parsed) {
        const std::string& why = parsed.error();
        hs::fuzz::check_message(why, "parse_evals_html reason is printable");
        hs::fuzz::check(!why.empty() && (why.front() < 'A' || why.front() > 'Z'),
                        "reason starts lowercase", why);
        return 0;
    }
    const hs::sync::EvalsHtmlPage& page = *parsed;
    const int64_t expected = page.total == 0 ? 0 : page.last - page.first + 1;
    hs::fuzz::check(static_cast<int64_t>(page.rows.size()) == expected, "row count as shown");
    hs::fuzz::check(page.last <= page.total, "last row within the total");
    for (size_t i = 0; i < page.rows.size(); ++i) {
        const auto& row = page.rows[i];
        hs::fuzz::check(row.id > 0, "eval ids are positive");
        hs::fuzz::check(i == 0 || row.id < page.rows[i - 1].id, "ids strictly descending");
        hs::fuzz::check(row.succeeded >= 0 && row.failed >= 0 && row.queued >= 0 &&
                            row.timestamp >= 0,
                        "counts and times are not negative");
    }
    hs::fuzz::check(hs::sync::listing_digest(page.rows) == hs::sync::listing_digest(page.rows),
                    "the digest is stable");
    return 0;
}
