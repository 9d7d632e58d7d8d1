#include "cli/sync_exec.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

namespace hs::cli {
namespace {

using Paths = std::vector<std::filesystem::path>;

TEST(SyncHelperCandidates, BesideItselfFirstThenLibexec) {
    EXPECT_EQ(sync_helper_candidates("/usr/bin", "../libexec"),
              (Paths{"/usr/bin/hydra-status-sync", "/usr/libexec/hydra-status/hydra-status-sync"}));
}

TEST(SyncHelperCandidates, FollowsTheConfiguredLayout) {
    EXPECT_EQ(sync_helper_candidates("/opt/hs/bin", "../lib/x86_64-linux-gnu"),
              (Paths{"/opt/hs/bin/hydra-status-sync",
                     "/opt/hs/lib/x86_64-linux-gnu/hydra-status/hydra-status-sync"}));
    EXPECT_EQ(
        sync_helper_candidates("/opt/hs", "libexec"),
        (Paths{"/opt/hs/hydra-status-sync", "/opt/hs/libexec/hydra-status/hydra-status-sync"}));
}

TEST(SyncHelperCandidates, LibexecSameAsBin) {
    const Paths expected{"/usr/bin/hydra-status-sync", "/usr/bin/hydra-status/hydra-status-sync"};
    EXPECT_EQ(sync_helper_candidates("/usr/bin", ""), expected);
    EXPECT_EQ(sync_helper_candidates("/usr/bin", "."), expected);
}

TEST(SyncHelperCandidates, ParentsAboveTheRootStayAtTheRoot) {
    EXPECT_EQ(sync_helper_candidates("/bin", "../../libexec"),
              (Paths{"/bin/hydra-status-sync", "/libexec/hydra-status/hydra-status-sync"}));
}

} // namespace
} // namespace hs::cli
