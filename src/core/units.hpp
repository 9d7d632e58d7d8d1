#pragma once

// The value syntaxes that settings and options share: durations, sizes,
// counts in a range and PROJECT:JOBSET names. Each parser returns the value or
// a lowercase reason that quotes the text ("invalid duration 'soon' (...)");
// the caller adds where the text came from.

#include "core/expected.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace hs::core {

// "90" (seconds), "90s", "500ms", "15m", "1.5h", "7d": at least 0, at most
// 10^9 of the unit. No blanks, no sign.
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);

// "1000000", "64KiB", "64MiB", "4GiB" (1024-based; K, M, G and k alike),
// "64kB", "64MB", "4GB" (1000-based); "B" alone or no unit means bytes. At
// least 1 byte, at most 2^50.
Expected<uint64_t> parse_size(std::string_view text);

// A whole decimal number from min to max.
Expected<int64_t> parse_count(std::string_view text, int64_t min, int64_t max);

// A Hydra jobset as PROJECT:JOBSET.
struct JobsetName {
    std::string project;
    std::string jobset;

    std::string text() const { return project + ":" + jobset; }
    friend bool operator==(const JobsetName&, const JobsetName&) = default;
};

// PROJECT:JOBSET where each part is 1 to 200 of [A-Za-z0-9_.-], not "." or
// ".." (the parts become URL path segments: nothing there needs escaping).
Expected<JobsetName> parse_jobset_name(std::string_view text);

} // namespace hs::core
