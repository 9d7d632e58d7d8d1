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

// nullopt if the bytes are not a valid encoding.
std::optional<std::vector<int64_t>> decode_id_list(std::span<const uint8_t> bytes);

} // namespace hs::core
