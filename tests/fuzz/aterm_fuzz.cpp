// libFuzzer target for the ATerm parser. Besides "no crash", it checks that
// the two entry points accept the same inputs and agree on inputDrvs, and
// that error messages are printable (they may quote the input).
#include "core/aterm.hpp"
#include "core/error.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    const std::string_view text(copy);

    std::optional<hs::core::Derivation> drv;
    try {
        drv = hs::core::parse_derivation(text);
    } catch (const hs::Error& e) {
        hs::fuzz::check_message(e.what(), "parse_derivation message is printable");
    }
    std::optional<std::vector<std::string>> paths;
    try {
        paths = hs::core::parse_input_drv_paths(text);
    } catch (const hs::Error& e) {
        hs::fuzz::check_message(e.what(), "parse_input_drv_paths message is printable");
    }

    if (drv.has_value() != paths.has_value()) {
        std::abort();
    }
    if (drv) {
        if (drv->input_drvs.size() != paths->size()) {
            std::abort();
        }
        for (size_t i = 0; i < paths->size(); ++i) {
            if (drv->input_drvs[i].path != (*paths)[i]) {
                std::abort();
            }
        }
    }
    return 0;
}
