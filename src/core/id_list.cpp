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
    const bool valid = for_each_id(bytes, [&](int64_t id) {
        ids.push_back(id);
        return true;
    });
    if (!valid) {
        return std::nullopt;
    }
    return ids;
}

} // namespace hs::core
