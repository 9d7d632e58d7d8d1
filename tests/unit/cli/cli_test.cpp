#include "cli/cli.hpp"
#include "cli/settings.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace hs::cli {
namespace {

const std::vector<std::string> k_commands{"lookup", "sync",   "gate",  "info",
                                          "record", "forget", "config"};

TEST(EditDistance, CountsEditsOfOneCharacter) {
    EXPECT_EQ(edit_distance("", ""), 0u);
    EXPECT_EQ(edit_distance("sync", "sync"), 0u);
    EXPECT_EQ(edit_distance("synk", "sync"), 1u);  // substitution
    EXPECT_EQ(edit_distance("syn", "sync"), 1u);   // insertion
    EXPECT_EQ(edit_distance("synnc", "sync"), 1u); // deletion
    EXPECT_EQ(edit_distance("", "gate"), 4u);
    EXPECT_EQ(edit_distance("gate", ""), 4u);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(EditDistance, SwapOfNeighboursIsOneEdit) {
    EXPECT_EQ(edit_distance("gaet", "gate"), 1u);
    EXPECT_EQ(edit_distance("conifg", "config"), 1u);
    EXPECT_EQ(edit_distance("ab", "ba"), 1u);
    EXPECT_EQ(edit_distance("abc", "ca"), 3u); // optimal string alignment, not Damerau
}

TEST(EditDistance, IsSymmetric) {
    for (const auto& a : k_commands) {
        for (const auto& b : {"synk", "lokup", "gaet", "x", ""}) {
            EXPECT_EQ(edit_distance(a, b), edit_distance(b, a)) << a << " " << b;
        }
    }
}

TEST(Nearest, SuggestsTheCommandATypoMeant) {
    EXPECT_EQ(nearest("synk", k_commands), "sync");
    EXPECT_EQ(nearest("lokup", k_commands), "lookup");
    EXPECT_EQ(nearest("gaet", k_commands), "gate");
    EXPECT_EQ(nearest("conifg", k_commands), "config");
    EXPECT_EQ(nearest("recrod", k_commands), "record");
    EXPECT_EQ(nearest("froget", k_commands), "forget");
    EXPECT_EQ(nearest("--stdn", {"--stdin", "--all", "--json"}), "--stdin");
}

TEST(Nearest, SuggestsNothingForFarWords) {
    EXPECT_EQ(nearest("xyzzy", k_commands), "");
    EXPECT_EQ(nearest("show", k_commands), "");
    EXPECT_EQ(nearest("s", k_commands), "");
    EXPECT_EQ(nearest("", k_commands), "");
    // Short words allow one edit only: "snc" -> "sync" is one, "sy" is two.
    EXPECT_EQ(nearest("snc", k_commands), "sync");
    EXPECT_EQ(nearest("sy", k_commands), "");
    EXPECT_EQ(nearest("synk", {}), "");
}

TEST(Nearest, AnExactMatchIsNoTypo) {
    EXPECT_EQ(nearest("sync", {"sync"}), "");
}

TEST(Nearest, FirstOfEqualCandidatesWins) {
    EXPECT_EQ(nearest("inf", {"info", "inxf"}), "info");
    EXPECT_EQ(nearest("inf", {"inxf", "info"}), "inxf");
}

// Runs the CLI in this process with a config file of `config` and no other
// settings from outside; returns its exit code and stdout.
class RunTest : public ::testing::Test {
protected:
    RunTest() {
        ::setenv("HOME", m_dir.path().c_str(), 1);
        ::setenv("HYDRA_STATUS_SYSTEM_CONFIG", "/dev/null", 1);
        ::setenv("HYDRA_STATUS_CONFIG", (m_dir.path() / "config").c_str(), 1);
        ::setenv("HYDRA_STATUS_DB", (m_dir.path() / "absent" / "index.sqlite").c_str(), 1);
        ::unsetenv("HYDRA_STATUS_URL");
        write_config("");
    }
    ~RunTest() override {
        ::unsetenv("HYDRA_STATUS_CONFIG");
        ::unsetenv("HYDRA_STATUS_DB");
    }
    void write_config(const std::string& text) { std::ofstream(m_dir.path() / "config") << text; }
    std::pair<int, std::string> run_cli(std::vector<std::string> args) {
        args.insert(args.begin(), "hydra-status");
        std::vector<char*> argv;
        for (auto& arg : args) {
            argv.push_back(arg.data());
        }
        argv.push_back(nullptr);
        ::testing::internal::CaptureStdout();
        int code = 0;
        try {
            code = run(static_cast<int>(args.size()), argv.data());
        } catch (...) {
            ::testing::internal::GetCapturedStdout(); // ends the capture
            throw;
        }
        std::cout.flush();
        std::fflush(stdout);
        return {code, ::testing::internal::GetCapturedStdout()};
    }
    test::TempDir m_dir;
};

TEST_F(RunTest, CommandHelpListsTheSettingsTheCommandTakesWithDefaults) {
    const auto [code, help] = run_cli({"gate", "--help"});
    EXPECT_EQ(code, 0);
    for (const auto& spec : setting_specs()) {
        const bool listed = help.find("--" + std::string(spec.key) + " ") != std::string::npos;
        EXPECT_EQ(listed, (spec.options & (option_of::gate | option_of::global)) != 0) << spec.key;
    }
    EXPECT_NE(help.find("(default 7d)"), std::string::npos) << help;
    EXPECT_NE(help.find("(default fail)"), std::string::npos) << help;
}

TEST_F(RunTest, AnInvalidValueStopsEveryCommandAtLoad) {
    write_config("# comment\nmax-tries = lots\n");
    // info reads no max-tries, and the index is missing: the bad value is
    // still what stops it, before the index is opened.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"info"}, {"lookup", std::string(32, 'a')}, {"forget", "--all"}}) {
        try {
            run_cli(args);
            ADD_FAILURE() << args.front() << ": no error";
        } catch (const UsageError& e) {
            EXPECT_EQ(std::string(e.what()), (m_dir.path() / "config").string() +
                                                 ":2: max-tries: expected a number from 1 to "
                                                 "100, got 'lots'");
        }
    }
}

TEST_F(RunTest, ConfigShowsAnInvalidValueInsteadOfStopping) {
    write_config("max-tries = lots\n");
    const auto [code, out] = run_cli({"config", "get", "max-tries"});
    EXPECT_EQ(code, 2);
    EXPECT_EQ(out, "lots\n");
}

TEST(ReportError, AnErrorOfOursExitsWithItsCode) {
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(report_error(Error("index.sqlite: not an index", ExitCode::no_index)), 5);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(),
              "hydra-status: error: index.sqlite: not an index\n");
}

TEST(ReportError, SomethingGoneWrongIsNeverTheFailureFoundCode) {
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(report_error(std::bad_alloc()), 70);
    EXPECT_EQ(report_error(std::runtime_error("vector::_M_range_check")), 70);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(),
              "hydra-status: error: out of memory\n"
              "hydra-status: internal error: vector::_M_range_check\n");
}

} // namespace
} // namespace hs::cli
