#include "core/status.hpp"

#include <array>

namespace hs::core {

namespace {

constexpr std::array<Status, 13> k_by_code{{
    {"succeeded", StatusClass::good},                  // 0
    {"failed", StatusClass::permanent},                // 1
    {"dependency-failed", StatusClass::permanent},     // 2
    {"aborted", StatusClass::transient},               // 3
    {"cancelled", StatusClass::transient},             // 4
    {"failed", StatusClass::permanent},                // 5 obsolete
    {"failed-with-output", StatusClass::permanent},    // 6
    {"timed-out", StatusClass::transient},             // 7
    {"cached-failure", StatusClass::permanent},        // 8
    {"unsupported-system", StatusClass::transient},    // 9
    {"log-limit-exceeded", StatusClass::transient},    // 10
    {"output-limit-exceeded", StatusClass::transient}, // 11
    {"non-deterministic", StatusClass::transient},     // 12
}};

constexpr Status k_queued{"queued", StatusClass::transient};
constexpr Status k_other_failure{"failed", StatusClass::permanent};

} // namespace

Status status_of(bool finished, std::optional<int> buildstatus) {
    if (!finished) {
        return k_queued;
    }
    if (!buildstatus) {
        // Finished without a code does not happen on a sane Hydra; treat it
        // like any unknown code rather than as success.
        return k_other_failure;
    }
    if (*buildstatus >= 0 && static_cast<size_t>(*buildstatus) < k_by_code.size()) {
        return k_by_code[static_cast<size_t>(*buildstatus)];
    }
    return k_other_failure;
}

std::string_view class_name(StatusClass cls) {
    switch (cls) {
    case StatusClass::good:
        return "good";
    case StatusClass::permanent:
        return "permanent";
    case StatusClass::transient:
        return "transient";
    case StatusClass::unknown:
        break;
    }
    return "unknown";
}

} // namespace hs::core
