#pragma once

#include "core/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hs::sync {

// Hydra's evals listing as HTML (GET /jobset/<p>/<j>/evals with Accept:
// text/html, templates root/evals.tt and renderEvals in root/common.tt):
// per eval its id, time and build counts, without the member ids that make
// the JSON listing ~40 MB at nixpkgs scale; a page is tens of KB whatever
// the evals' size. The sync reads it only to learn what changed (spec/cli.md
// "Politeness"), and only when it is recognisably Hydra's page: anything
// else (a bot filter's nonsense page, an error page, a changed template) is
// refused, and the sync falls back to the JSON listing.

// One row of the table, as Hydra shows it.
struct EvalRow {
    int64_t id = 0;
    int64_t timestamp = 0; // unix seconds (data-timestamp)
    int64_t succeeded = 0; // Hydra's nrSucceeded
    int64_t failed = 0;    // nrFailed (no badge: 0)
    int64_t queued = 0;    // nrScheduled: unfinished builds (no badge: 0)
    bool operator==(const EvalRow&) const = default;
};

struct EvalsHtmlPage {
    std::vector<EvalRow> rows; // as listed: newest first
    // "Showing evaluations <first> - <last> out of <total>."
    int64_t first = 0;
    int64_t last = 0;
    int64_t total = 0;
    // Whether a page ?page=<n+1> lists more (Hydra's pager: page * 20 < total).
    bool has_next() const { return last < total; }
};

// Parses one page. Recognised strictly: the title "Hydra - Evaluations of
// jobset <p>:<j>", the "Showing evaluations" line, and a table body whose
// every row has exactly Hydra's seven cells: a link ".../eval/<id>" whose
// text is <id>, a <time data-timestamp>, the input changes (not read), the
// succeeded badge, the failed and queued badges (or nothing), the delta
// (not read); as many rows as the "Showing" line says, ids strictly
// descending. A page that is not so has a lowercase reason ("no table of
// evaluations").
Expected<EvalsHtmlPage> parse_evals_html(std::string_view html);

// A digest of what the rows say (ids and counts, in order): equal digests
// mean nothing Hydra shows about these evals changed. 64 hex digits
// (SHA-256 of a canonical text).
std::string listing_digest(const std::vector<EvalRow>& rows);

} // namespace hs::sync
