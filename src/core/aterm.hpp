#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::core {

// A derivation as stored in a .drv file (ATerm, shared/reference/nix-drv.md §1).
struct DerivationOutput {
    std::string name;
    std::string path;      // empty for floating CA, impure and deferred outputs
    std::string hash_algo; // "", "sha256", "r:sha256", "text:sha256", ...
    std::string hash;
};

struct InputDrv {
    std::string path;                 // /nix/store/<hash>-<name>.drv
    std::vector<std::string> outputs; // outputs wanted directly
    bool has_dynamic_outputs = false; // DrvWithVersion: outputs of derivations it produces
};

struct Derivation {
    std::optional<std::string> version; // DrvWithVersion's version string
    std::vector<DerivationOutput> outputs;
    std::vector<InputDrv> input_drvs;
    std::vector<std::string> input_srcs;
    std::string system;
    std::string builder;
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env;
};

// Parses a whole .drv file. Strict: no whitespace, exact punctuation, nothing
// after the final ')'. Throws hs::Error (ExitCode::usage) with a message like
// "expected ',' at byte 123" on malformed input; never reads out of bounds.
Derivation parse_derivation(std::string_view text);

// The same grammar and checks, but keeps only the inputDrvs paths (for the
// closure walk, where env and args are not needed).
std::vector<std::string> parse_input_drv_paths(std::string_view text);

} // namespace hs::core
