#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::core {

// How deep DrvWithVersion's dynamic-output nodes may nest (bounds recursion).
inline constexpr size_t k_max_dynamic_output_depth = 64;

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
// "expected ',' at byte 123" on malformed input (byte offsets count from 0),
// or "unexpected end of file at byte N" (N = the text's size) when the text
// ends where more is needed, as in a truncated file; never reads out of
// bounds. Beyond the grammar it checks that the version of
// DrvWithVersion is "xp-dyn-drv", that every inputDrvs key is a
// /nix/store/<hash>-<name>.drv path (parse_store_path) and that dynamic
// outputs nest at most k_max_dynamic_output_depth deep. Strings are unescaped by Nix's reader rules
// (\n \r \t, a backslash before any other byte yields that byte).
// A non-empty origin (the file name) prefixes every message: "<origin>: ...".
Derivation parse_derivation(std::string_view text, std::string_view origin = {});

// The same grammar and checks, but keeps only the inputDrvs paths, in file
// order (for the closure walk, where env and args are not needed). Other
// strings are skipped without being copied.
std::vector<std::string> parse_input_drv_paths(std::string_view text, std::string_view origin = {});

// As parse_input_drv_paths, but hands each path to `each` as it is parsed,
// without copying it (the view lives until `each` returns). When the text
// turns out malformed, `each` may already have seen the paths before the
// error.
using InputDrvPathVisitor = std::function<void(std::string_view path)>;
void visit_input_drv_paths(std::string_view text, std::string_view origin,
                           const InputDrvPathVisitor& each);

// The derivation's name: its "name" variable, or else (structured attrs
// keep it inside "__json") the name of an output path: output "out" is
// named <name>, output X <name>-X. nullopt when neither tells it (structured
// attrs with no output path).
std::optional<std::string> derivation_name(const Derivation& drv);

// The store path Nix gives a .drv file holding `text` (parsed as drv): a
// text-addressed path over the file's bytes and its references, the
// inputDrvs and inputSrcs (shared/reference/nix-drv.md §1.5), in /nix/store.
// nullopt with a reason in why when the name cannot be told or is not a
// valid store path name.
std::optional<std::string> derivation_store_path(const Derivation& drv, std::string_view text,
                                                 std::string* why = nullptr);

} // namespace hs::core
