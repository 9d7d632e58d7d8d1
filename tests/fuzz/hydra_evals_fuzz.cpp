// libFuzzer target for the ingestion of Hydra evals: one page of the evals
// listing (GET /jobset/<p>/<j>/evals) and one eval object (GET /eval/<id>),
// parsed by JsonParser and written to an in-memory index with put_eval.
// Checks that every written eval reads back with its member builds, and
// that every message is printable.
#include "core/records.hpp"
#include "fuzz_check.hpp"
#include "index/index.hpp"
#include "index_fixture.hpp"
#include "sync/hydra_json.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using hs::fuzz::check;
using hs::fuzz::check_message;
namespace core = hs::core;
namespace index = hs::index;

void ingest(index::IndexWriter& idx, const index::JobsetState& state,
            const core::EvalRecord& eval) {
    // The syncer ingests only evals newer than the newest it has (0 before
    // the first), and refuses ids above k_id_mask, which put_eval throws on
    // (the index keys evals as instance << 40 | id).
    if (eval.id <= 0 || eval.id > index::k_id_mask) {
        return;
    }
    idx.put_eval(state, eval);
    check(idx.reader().has_eval(state.instance, eval.id), "a written eval is found");
    std::vector<int64_t> expected = eval.builds;
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
    check(idx.reader().eval_builds(state.instance, eval.id) == expected, "member builds read back");
    const auto ids = idx.reader().eval_ids(state.id);
    check(std::find(ids.begin(), ids.end(), eval.id) != ids.end(),
          "a written eval is listed for its jobset");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    const std::string_view text(copy);

    static hs::sync::JsonParser parser; // reused, as the syncer does
    static core::EvalsPage page;        // reused: exercises the spare elements
    static core::EvalRecord eval;

    hs::fuzz::in_rolled_back_transaction([&](index::IndexWriter& idx) {
        const auto state = idx.jobset(hs::fuzz::k_fuzz_url, "nixpkgs", "trunk");

        std::string why = parser.parse_evals_page(text, page);
        if (why.empty()) {
            for (const auto& listed : page.evals) {
                ingest(idx, state, listed);
            }
        } else {
            check_message(why, "parse_evals_page reason is printable");
        }

        why = parser.parse_eval(text, eval);
        if (why.empty()) {
            ingest(idx, state, eval);
        } else {
            check_message(why, "parse_eval reason is printable");
        }
    });
    return 0;
}
