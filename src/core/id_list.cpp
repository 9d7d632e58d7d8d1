#include "core/id_list.hpp"

#include <algorithm>

namespace hs::core {

std::string encode_id_list(std::vector<int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::string out;
    out.reserve(ids.size() * 2);
    uint64_t previous = 0;
    for (const int64_t id : ids) {
        uint64_t delta = static_cast<uint64_t>(id) - previous;
        previous = static_cast<uint64_t>(id);
        while (delta >= 0x80) {
            out += static_cast<char>((delta & 0x7f) | 0x80);
            delta >>= 7;
        }
        out += static_cast<char>(delta);
    }
    return out;
}

std::optional<std::vector<int64_t>> decode_id_list(std::span<const uint8_t> bytes) {
    std::vector<int64_t> ids;
    uint64_t previous = 0;
    uint64_t delta = 0;
    int shift = 0;
    for (const uint8_t byte : bytes) {
        if (shift > 63) {
            return std::nullopt;
        }
        delta |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if (byte & 0x80) {
            shift += 7;
            continue;
        }
        previous += delta;
        ids.push_back(static_cast<int64_t>(previous));
        delta = 0;
        shift = 0;
    }
    if (shift != 0) {
        return std::nullopt;
    }
    return ids;
}

} // namespace hs::core
