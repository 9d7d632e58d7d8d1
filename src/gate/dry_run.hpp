#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hs::gate {

// What `nix-build --dry-run` / `nix-store -r --dry-run` says it would do.
struct DryRun {
    std::vector<std::string> will_build; // .drv paths, in the order printed
    std::vector<std::string> will_fetch; // store paths, in the order printed
};

// Parses the (stderr) text of a dry run, Nix 0.16 to 2.35 wording, strictly:
// the gate must never pass because it read the wrong text. ANSI colour codes
// and progress-bar rewrites are removed first. A report is made of lists:
// a header ("these N derivations will be built:", "this derivation will be
// built:", "these N paths will be fetched (...):", "this path will be
// fetched (...):", "don't know how to build these paths:", and the wording
// of Nix < 2.4) and its indented store paths, as many as the header
// announces. Around them Nix may print blank lines and messages starting
// "warning:", "evaluation warning:", "trace:" or "error (ignored):", whose
// indented continuation lines are skipped. Every other line is an error,
// and so is a text with no list at all (empty, or messages only: Nix writes
// its report on stderr, and writes nothing when there is nothing to build or
// fetch). Errors are hs::Error (ExitCode::usage): "<origin> line N: ..."
// naming the first bad line. A report with only fetched or unbuildable
// paths is an honest "nothing will be built": will_build is empty.
DryRun parse_dry_run(std::string_view text, std::string_view origin = "dry-run output");

} // namespace hs::gate
