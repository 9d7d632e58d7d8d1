#include "core/error.hpp"
#include "index/lock.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace hs::index {
namespace {

TEST(SyncLock, SecondHolderInAnotherProcessGetsExitSeventyFive) {
    char pattern[] = "/tmp/hs-lock-test-XXXXXX";
    const std::string dir = ::mkdtemp(pattern);
    const std::string db = dir + "/i.sqlite";
    {
        SyncLock lock(db);
        const pid_t child = ::fork();
        if (child == 0) {
            try {
                SyncLock second(db);
                ::_exit(0);
            } catch (const Error& e) {
                const std::string what = e.what();
                const bool names_pid =
                    what.find("pid " + std::to_string(::getppid())) != std::string::npos;
                ::_exit(e.code() == ExitCode::locked && names_pid ? 75 : 1);
            }
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        EXPECT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 75);
    }
    // Released: can be taken again.
    EXPECT_NO_THROW(SyncLock again(db));
    std::filesystem::remove_all(dir);
}

} // namespace
} // namespace hs::index
