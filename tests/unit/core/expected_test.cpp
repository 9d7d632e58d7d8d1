#include "core/expected.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace hs {
namespace {

Expected<int> half(int n) {
    if (n % 2 != 0) {
        return Unexpected{"odd number " + std::to_string(n)};
    }
    return n / 2;
}

Expected<void> check_positive(int n) {
    if (n <= 0) {
        return Unexpected{"not positive"};
    }
    return {};
}

TEST(Expected, HoldsTheValue) {
    const auto result = half(8);
    ASSERT_TRUE(result);
    EXPECT_EQ(*result, 4);
    EXPECT_EQ(result.error(), "");
}

TEST(Expected, HoldsTheReasonInsteadOfAValue) {
    const auto result = half(7);
    EXPECT_FALSE(result);
    EXPECT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), "odd number 7");
}

TEST(Expected, MovesAValueOut) {
    Expected<std::unique_ptr<int>> result(std::make_unique<int>(3));
    const std::unique_ptr<int> owned = *std::move(result);
    EXPECT_EQ(*owned, 3);
}

TEST(Expected, ReachesMembersThroughArrow) {
    const Expected<std::string> result(std::string("abc"));
    EXPECT_EQ(result->size(), 3U);
}

TEST(Expected, VoidTellsSuccessFromFailure) {
    EXPECT_TRUE(check_positive(1));
    const auto failed = check_positive(0);
    EXPECT_FALSE(failed);
    EXPECT_EQ(failed.error(), "not positive");
}

TEST(Expected, CarriesACodeForCallersThatActOnIt) {
    const Expected<int> coded(Unexpected{"No such file or directory", 2});
    EXPECT_EQ(coded.error_code(), 2);
    EXPECT_EQ(half(7).error_code(), 0); // none given
    EXPECT_EQ(half(8).error_code(), 0);
    const Expected<void> void_coded(Unexpected{"busy", 16});
    EXPECT_EQ(void_coded.error_code(), 16);
    EXPECT_EQ(check_positive(1).error_code(), 0);
}

} // namespace
} // namespace hs
