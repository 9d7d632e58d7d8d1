// libFuzzer target for the ingestion of Hydra build objects: one build
// object (GET /build/<id>) or an array of them (GET /eval/<id>/builds, cut by
// the ArraySplitter as the syncer does), parsed by JsonParser and written to
// an in-memory index with put_build. Checks that every accepted build reads
// back as it was written, that every message is printable, and that Hydra's
// error-body reader never throws.
#include "core/error.hpp"
#include "core/records.hpp"
#include "core/store_path.hpp"
#include "fuzz_check.hpp"
#include "index/index.hpp"
#include "index_fixture.hpp"
#include "sync/array_splitter.hpp"
#include "sync/hydra_json.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using hs::fuzz::check;
using hs::fuzz::check_message;
namespace core = hs::core;
namespace index = hs::index;

// How the index keeps Hydra's strings (IndexWriter::put_build): as sent when
// printable ASCII, else escaped by hs::printable.
std::string stored(const std::string& text) {
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    return plain ? text : hs::printable(text);
}

// Writes one parsed build and checks that the index answers with it.
void ingest(index::IndexWriter& idx, int64_t instance, const core::BuildRecord& build) {
    const std::string why = idx.put_build(instance, build);
    if (!why.empty()) {
        check_message(why, "put_build reason is printable");
        return;
    }
    check(build.id > 0 && build.id <= index::k_id_mask, "put_build accepts only ids in range");
    const auto drv = core::parse_store_path(build.drvpath);
    check(drv.has_value() && drv->is_drv(), "put_build accepts only drv paths", build.drvpath);
    const auto rows = idx.reader().builds_of_drv(drv->hash);
    const auto row = std::find_if(rows.begin(), rows.end(),
                                  [&](const index::BuildRow& r) { return r.build_id == build.id; });
    check(row != rows.end(), "an accepted build is found by its drv", build.drvpath);
    check(row->drv_path() == build.drvpath, "drv path reads back", row->drv_path());
    check(row->project == stored(build.project) && row->jobset == stored(build.jobset),
          "jobset reads back", row->project + ":" + row->jobset);
    check(row->job == stored(build.job) && row->system == stored(build.system),
          "job and system read back", row->job + " " + row->system);
    for (const auto* text : {&row->project, &row->jobset, &row->job, &row->system}) {
        check_message(*text, "a stored Hydra string is printable");
    }
    check(row->finished == build.finished, "finished reads back");
    check(row->buildstatus == build.buildstatus, "buildstatus reads back");
    check(row->starttime == build.starttime && row->stoptime == build.stoptime, "times read back");
    check(row->hydra_url == hs::fuzz::k_fuzz_url, "instance url reads back");
    for (const auto& [name, path] : build.outputs) {
        if (path.empty()) {
            continue;
        }
        const auto out = core::parse_store_path(path);
        check(out.has_value(), "put_build accepts only valid output paths", path);
        const core::Key key{core::KeyKind::output_path, out->hash, out->name};
        check(!idx.reader().builds_for_key(key).empty(), "an accepted output is found", path);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    const std::string_view text(copy);

    static hs::sync::JsonParser parser; // reused, as the syncer does
    static core::BuildRecord record;    // reused: exercises the spare elements

    (void)hs::sync::parse_error_body(text);

    hs::fuzz::in_rolled_back_transaction([&](index::IndexWriter& idx) {
        const auto state = idx.jobset(hs::fuzz::k_fuzz_url, "nixpkgs", "trunk");
        const int64_t instance = state.instance;

        // One build object.
        std::string why = parser.parse_build(text, record);
        if (why.empty()) {
            ingest(idx, instance, record);
        } else {
            check_message(why, "parse_build reason is printable");
        }

        // The same bytes as the body of /eval/<id>/builds.
        hs::sync::ArraySplitter splitter([&](std::string_view element) {
            const std::string reason = parser.parse_build(element, record);
            if (!reason.empty()) {
                check_message(reason, "parse_build reason is printable");
                return false;
            }
            ingest(idx, instance, record);
            return true;
        });
        if (splitter.feed(text)) {
            (void)splitter.finish();
        }
        check_message(splitter.error(), "splitter error is printable");
    });
    return 0;
}
