#include "cli/config_cmd.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace hs::cli {
namespace {

TEST(ParseConfigArgs, ShowIsTheDefault) {
    EXPECT_EQ(parse_config_args({}).sub, "show");
    EXPECT_EQ(parse_config_args({"show"}).sub, "show");
    EXPECT_EQ(parse_config_args({"keys"}).sub, "keys");
    const auto get = parse_config_args({"get", "max-evals"});
    EXPECT_EQ(get.sub, "get");
    EXPECT_EQ(get.key, "max-evals");
}

TEST(ParseConfigArgs, RejectsWhatItCannotDo) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"show", "x"},
                                                                  {"keys", "x"},
                                                                  {"get"},
                                                                  {"get", "a", "b"},
                                                                  {"get", "frobnicate"},
                                                                  {"set", "x"}}) {
        EXPECT_THROW(parse_config_args(args), UsageError) << args.front();
    }
}

TEST(SplitFileOrigin, TheLastColonSeparatesTheLine) {
    EXPECT_EQ(split_file_origin("/etc/hydra-status/config:12"),
              (std::pair<std::string, int>{"/etc/hydra-status/config", 12}));
    EXPECT_EQ(split_file_origin("/odd:dir/config:3"),
              (std::pair<std::string, int>{"/odd:dir/config", 3}));
    EXPECT_EQ(split_file_origin("default"), (std::pair<std::string, int>{"default", 0}));
}

TEST(WrapColumns, CutsAfterSlashesAndBlanks) {
    EXPECT_EQ(wrap_columns("short", 10), std::vector<std::string>{"short"});
    EXPECT_EQ(wrap_columns("/home/me/.local/state/index", 12),
              (std::vector<std::string>{"/home/me/", ".local/", "state/index"}));
    EXPECT_EQ(wrap_columns("one two three", 8), (std::vector<std::string>{"one two", "three"}));
    EXPECT_EQ(wrap_columns("abcdefghij", 4), (std::vector<std::string>{"abcd", "efgh", "ij"}));
}

TEST(WrapColumns, NeverCutsInsideAUtf8Character) {
    // Each "é" is two bytes and one column.
    EXPECT_EQ(wrap_columns("ééééé", 2), (std::vector<std::string>{"éé", "éé", "é"}));
}

class ConfigShowTest : public ::testing::Test {
protected:
    ConfigShowTest() {
        ::setenv("HOME", m_dir.path().c_str(), 1);
        ::setenv("HYDRA_STATUS_SYSTEM_CONFIG", "/dev/null", 1);
        ::unsetenv("HYDRA_STATUS_URL");
        ::unsetenv("HYDRA_STATUS_DB");
        ::unsetenv("XDG_STATE_HOME");
    }
    Settings load(const std::string& text) {
        const auto path = (m_dir.path() / "config").string();
        std::ofstream(path) << text;
        return Settings::load({{"db", "/i.sqlite"}}, path);
    }
    test::TempDir m_dir;
};

TEST_F(ConfigShowTest, JsonNamesOriginsAndProblems) {
    const auto settings = load("url = https://user:secret@h.example\nmax-evals = lots\n"
                               "from = https://user:hidden@snap.example\n");
    const auto json = config_json(settings);
    const auto line_of = [&](const std::string& key) {
        const auto at = json.find("{\"key\":\"" + key + "\"");
        return json.substr(at, json.find('\n', at) - at);
    };
    EXPECT_EQ(line_of("db"), "{\"key\":\"db\",\"value\":\"/i.sqlite\",\"origin\":\"command-line\","
                             "\"file\":null,\"line\":null,\"env\":null,\"problem\":null}");
    EXPECT_EQ(line_of("max-evals"),
              "{\"key\":\"max-evals\",\"value\":\"lots\",\"origin\":\"user-file\",\"file\":\"" +
                  (m_dir.path() / "config").string() +
                  "\",\"line\":2,\"env\":null,\"problem\":\"expected a number from 1 to 1000, got "
                  "'lots'\"}");
    EXPECT_EQ(json.find("user:secret"), std::string::npos) << "credentials are never shown";
    EXPECT_EQ(json.find("hidden"), std::string::npos) << "credentials are never shown";
}

TEST_F(ConfigShowTest, TableFitsEightyColumnsAndMarksProblems) {
    const auto table = config_table(load("max-evals = lots\nstale-after = 1h\n"));
    size_t marks = 0;
    size_t start = 0;
    while (start < table.size()) {
        const auto end = table.find('\n', start);
        const auto line = table.substr(start, end - start);
        EXPECT_LE(line.size(), 80u) << line;
        marks += line.find("! not valid: expected a number from 1 to 1000") != std::string::npos;
        start = end + 1;
    }
    EXPECT_EQ(marks, 1u);
    EXPECT_TRUE(table.starts_with("KEY ")) << table;
    EXPECT_NE(table.find("config files, lowest layer first:"), std::string::npos);
}

} // namespace
} // namespace hs::cli
