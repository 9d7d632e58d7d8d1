// An in-memory index shared by the Hydra JSON ingestion targets. Each input
// is written inside one transaction that is then rolled back, as the
// syncer does with a failed eval, so every input starts from the same state.
#pragma once

#include "core/error.hpp"
#include "fuzz_check.hpp"
#include "index/index.hpp"

#include <string>

namespace hs::fuzz {

inline constexpr const char* k_fuzz_url = "http://127.0.0.1:1";

inline index::IndexWriter& fuzz_index() {
    static index::IndexWriter index = [] {
        index::IndexWriter opened = index::IndexWriter::open(":memory:");
        // One jobset row exists before any input, like a resumed sync.
        auto txn = opened.transaction();
        opened.jobset(k_fuzz_url, "nixpkgs", "trunk");
        txn.commit();
        return opened;
    }();
    return index;
}

// Runs body(index) inside a transaction that is always rolled back. An
// hs::Error from the index is a finding: Hydra's data must be refused with
// a reason (returned as data), never by an SQLite failure mid-eval.
template <typename Body>
void in_rolled_back_transaction(Body&& body) {
    index::IndexWriter& index = fuzz_index();
    try {
        auto txn = index.transaction(); // rolled back: the index forgets its caches
        body(index);
    } catch (const Error& e) {
        fail("the index threw", e.what());
    }
}

} // namespace hs::fuzz
