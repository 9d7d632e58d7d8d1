#include "core/error.hpp"
#include "index/lock.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace hs::index {
namespace {

using test::TempDir;

TEST(SyncLock, SecondHolderInAnotherProcessGetsExitSeventyFive) {
    const test::TempDir dir;
    const std::string db = dir.file("i.sqlite");
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
}

// SQLite's EXCLUSIVE lock (os_unix.c): a write lock on the SHARED range.
struct flock exclusive_lock() {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0x40000000 + 2;
    lock.l_len = 510;
    return lock;
}

// Whether another process can take the EXCLUSIVE lock on path now.
bool exclusive_possible_elsewhere(const std::string& path) {
    const pid_t child = ::fork();
    if (child == 0) {
        const int fd = ::open(path.c_str(), O_RDWR);
        struct flock lock = exclusive_lock();
        ::_exit(fd >= 0 && ::fcntl(fd, F_SETLK, &lock) == 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(ReadLock, KeepsOtherProcessesFromTheExclusiveLock) {
    TempDir dir;
    const auto db = dir.file("i.sqlite");
    std::ofstream(db) << "x";
    ASSERT_TRUE(exclusive_possible_elsewhere(db));
    {
        const ReadLock lock(db);
        EXPECT_TRUE(lock.held());
        EXPECT_FALSE(exclusive_possible_elsewhere(db));
    }
    EXPECT_TRUE(exclusive_possible_elsewhere(db));
}

TEST(ReadLock, GivesUpOnAnExclusiveHolderWithExitFive) {
    TempDir dir;
    const auto db = dir.file("i.sqlite");
    std::ofstream(db) << "x";
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        const int fd = ::open(db.c_str(), O_RDWR);
        struct flock lock = exclusive_lock();
        const char ok = fd >= 0 && ::fcntl(fd, F_SETLK, &lock) == 0 ? '1' : '0';
        (void)!::write(ready[1], &ok, 1);
        ::pause(); // holds the lock until killed
        ::_exit(0);
    }
    ::close(ready[1]);
    char ok = 0;
    ASSERT_EQ(::read(ready[0], &ok, 1), 1);
    ASSERT_EQ(ok, '1');
    const auto start = std::chrono::steady_clock::now();
    try {
        const ReadLock lock(db);
        ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::no_index);
        EXPECT_NE(std::string(e.what()).find(db), std::string::npos);
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, std::chrono::milliseconds(500));
    EXPECT_LT(waited, std::chrono::seconds(3));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(ready[0]);
}

TEST(ReadLock, SomethingThatIsNotAFileIsOpenedButNotLocked) {
    TempDir dir;
    const ReadLock lock(dir.file(""));
    EXPECT_FALSE(lock.held());
    EXPECT_THROW(ReadLock(dir.file("none")), Error);
}

TEST(IndexFiles, SeeCompanionsComeAndTheMainFileChange) {
    TempDir dir;
    const auto db = dir.file("i.sqlite");
    std::ofstream(db) << "x";
    const IndexFiles before = observe_index_files(db);
    EXPECT_FALSE(before.wal || before.shm || before.journal);
    EXPECT_EQ(observe_index_files(db), before);
    std::ofstream(db + "-wal");
    auto now = observe_index_files(db);
    EXPECT_TRUE(now.wal);
    EXPECT_EQ(now.wal_size, 0);
    EXPECT_NE(now, before);
    std::filesystem::remove(db + "-wal");
    std::ofstream(db + "-shm");
    EXPECT_TRUE(observe_index_files(db).shm);
    std::filesystem::remove(db + "-shm");
    EXPECT_EQ(observe_index_files(db), before);
    std::ofstream(db, std::ios::app) << "y";
    EXPECT_NE(observe_index_files(db), before);
}

} // namespace
} // namespace hs::index
