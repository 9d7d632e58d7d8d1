#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hs::core {

// A compact set of ids (an eval's member builds): sorted, deduplicated,
// stored as deltas in LEB128 varints. Consecutive Hydra build ids differ by
// small numbers, so most take one or two bytes.
std::string encode_id_list(std::vector<int64_t> ids);

// Calls visit(id) for each id in ascending order until it returns false.
// Returns false if the bytes read are not a valid encoding. A reader that
// needs only some ids stops early instead of decoding 250,000.
template <class Visit>
bool for_each_id(std::span<const uint8_t> bytes, Visit&& visit) {
    uint64_t id = 0;
    uint64_t delta = 0;
    int shift = 0;
    for (const uint8_t byte : bytes) {
        if (shift > 63) {
            return false;
        }
        delta |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if (byte & 0x80) {
            shift += 7;
            continue;
        }
        id += delta;
        delta = 0;
        shift = 0;
        if (!visit(static_cast<int64_t>(id))) {
            return true;
        }
    }
    return shift == 0;
}

// nullopt if the bytes are not a valid encoding.
std::optional<std::vector<int64_t>> decode_id_list(std::span<const uint8_t> bytes);

} // namespace hs::core
