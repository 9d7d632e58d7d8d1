#include "cli/settings.hpp"
#include "core/error.hpp"
#include "snapshot/keys.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace hs::cli {
namespace {

using std::chrono::milliseconds;

// Sets an environment variable for the life of a test (unset: nullopt).
class ScopedEnv {
public:
    ScopedEnv(const char* name, std::optional<std::string> value) : m_name(name) {
        if (const char* old = std::getenv(name)) {
            m_old = old;
        }
        set(value);
    }
    ~ScopedEnv() { set(m_old); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    void set(const std::optional<std::string>& value) {
        if (value) {
            ::setenv(m_name, value->c_str(), 1);
        } else {
            ::unsetenv(m_name);
        }
    }
    const char* m_name;
    std::optional<std::string> m_old;
};

// A home without config files, and the system and user files the test
// writes; no HYDRA_STATUS_* variable from outside.
class SettingsTest : public ::testing::Test {
protected:
    void SetUp() override { write("user", ""); } // named, so it must exist

    std::string write(const std::string& name, const std::string& text) {
        const auto path = (m_dir.path() / name).string();
        std::ofstream(path) << text;
        return path;
    }
    std::string system_file() const { return (m_dir.path() / "system").string(); }
    std::string user_file() const { return (m_dir.path() / "user").string(); }

    Settings load(const std::map<std::string, std::string>& command_line = {}) {
        return Settings::load(command_line, user_file());
    }

    test::TempDir m_dir;
    ScopedEnv m_home{"HOME", m_dir.path().string()};
    ScopedEnv m_state{"XDG_STATE_HOME", std::nullopt};
    ScopedEnv m_config_home{"XDG_CONFIG_HOME", std::nullopt};
    ScopedEnv m_system{k_system_config_env, system_file()};
    ScopedEnv m_config{"HYDRA_STATUS_CONFIG", std::nullopt};
    ScopedEnv m_db{"HYDRA_STATUS_DB", std::nullopt};
    ScopedEnv m_url{"HYDRA_STATUS_URL", std::nullopt};
};

TEST_F(SettingsTest, EachLayerOverridesTheOneBelow) {
    write("system", "max-tries = 2\nmax-evals = 2\nmax-requests = 2\nurl = http://system\n");
    write("user", "max-evals = 3\nmax-requests = 3\nurl = http://user\n");
    ScopedEnv url("HYDRA_STATUS_URL", "http://environment");
    const auto settings = load({{"max-requests", "4"}});
    settings.require_valid();
    const auto& values = settings.values();
    EXPECT_EQ(values.max_tries, 2); // system file
    EXPECT_EQ(values.max_evals, 3); // user file
    EXPECT_EQ(values.url, "http://environment");
    EXPECT_EQ(values.max_requests, 4);   // command line
    EXPECT_EQ(values.by_id_max, 10'000); // default
    EXPECT_EQ(settings.origin("max-tries"), system_file() + ":1");
    EXPECT_EQ(settings.origin("max-evals"), user_file() + ":1");
    EXPECT_EQ(settings.origin("url"), "environment HYDRA_STATUS_URL");
    EXPECT_EQ(settings.origin("max-requests"), "command line");
    EXPECT_EQ(settings.origin("by-id-max"), "default");
    EXPECT_EQ(settings.origin_kind("max-tries"), OriginKind::system_file);
    EXPECT_EQ(settings.origin_kind("max-evals"), OriginKind::user_file);
    EXPECT_EQ(settings.origin_kind("url"), OriginKind::environment);
    EXPECT_EQ(settings.origin_kind("max-requests"), OriginKind::command_line);
    EXPECT_EQ(settings.origin_kind("by-id-max"), OriginKind::default_value);
}

TEST_F(SettingsTest, CommandLineBeatsTheEnvironment) {
    ScopedEnv db("HYDRA_STATUS_DB", "/from/env.sqlite");
    EXPECT_EQ(load().values().db, "/from/env.sqlite");
    EXPECT_EQ(load({{"db", "/from/option.sqlite"}}).values().db, "/from/option.sqlite");
}

TEST_F(SettingsTest, DefaultsComeFromTheTableParsed) {
    const auto settings = load();
    EXPECT_TRUE(settings.problems().empty());
    const auto& values = settings.values();
    EXPECT_EQ(values.db, m_dir.path().string() + "/.local/state/hydra-status/index.sqlite");
    EXPECT_EQ(values.url, "https://hydra.nixos.org");
    EXPECT_TRUE(values.jobsets.empty());
    EXPECT_EQ(values.max_evals, 1);
    EXPECT_EQ(values.max_requests, 10'000);
    EXPECT_EQ(values.min_interval, milliseconds(1000));
    EXPECT_EQ(values.max_in_flight, 1);
    EXPECT_EQ(values.max_tries, 6);
    EXPECT_EQ(values.backoff_ceiling, milliseconds(300'000));
    EXPECT_EQ(values.connect_timeout, milliseconds(30'000));
    EXPECT_EQ(values.timeout, milliseconds(900'000));
    EXPECT_EQ(values.by_id_max, 10'000);
    EXPECT_EQ(values.recheck_interval, milliseconds(86'400'000));
    EXPECT_EQ(values.eval_builds_retry, milliseconds(7 * 86'400'000LL));
    EXPECT_EQ(values.local_ttl, milliseconds(7 * 86'400'000LL));
    EXPECT_EQ(values.policy, Policy::fail);
    EXPECT_FALSE(values.insecure);
    EXPECT_EQ(values.max_body, uint64_t{4} << 30);
    EXPECT_EQ(values.stale_after, milliseconds(48 * 3'600'000LL));
}

TEST_F(SettingsTest, ValuesAreParsedIntoTheirTypes) {
    write("user", "jobsets = nixpkgs:trunk  nixos:release-24.05\nurl = http://h.example/x//\n"
                  "policy = warn\ninsecure = yes\nmax-body = 64kB\nstale-after = 1.5h\n");
    const auto values = load().values();
    EXPECT_EQ(values.jobsets,
              (std::vector<core::JobsetName>{{"nixpkgs", "trunk"}, {"nixos", "release-24.05"}}));
    EXPECT_EQ(values.url, "http://h.example/x");
    EXPECT_EQ(values.policy, Policy::warn);
    EXPECT_TRUE(values.insecure);
    EXPECT_EQ(values.max_body, 64'000u);
    EXPECT_EQ(values.stale_after, milliseconds(5'400'000));
}

TEST_F(SettingsTest, SnapshotSettingsAreChecked) {
    const auto key = snapshot::generate_key_pair("cache-1").public_key;
    write("user", "from = file:///srv/snap/\ntrusted-keys = " + key + "\nsnapshot-deltas = 10\n");
    const auto values = load().values();
    EXPECT_EQ(values.from, "file:///srv/snap");
    EXPECT_EQ(values.trusted_keys, key);
    EXPECT_EQ(values.snapshot_deltas, 10);
    EXPECT_EQ(load({{"from", "https://snap.example.org/x/"}}).values().from,
              "https://snap.example.org/x");
    EXPECT_EQ(load().values().publish, "");
    for (const auto& [name, text] :
         std::vector<std::pair<std::string, std::string>>{{"from", "ftp://x"},
                                                          {"from", "file://relative"},
                                                          {"trusted-keys", "cache-1:AAAA"},
                                                          {"trusted-keys", "nocolon"},
                                                          {"snapshot-deltas", "1"}}) {
        EXPECT_EQ(load({{name, text}}).problems().count(name), 1u) << name << " = " << text;
    }
}

TEST_F(SettingsTest, AnInvalidValueFailsAtLoadWithFileAndLine) {
    write("user", "# settings\nmax-evals = lots\n");
    const auto settings = load();
    EXPECT_EQ(settings.problems().at("max-evals"), "expected a number from 1 to 1000, got 'lots'");
    EXPECT_EQ(settings.text("max-evals"), "lots");
    EXPECT_EQ(settings.values().max_evals, 1); // the default stays
    try {
        settings.require_valid();
        FAIL() << "no error";
    } catch (const UsageError& e) {
        EXPECT_EQ(std::string(e.what()),
                  user_file() + ":2: max-evals: expected a number from 1 to 1000, got 'lots'");
    }
}

TEST_F(SettingsTest, AnInvalidValueNamesTheEnvironmentOrTheCommandLine) {
    ScopedEnv url("HYDRA_STATUS_URL", "hydra.nixos.org");
    const auto from_env = load();
    EXPECT_THROW(
        {
            try {
                from_env.require_valid();
            } catch (const UsageError& e) {
                EXPECT_EQ(std::string(e.what()), "environment HYDRA_STATUS_URL: url: expected "
                                                 "http:// or https://, got 'hydra.nixos.org'");
                throw;
            }
        },
        UsageError);
    const auto from_option = load({{"url", "https://ok.example"}, {"timeout", "soon"}});
    EXPECT_EQ(from_option.problems().size(), 1u);
    EXPECT_THROW(
        {
            try {
                from_option.require_valid();
            } catch (const UsageError& e) {
                EXPECT_EQ(std::string(e.what()),
                          "command line: timeout: invalid duration 'soon' (expected e.g. 90, 90s, "
                          "500ms, 15m, 24h, 7d)");
                throw;
            }
        },
        UsageError);
}

TEST_F(SettingsTest, AValidValueAboveAnInvalidOneWins) {
    write("system", "max-tries = many\n");
    const auto settings = load({{"max-tries", "3"}});
    EXPECT_TRUE(settings.problems().empty());
    EXPECT_EQ(settings.values().max_tries, 3);
}

TEST_F(SettingsTest, UnknownKeyAndMissingNamedFileAreErrors) {
    write("user", "max-evals = 2\nfrobnicate = 1\n");
    EXPECT_THROW(load(), UsageError);
    EXPECT_THROW(Settings::load({}, (m_dir.path() / "absent").string()), UsageError);
}

TEST_F(SettingsTest, MissingDefaultFilesAreFine) {
    EXPECT_NO_THROW(Settings::load({}, ""));
    const auto settings = Settings::load({}, "");
    EXPECT_EQ(settings.config_path(), m_dir.path().string() + "/.config/hydra-status/config");
    ASSERT_EQ(settings.config_files().size(), 2u);
    EXPECT_FALSE(settings.config_files()[0].read);
    EXPECT_EQ(settings.config_files()[0].kind, OriginKind::system_file);
    EXPECT_EQ(settings.config_files()[1].kind, OriginKind::user_file);
}

TEST(SettingSpecs, EveryDefaultParsesIntoItsMember) {
    std::set<std::string> keys;
    for (const auto& spec : setting_specs()) {
        SettingValues values;
        std::string text = spec.default_value;
        if (text.starts_with("$")) {
            text = "/x" + text.substr(text.find('/'));
        }
        EXPECT_TRUE(parse_setting(spec, text, values)) << spec.key;
        EXPECT_TRUE(keys.insert(spec.key).second) << "twice: " << spec.key;
        EXPECT_EQ(find_setting(spec.key), &spec);
        if (spec.kind == SettingKind::count) {
            EXPECT_LE(spec.min, spec.max) << spec.key;
        }
    }
    EXPECT_EQ(find_setting("frobnicate"), nullptr);
}

TEST(SettingSpecs, EachKindRejectsWhatIsNotItsValue) {
    const std::map<std::string, std::string> bad{
        {"db", ""},
        {"url", "ftp://example.invalid"},
        {"jobsets", "a:b c:d/e"},
        {"max-evals", "1001"},
        {"max-in-flight", "3"},
        {"by-id-max", "-1"},
        {"min-interval", "5 m"},
        {"max-body", "0"},
        {"insecure", "maybe"},
        {"policy", "strict"},
    };
    for (const auto& [key, text] : bad) {
        SettingValues values;
        EXPECT_FALSE(parse_setting(*find_setting(key), text, values)) << key << " = " << text;
    }
    SettingValues values;
    EXPECT_EQ(parse_setting(*find_setting("url"), "https://h/?x=1", values).error(),
              "invalid URL 'https://h/?x=1' (no query, fragment or blanks)");
    EXPECT_EQ(parse_setting(*find_setting("policy"), "strict", values).error(),
              "expected warn or fail, got 'strict'");
    EXPECT_EQ(parse_setting(*find_setting("insecure"), "maybe", values).error(),
              "expected true or false, got 'maybe'");
}

TEST(SettingSpecs, OptionHelpShowsEnvironmentAndDefault) {
    EXPECT_EQ(option_help(*find_setting("db")), "the index (env HYDRA_STATUS_DB; default "
                                                "$XDG_STATE_HOME/hydra-status/index.sqlite)");
    EXPECT_EQ(option_help(*find_setting("local-ttl")),
              "how long a local failure record counts (default 7d)");
    EXPECT_EQ(option_help(*find_setting("insecure")),
              "do not verify TLS certificates (warns on every use)");
    EXPECT_STREQ(option_value_name(*find_setting("policy")), "warn|fail");
    EXPECT_STREQ(option_value_name(*find_setting("max-body")), "SIZE");
}

TEST(SettingSpecs, CommandsTakeTheirOwnSettings) {
    const auto taken_by = [](unsigned command) {
        std::set<std::string> keys;
        for (const auto& spec : setting_specs()) {
            if (spec.options & command) {
                keys.insert(spec.key);
            }
        }
        return keys;
    };
    EXPECT_EQ(taken_by(option_of::global), (std::set<std::string>{"db", "url"}));
    EXPECT_EQ(taken_by(option_of::lookup), (std::set<std::string>{"local-ttl", "stale-after"}));
    EXPECT_EQ(taken_by(option_of::gate), (std::set<std::string>{"local-ttl", "policy"}));
    EXPECT_EQ(taken_by(option_of::sync),
              (std::set<std::string>{"max-evals", "max-requests", "min-interval", "max-in-flight",
                                     "max-tries", "backoff-ceiling", "connect-timeout", "timeout",
                                     "by-id-max", "recheck-interval", "eval-builds-retry",
                                     "insecure", "max-body", "from", "trusted-keys", "publish",
                                     "secret-key-file", "snapshot-deltas"}));
    EXPECT_EQ(taken_by(option_of::snapshot),
              (std::set<std::string>{"secret-key-file", "snapshot-deltas"}));
}

TEST(OriginKindName, NamesEachLayerForMachines) {
    EXPECT_STREQ(origin_kind_name(OriginKind::default_value), "default");
    EXPECT_STREQ(origin_kind_name(OriginKind::system_file), "system-file");
    EXPECT_STREQ(origin_kind_name(OriginKind::user_file), "user-file");
    EXPECT_STREQ(origin_kind_name(OriginKind::environment), "environment");
    EXPECT_STREQ(origin_kind_name(OriginKind::command_line), "command-line");
}

} // namespace
} // namespace hs::cli
