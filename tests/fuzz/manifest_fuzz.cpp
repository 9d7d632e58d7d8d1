// libFuzzer target for the snapshot manifest reader (src/snapshot/manifest.cpp
// and its JSON reader), which reads what a web server sends before its
// signature is checked. Besides "no crash": a manifest accepted has file
// names that are safe in a URL, deltas in order, and renders back to a
// manifest that reads the same; an error message is printable.
#include "fuzz_check.hpp"
#include "snapshot/manifest.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using hs::fuzz::check;

void check_same(const hs::snapshot::Manifest& a, const hs::snapshot::Manifest& b) {
    check(a.seq == b.seq && a.created == b.created && a.schema == b.schema && a.hydra == b.hydra &&
              a.jobsets == b.jobsets,
          "round trip: header");
    check(a.base.file == b.base.file && a.base.sha256 == b.base.sha256 && a.base.to == b.base.to,
          "round trip: base");
    check(a.deltas.size() == b.deltas.size(), "round trip: deltas");
    for (size_t i = 0; i < a.deltas.size(); ++i) {
        check(a.deltas[i].file == b.deltas[i].file && a.deltas[i].evals == b.deltas[i].evals &&
                  a.deltas[i].from == b.deltas[i].from && a.deltas[i].to == b.deltas[i].to,
              "round trip: delta");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = hs::snapshot::parse_manifest(text);
    if (!parsed) {
        check(hs::fuzz::is_printable_message(parsed.error()), "printable error", parsed.error());
        return 0;
    }
    const auto& m = parsed->manifest;
    check(hs::snapshot::valid_file_name(m.base.file), "base file name");
    for (size_t i = 0; i < m.deltas.size(); ++i) {
        check(hs::snapshot::valid_file_name(m.deltas[i].file), "delta file name");
        check(i == 0 || m.deltas[i].from == m.deltas[i - 1].to, "deltas in order");
    }
    const std::string body = hs::snapshot::render_signed(m);
    const auto again =
        hs::snapshot::parse_manifest("{\"signed\": " + body + ", \"signatures\": []}");
    check(again.has_value(), "rendered manifest reads", again ? "" : again.error());
    check_same(m, again->manifest);
    return 0;
}
