// src/main.cpp, compiled in with its main renamed (tests/CMakeLists.txt):
// the trampoline hands argv to the CLI and turns what ends it into an exit
// code and one line on stderr.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

int hs_main_under_test(int argc, char** argv);

namespace {

int run_main(std::vector<std::string> args) {
    args.insert(args.begin(), "hydra-status");
    std::vector<char*> argv;
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    return hs_main_under_test(static_cast<int>(args.size()), argv.data());
}

TEST(Main, AUsageErrorIsCaughtAndExits2) {
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(run_main({"--bogus"}), 2);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("hydra-status: error: unrecognised option '--bogus'"), std::string::npos)
        << err;
}

TEST(Main, AMissingIndexIsCaughtAndExits5) {
    ::setenv("HYDRA_STATUS_SYSTEM_CONFIG", "/dev/null", 1);
    ::setenv("HYDRA_STATUS_CONFIG", "/dev/null", 1);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(run_main({"--db", "/nonexistent/dir/index.sqlite", "info"}), 5);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("/nonexistent/dir/index.sqlite"), std::string::npos) << err;
}

TEST(Main, VersionExits0) {
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(run_main({"--version"}), 0);
    EXPECT_NE(::testing::internal::GetCapturedStdout().find("hydra-status"), std::string::npos);
}

} // namespace
