#include "cli/gate_cmd.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {
namespace {

const std::string k_a = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv";
const std::string k_b = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b.drv";
const std::string k_c = "/nix/store/cccccccccccccccccccccccccccccccc-c.drv";
const std::string k_d = "/nix/store/dddddddddddddddddddddddddddddddd-d.drv";

TEST(MergeClosure, AddsNewNodesWithTheirParentsMapped) {
    gate::Closure closure{{{k_a, -1}, {k_b, 0}}};
    // b (known) -> c -> d: c's parent is the existing b, d's the new c.
    merge_closure(closure, gate::Closure{{{k_b, -1}, {k_c, 0}, {k_d, 1}}});
    ASSERT_EQ(closure.nodes.size(), 4u);
    EXPECT_EQ(closure.nodes[2].path, k_c);
    EXPECT_EQ(closure.nodes[2].parent, 1);
    EXPECT_EQ(closure.nodes[3].path, k_d);
    EXPECT_EQ(closure.nodes[3].parent, 2);
    EXPECT_EQ(closure.chain(3), (std::vector<std::string>{k_a, k_b, k_c, k_d}));
}

TEST(MergeClosure, ADrvInBothIsKeptOnce) {
    gate::Closure closure{{{k_a, -1}}};
    merge_closure(closure, gate::Closure{{{k_a, -1}}});
    EXPECT_EQ(closure.nodes.size(), 1u);
}

TEST(DrvsToBuild, KeepsOnlyDrvs) {
    EXPECT_EQ(drvs_to_build({k_a, "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-out", k_b}),
              (std::vector<std::string>{k_a, k_b}));
}

TEST(GateExitCode, FailPolicyFoldsUnreadableThenPermanentThenUnsyncedThenStrict) {
    GateVerdict verdict;
    EXPECT_EQ(gate_exit_code(verdict), 0);
    verdict.counts.transient = 1;
    EXPECT_EQ(gate_exit_code(verdict), 0); // transient needs --strict
    verdict.strict = true;
    EXPECT_EQ(gate_exit_code(verdict), 4);
    verdict.synced = false;
    EXPECT_EQ(gate_exit_code(verdict), 5);
    verdict.counts.permanent = 1;
    EXPECT_EQ(gate_exit_code(verdict), 1); // a local failure blocks in a never-synced index
    verdict.bad_drvs = true;
    EXPECT_EQ(gate_exit_code(verdict), 2);
}

TEST(GateExitCode, WarnPolicyOnlyFailsOnUnreadableDrvs) {
    GateVerdict verdict;
    verdict.policy = Policy::warn;
    verdict.strict = true;
    verdict.synced = false;
    verdict.counts = {.permanent = 3, .transient = 2, .good = 1, .unknown = 4};
    EXPECT_EQ(gate_exit_code(verdict), 0);
    verdict.bad_drvs = true;
    EXPECT_EQ(gate_exit_code(verdict), 2);
}

TEST(GateSummaryJson, CountsEachClassAndTheExit) {
    EXPECT_EQ(gate_summary_json(10, {.permanent = 1, .transient = 2, .good = 3, .unknown = 4}, 1),
              "{\"summary\":true,\"drvs\":10,\"permanent\":1,\"transient\":2,\"succeeded\":3,"
              "\"unknown\":4,\"exit\":1}\n");
}

// Sets or unsets an environment variable for one test.
class Env {
public:
    Env(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name)) {
            m_old = old;
        }
        value ? ::setenv(name, value, 1) : ::unsetenv(name);
    }
    ~Env() { m_old ? ::setenv(m_name, m_old->c_str(), 1) : ::unsetenv(m_name); }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

TEST(NixChrootStores, FollowsNixDataHomeAndXdgDataHome) {
    Env data("NIX_DATA_HOME", "/d");
    Env xdg("XDG_DATA_HOME", "/x");
    EXPECT_EQ(nix_chroot_stores(), (std::vector<std::string>{"/d/root", "/x/nix/root"}));
}

TEST(NixChrootStores, FallsBackToHome) {
    Env data("NIX_DATA_HOME", nullptr);
    Env xdg("XDG_DATA_HOME", nullptr);
    Env home("HOME", "/home/me");
    EXPECT_EQ(nix_chroot_stores(), (std::vector<std::string>{"/home/me/.local/share/nix/root"}));
    Env no_home("HOME", nullptr);
    EXPECT_TRUE(nix_chroot_stores().empty());
}

} // namespace
} // namespace hs::cli
