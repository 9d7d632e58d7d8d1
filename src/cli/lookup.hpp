#pragma once

// The decisions of `lookup`, apart from its input and output.

#include "core/status.hpp"
#include "core/units.hpp"
#include "index/index.hpp"

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hs::cli {

// Folds answers into the contract's exit code: 2 (a malformed key), then 5
// (no usable index), then 1 (a permanent failure), 4 (transient), 3
// (unknown), else 0.
class ExitTally {
public:
    void add(core::StatusClass cls);
    void malformed() { m_malformed = true; }
    void no_index() { m_no_index = true; }
    int code() const;

private:
    bool m_malformed = false;
    bool m_no_index = false;
    bool m_permanent = false;
    bool m_transient = false;
    bool m_unknown = false;
};

// What `lookup` was given on its command line.
struct LookupArgs {
    std::vector<std::string> keys;
    bool from_stdin = false;
    std::optional<std::string> job;
    std::optional<std::string> jobset; // of --job
};

// --job NAME --jobset PROJECT:JOBSET.
struct JobQuery {
    core::JobsetName jobset;
    std::string job;
};

// Checks that --job and --jobset go together and that there is something to
// look up; the --job query, if any. Throws UsageError.
std::optional<JobQuery> check_lookup_args(const LookupArgs& args);

// Spaces, tabs and a CR (a file written on Windows) around a line of --stdin
// removed.
std::string_view trim_blanks(std::string_view line);

// The contract answers --job for the job's latest build (the greatest id,
// finished or not), not for the deciding build of some older drv: moves it
// to the front. False when there is no build.
bool put_latest_first(std::vector<index::BuildRow>& rows);

// The warning for a --job lookup in a jobset the index does not hold
// ("jobset 'a:b' is not in the index (it holds: ...)"), naming at most 8 of
// those it holds; "" when `held` has it.
std::string unknown_jobset_warning(const core::JobsetName& jobset,
                                   const std::set<std::string>& held);

} // namespace hs::cli
