#include "core/status.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace hs::core {
namespace {

struct Row {
    const char* name;
    bool finished;
    std::optional<int> buildstatus;
    std::string_view word;
    StatusClass cls;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const Row& c, std::ostream* os) {
    *os << c.name;
}

// The status table of spec/cli.md "Status words", row by row.
const Row k_rows[] = {
    {"Code0Succeeded", true, 0, "succeeded", StatusClass::good},
    {"Code1Failed", true, 1, "failed", StatusClass::permanent},
    {"Code2DependencyFailed", true, 2, "dependency-failed", StatusClass::permanent},
    {"Code3Aborted", true, 3, "aborted", StatusClass::transient},
    {"Code4Cancelled", true, 4, "cancelled", StatusClass::transient},
    {"Code5ObsoleteIsFailed", true, 5, "failed", StatusClass::permanent},
    {"Code6FailedWithOutput", true, 6, "failed-with-output", StatusClass::permanent},
    {"Code7TimedOut", true, 7, "timed-out", StatusClass::transient},
    {"Code8CachedFailure", true, 8, "cached-failure", StatusClass::permanent},
    {"Code9UnsupportedSystem", true, 9, "unsupported-system", StatusClass::transient},
    {"Code10LogLimitExceeded", true, 10, "log-limit-exceeded", StatusClass::transient},
    {"Code11OutputLimitExceeded", true, 11, "output-limit-exceeded", StatusClass::transient},
    {"Code12NonDeterministic", true, 12, "non-deterministic", StatusClass::transient},
    // "other": failed, permanent.
    {"Code13IsFailed", true, 13, "failed", StatusClass::permanent},
    {"Code99IsFailed", true, 99, "failed", StatusClass::permanent},
    {"Code100IsFailed", true, 100, "failed", StatusClass::permanent},
    {"CodeMinusOneIsFailed", true, -1, "failed", StatusClass::permanent},
    {"CodeIntMinIsFailed", true, INT_MIN, "failed", StatusClass::permanent},
    {"CodeIntMaxIsFailed", true, INT_MAX, "failed", StatusClass::permanent},
    // Finished without a code is never read as success.
    {"FinishedWithoutCodeIsFailed", true, std::nullopt, "failed", StatusClass::permanent},
    // finished: 0 decides first, whatever buildstatus says.
    {"UnfinishedNullIsQueued", false, std::nullopt, "queued", StatusClass::transient},
    {"UnfinishedCode0IsQueued", false, 0, "queued", StatusClass::transient},
    {"UnfinishedCode1IsQueued", false, 1, "queued", StatusClass::transient},
    {"UnfinishedCode2IsQueued", false, 2, "queued", StatusClass::transient},
    {"UnfinishedCode3IsQueued", false, 3, "queued", StatusClass::transient},
    {"UnfinishedCode5IsQueued", false, 5, "queued", StatusClass::transient},
    {"UnfinishedCode8IsQueued", false, 8, "queued", StatusClass::transient},
    {"UnfinishedCode12IsQueued", false, 12, "queued", StatusClass::transient},
    {"UnfinishedCode13IsQueued", false, 13, "queued", StatusClass::transient},
    {"UnfinishedCodeMinusOneIsQueued", false, -1, "queued", StatusClass::transient},
};

class StatusTable : public testing::TestWithParam<Row> {};

TEST_P(StatusTable, MapsToContractWordAndClass) {
    const auto& row = GetParam();
    const auto status = status_of(row.finished, row.buildstatus);
    EXPECT_EQ(status.word, row.word);
    EXPECT_EQ(status.cls, row.cls) << class_name(status.cls);
}

INSTANTIATE_TEST_SUITE_P(Contract, StatusTable, testing::ValuesIn(k_rows),
                         [](const testing::TestParamInfo<Row>& param_info) {
                             return std::string(param_info.param.name);
                         });

TEST(Status, UnfinishedIsQueuedForEveryCode) {
    for (int code = -2; code <= 20; ++code) {
        const auto status = status_of(false, code);
        EXPECT_EQ(status.word, "queued") << code;
        EXPECT_EQ(status.cls, StatusClass::transient) << code;
    }
}

TEST(Status, OnlyCodeZeroIsGood) {
    for (int code = -5; code <= 300; ++code) {
        EXPECT_EQ(status_of(true, code).cls == StatusClass::good, code == 0) << code;
    }
    EXPECT_NE(status_of(true, std::nullopt).cls, StatusClass::good);
}

TEST(Status, HydraResultIsNeverClassUnknown) {
    for (int code = -5; code <= 300; ++code) {
        EXPECT_NE(status_of(true, code).cls, StatusClass::unknown) << code;
        EXPECT_NE(status_of(false, code).cls, StatusClass::unknown) << code;
    }
}

TEST(Status, UnknownStatusIsUnknownClass) {
    EXPECT_EQ(k_unknown_status.word, "unknown");
    EXPECT_EQ(k_unknown_status.cls, StatusClass::unknown);
}

TEST(Status, ClassNamesMatchContract) {
    EXPECT_EQ(class_name(StatusClass::good), "good");
    EXPECT_EQ(class_name(StatusClass::permanent), "permanent");
    EXPECT_EQ(class_name(StatusClass::transient), "transient");
    EXPECT_EQ(class_name(StatusClass::unknown), "unknown");
}

TEST(Status, WordsAreLowercaseWithoutSpaces) {
    for (const auto& row : k_rows) {
        const auto word = status_of(row.finished, row.buildstatus).word;
        ASSERT_FALSE(word.empty());
        for (const char c : word) {
            EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '-') << word;
        }
    }
}

} // namespace
} // namespace hs::core
