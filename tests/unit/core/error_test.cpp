#include "core/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hs {
namespace {

TEST(Error, CarriesExitCode) {
    EXPECT_EQ(Error("x").code(), ExitCode::failure);
    EXPECT_EQ(Error("x", ExitCode::locked).code(), ExitCode::locked);
    EXPECT_EQ(UsageError("bad").code(), ExitCode::usage);
    EXPECT_STREQ(UsageError("bad").what(), "bad");
    EXPECT_EQ(static_cast<int>(ExitCode::locked), 75);
    EXPECT_EQ(static_cast<int>(ExitCode::no_index), 5);
}

TEST(Error, ExitCodesAreTheContractsNumbers) {
    // spec/cli.md: scripts branch on these numbers.
    EXPECT_EQ(static_cast<int>(ExitCode::ok), 0);
    EXPECT_EQ(static_cast<int>(ExitCode::failure), 1);
    EXPECT_EQ(static_cast<int>(ExitCode::usage), 2);
    EXPECT_EQ(static_cast<int>(ExitCode::unknown), 3);
    EXPECT_EQ(static_cast<int>(ExitCode::transient), 4);
    EXPECT_EQ(static_cast<int>(ExitCode::no_index), 5);
    EXPECT_EQ(static_cast<int>(ExitCode::locked), 75);
}

TEST(Error, UsageErrorIsCaughtAsError) {
    try {
        throw UsageError("--db requires a value");
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ExitCode::usage);
        EXPECT_STREQ(error.what(), "--db requires a value");
    }
}

TEST(Error, MessagesQuoteHostileInputSafely) {
    // error.hpp brings quote() with it, for "<what> 'value'" messages.
    const Error error("unknown key " + quote("a\x1b[2Jb"), ExitCode::usage);
    EXPECT_STREQ(error.what(), "unknown key 'a\\x1b[2Jb'");
}

} // namespace
} // namespace hs
