#pragma once

// The decisions of `gate`, apart from reading drvs and the index.

#include "cli/settings.hpp"
#include "gate/closure.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace hs::cli {

// Appends the nodes of `more` that `closure` does not hold yet, with their
// parents mapped (parents come before their children in a walk).
void merge_closure(gate::Closure& closure, gate::Closure more);

// The drvs of a dry run's "will be built" list (it may name other paths).
std::vector<std::string> drvs_to_build(const std::vector<std::string>& will_build);

// Where Nix keeps its store when /nix cannot be used: its automatic chroot
// store, $NIX_DATA_HOME/root or ${XDG_DATA_HOME:-~/.local/share}/nix/root
// (Nix >= 2.4). A drv missing from /nix/store but found there gets a
// --store-root suggestion.
std::vector<std::string> nix_chroot_stores();

// What the drvs of a closure came out as.
struct GateCounts {
    size_t permanent = 0;
    size_t transient = 0;
    size_t good = 0;
    size_t unknown = 0;
};

// Everything the exit code of a gate run depends on.
struct GateVerdict {
    bool bad_drvs = false; // a drv could not be read
    Policy policy = Policy::fail;
    bool strict = false;
    bool synced = true; // the index was ever synced
    GateCounts counts;
};

// 2 for a drv that could not be read; with --policy fail: 1 for a permanent
// failure, 5 when the index was never synced (a local failure in it still
// blocks: it is the only evidence there is), 4 for a transient one with
// --strict; else 0.
int gate_exit_code(const GateVerdict& verdict);

// The last JSON Lines object of a gate run.
std::string gate_summary_json(size_t drvs, const GateCounts& counts, int code);

} // namespace hs::cli
