#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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
//
// The walk goes level by level; each level's files are read by up to as many
// threads as there are cores. `visit`, when given, is called on the calling
// thread with each level's nodes [begin, end) while those files are read, so
// that checking drvs overlaps with reading them; closure.nodes does not
// change during a call. When a file is bad, the levels up to its own may have
// been visited before the error is thrown. When `visit` throws, the walk
// goes on without it (a bad file found later is thrown instead), and the
// visitor's exception is thrown at the end.
using Visit = std::function<void(const Closure& closure, size_t begin, size_t end)>;
Closure walk_closure(const std::vector<std::string>& roots, const std::string& store_root,
                     const Visit& visit = {});

// Just the given drvs, no walk (for --from-dry-run, which lists exactly the
// drvs that will be built).
Closure flat_closure(const std::vector<std::string>& drvs);

// The file that holds a store path under store_root.
std::string file_of(const std::string& store_path, const std::string& store_root);

} // namespace hs::gate
