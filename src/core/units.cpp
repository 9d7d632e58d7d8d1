#include "core/units.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace hs::core {

namespace {

// The factor from a duration's unit to milliseconds; 0 for no known unit.
double millis_per(std::string_view unit) {
    if (unit.empty() || unit == "s") {
        return 1000;
    }
    if (unit == "ms") {
        return 1;
    }
    if (unit == "m") {
        return 60'000;
    }
    if (unit == "h") {
        return 3'600'000;
    }
    if (unit == "d") {
        return 86'400'000;
    }
    return 0;
}

// The factor from a size's unit to bytes; 0 for no known unit.
uint64_t bytes_per(std::string_view unit) {
    if (unit.empty() || unit == "B") {
        return 1;
    }
    if (unit == "K" || unit == "KiB" || unit == "k") {
        return uint64_t{1} << 10;
    }
    if (unit == "M" || unit == "MiB") {
        return uint64_t{1} << 20;
    }
    if (unit == "G" || unit == "GiB") {
        return uint64_t{1} << 30;
    }
    if (unit == "kB" || unit == "KB") {
        return 1000;
    }
    if (unit == "MB") {
        return uint64_t{1000} * 1000;
    }
    if (unit == "GB") {
        return uint64_t{1000} * 1000 * 1000;
    }
    return 0;
}

bool is_jobset_part(std::string_view name) {
    if (name.empty() || name.size() > 200 || name == "." || name == "..") {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

} // namespace

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    double number = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, number);
    const double factor = millis_per(std::string_view(ptr, static_cast<size_t>(end - ptr)));
    // from_chars also reads "nan" and "inf": neither is a duration.
    if (ec != std::errc{} || ptr == begin || factor == 0 || !std::isfinite(number) || number < 0 ||
        number > 1e9) {
        return Unexpected{"invalid duration " + quote(text) +
                          " (expected e.g. 90, 90s, 500ms, 15m, 24h, 7d)"};
    }
    return std::chrono::milliseconds(static_cast<int64_t>(number * factor));
}

Expected<uint64_t> parse_size(std::string_view text) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    uint64_t number = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, number);
    const uint64_t factor = bytes_per(std::string_view(ptr, static_cast<size_t>(end - ptr)));
    constexpr uint64_t k_max = uint64_t{1} << 50;
    if (ec != std::errc{} || ptr == begin || factor == 0 || number == 0 ||
        number > k_max / factor) {
        return Unexpected{"invalid size " + quote(text) + " (expected e.g. 1000000, 64MiB, 4GiB)"};
    }
    return number * factor;
}

Expected<int64_t> parse_count(std::string_view text, int64_t min, int64_t max) {
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value < min || value > max) {
        return Unexpected{"expected a number from " + std::to_string(min) + " to " +
                          std::to_string(max) + ", got " + quote(text)};
    }
    return value;
}

Expected<JobsetName> parse_jobset_name(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || !is_jobset_part(text.substr(0, colon)) ||
        !is_jobset_part(text.substr(colon + 1))) {
        return Unexpected{"invalid jobset " + quote(text) +
                          " (expected PROJECT:JOBSET of [A-Za-z0-9_.-])"};
    }
    return JobsetName{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

} // namespace hs::core
