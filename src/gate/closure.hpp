#pragma once

#include "core/error.hpp"

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
// A root may also be a path to a .drv file outside the store: when its file
// name is a drv basename (<hash>-<name>.drv) that names it, else its store
// path is computed from its contents (core::derivation_store_path), as for
// a drv copied out of the store under another name. The walk never leaves
// store_root: inputDrvs must be valid store paths, and symlinks that point
// out of the root are refused.
//
// A root that is not a drv, and a drv file that is missing, unreadable or
// not a valid .drv, is an hs::Error (ExitCode::usage) naming it. With
// `errors`, these are appended to it in walk order (root arguments first)
// and the walk goes on with everything else; a bad file's drv stays in the
// closure, without inputs. Without it, the first is thrown. When a drv is
// missing from the real store (no store_root), the message suggests a
// --store-root: the DIR of a root given as DIR/nix/store/<basename>, or one
// of `hint_roots` (e.g. Nix's automatic chroot store) whose store holds the
// file, or says that there is no /nix/store.
//
// The walk goes level by level; each level's files are read by up to as many
// threads as there are cores. `visit`, when given, is called on the calling
// thread with each level's nodes [begin, end) while those files are read, so
// that checking drvs overlaps with reading them; closure.nodes does not
// change during a call. Without `errors`, when a file is bad, the levels up
// to its own may have been visited before the error is thrown. When `visit`
// throws, the walk goes on without it, and at the end the first bad drv's
// error is thrown if there is one (exit 2 comes before an index error), else
// the visitor's.
using Visit = std::function<void(const Closure& closure, size_t begin, size_t end)>;
Closure walk_closure(const std::vector<std::string>& roots, const std::string& store_root,
                     const Visit& visit = {}, std::vector<Error>* errors = nullptr,
                     const std::vector<std::string>& hint_roots = {});

// Just the given drvs, no walk (for --from-dry-run, which lists exactly the
// drvs that will be built).
Closure flat_closure(const std::vector<std::string>& drvs);

// The file that holds a store path under store_root.
std::string file_of(const std::string& store_path, const std::string& store_root);

} // namespace hs::gate
