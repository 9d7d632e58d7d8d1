#include "core/id_list.hpp"

#include <gtest/gtest.h>

namespace hs::core {
namespace {

TEST(IdList, RoundTripsSortedAndDeduplicated) {
    const auto bytes = encode_id_list({300, 1, 2, 2, 1'000'000'000'000});
    const auto ids =
        decode_id_list(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    ASSERT_TRUE(ids);
    EXPECT_EQ(*ids, (std::vector<int64_t>{1, 2, 300, 1'000'000'000'000}));
}

TEST(IdList, ConsecutiveIdsTakeOneByteEach) {
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < 1000; ++i) {
        ids.push_back(250'000'000 + i);
    }
    EXPECT_LE(encode_id_list(ids).size(), 1000u + 4);
}

TEST(IdList, EmptyListIsEmpty) {
    EXPECT_TRUE(encode_id_list({}).empty());
    EXPECT_EQ(decode_id_list({}), std::vector<int64_t>{});
}

TEST(IdList, TruncatedVarintIsRejected) {
    const uint8_t bytes[] = {0x81};
    EXPECT_FALSE(decode_id_list(bytes));
}

TEST(IdList, OverlongVarintIsRejected) {
    std::vector<uint8_t> bytes(11, 0xff);
    bytes.push_back(0x01);
    EXPECT_FALSE(decode_id_list(bytes));
}

TEST(IdList, VisitorStopsWhenToldWithoutReadingFurther) {
    const std::string encoded = encode_id_list({5, 7, 9, 11});
    std::vector<uint8_t> bytes(encoded.begin(), encoded.end());
    bytes.push_back(0x81); // a truncated varint after the ids visited
    std::vector<int64_t> seen;
    EXPECT_TRUE(for_each_id(bytes, [&](int64_t id) {
        seen.push_back(id);
        return id < 9;
    }));
    EXPECT_EQ(seen, (std::vector<int64_t>{5, 7, 9}));
    // Read to the end, the same bytes are not a valid encoding.
    EXPECT_FALSE(for_each_id(bytes, [](int64_t) { return true; }));
}

} // namespace
} // namespace hs::core
