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

// Parses the (stderr) text of a dry run, Nix 2.3 to 2.35 wording. ANSI colour
// codes are removed first. Paths are the indented lines below the headers
// "these N derivations will be built:", "this derivation will be built:",
// "these N paths will be fetched (...):", "this path will be fetched (...):";
// the paths below "don't know how to build these paths:" and every other line
// (warnings, "error: ...") are ignored. Throws hs::Error (ExitCode::usage)
// naming the line number when a line in a section is not a valid store path.
DryRun parse_dry_run(std::string_view text);

} // namespace hs::gate
