#pragma once

// Private to src/index: how index.cpp and history.cpp read the rows they
// share, one definition each.

#include "core/store_path.hpp"
#include "index/index.hpp"
#include "index/sqlite.hpp"

#include <algorithm>
#include <span>
#include <string_view>

namespace hs::index::rows {

// The jobset columns that read_jobset reads, in its order: a statement
// selects them first from `jobset j`, and may add columns after them.
constexpr std::string_view k_jobset_columns =
    "j.id, j.synced_at, j.newest_eval, j.rechecked_at, j.etag, j.last_modified, "
    "j.listing_digest, j.eval_builds_failed_at, j.eval_builds_failed_members";
constexpr int k_jobset_column_count = 9;

// Fills the jobset state from the first k_jobset_column_count columns of `row`.
inline void read_jobset(const Statement::Use& row, JobsetState& state) {
    state.id = row.get_int(0);
    state.synced_at = row.get_opt_int(1);
    state.newest_eval = row.get_opt_int(2);
    state.rechecked_at = row.get_opt_int(3);
    state.etag = row.get_str(4);
    state.last_modified = row.get_str(5);
    state.listing_digest = row.get_str(6);
    state.eval_builds_failed_at = row.get_opt_int(7);
    state.eval_builds_failed_members = row.get_opt_int(8);
}

// A stored 20-byte hash; all zero if the blob has another size.
inline core::HashBytes to_hash(std::span<const uint8_t> blob) {
    core::HashBytes out{};
    if (blob.size() == out.size()) {
        std::copy(blob.begin(), blob.end(), out.begin());
    }
    return out;
}

} // namespace hs::index::rows
