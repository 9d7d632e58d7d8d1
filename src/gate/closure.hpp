#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hs::gate {

// The inputDrvs closure of some root derivations, each drv visited once, in
// breadth-first order, with the parent through which it was first reached
// (so the chain from a root is a shortest one).
struct Closure {
    struct Node {
        std::string path;    // /nix/store/<hash>-<name>.drv
        int32_t parent = -1; // index into nodes, -1 for a root
    };
    std::vector<Node> nodes;

    // The chain root -> ... -> nodes[i], as paths.
    std::vector<std::string> chain(size_t i) const;
};

// Reads /nix/store/x from store_root + "/nix/store/x" ("" = the real store).
// A root may also be a path to a .drv file outside the store whose file name
// is a drv basename. The walk never leaves store_root: inputDrvs must be
// valid store paths, and symlinks that point out of the root are refused.
// A file that is missing, unreadable or not a valid .drv throws hs::Error
// (ExitCode::usage) naming it.
Closure walk_closure(const std::vector<std::string>& roots, const std::string& store_root);

// Just the given drvs, no walk (for --from-dry-run, which lists exactly the
// drvs that will be built).
Closure flat_closure(const std::vector<std::string>& drvs);

// The file that holds a store path under store_root.
std::string file_of(const std::string& store_path, const std::string& store_root);

} // namespace hs::gate
