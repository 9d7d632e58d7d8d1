#pragma once

#include <optional>
#include <string_view>

namespace hs::core {

// What a result tells about building the derivation again (spec/cli.md).
enum class StatusClass { good, permanent, transient, unknown };

struct Status {
    std::string_view word; // "succeeded", "failed", ..., "queued", "unknown"
    StatusClass cls;
};

// Hydra's (finished, buildstatus) to the contract's status word and class.
// finished decides first: an unfinished build is "queued" whatever its
// (possibly stale) buildstatus says.
Status status_of(bool finished, std::optional<int> buildstatus);

inline constexpr Status k_unknown_status{"unknown", StatusClass::unknown};

std::string_view class_name(StatusClass cls);

} // namespace hs::core
