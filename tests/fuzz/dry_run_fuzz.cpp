// libFuzzer target for the dry-run output parser: no crash, and error
// messages are printable (they quote the offending line).
#include "core/error.hpp"
#include "fuzz_check.hpp"
#include "gate/dry_run.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes on the heap, so that ASan catches any
    // read past the end.
    const std::string copy(reinterpret_cast<const char*>(data), size);
    try {
        hs::gate::parse_dry_run(std::string_view(copy));
    } catch (const hs::Error& e) {
        hs::fuzz::check_message(e.what(), "parse_dry_run message is printable");
    }
    return 0;
}
