#include "index/lock.hpp"

#include "core/error.hpp"
#include "core/file.hpp"
#include "core/text.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

namespace hs::index {

namespace {

// SQLite's lock bytes (os_unix.c): PENDING_BYTE is 2^30; the SHARED range
// follows the PENDING and RESERVED bytes.
constexpr off_t k_shared_first = 0x40000000 + 2;
constexpr off_t k_shared_size = 510;

#ifdef F_OFD_SETLK
constexpr int k_set_lock = F_OFD_SETLK;
#else
constexpr int k_set_lock = F_SETLK;
#endif

// Whether a companion file exists; an error other than "no such file" counts
// as existing, the side that never lets a reader ignore it.
bool exists(const std::string& path, int64_t* size = nullptr) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (size) {
            *size = st.st_size;
        }
        return true;
    }
    if (size) {
        *size = -1;
    }
    return errno != ENOENT;
}

} // namespace

IndexFiles observe_index_files(const std::string& index_path) {
    IndexFiles files;
    struct stat st {};
    if (::stat(index_path.c_str(), &st) == 0) {
        files.dev = st.st_dev;
        files.ino = st.st_ino;
        files.size = st.st_size;
        files.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    }
    files.wal = exists(index_path + "-wal", &files.wal_size);
    files.shm = exists(index_path + "-shm");
    files.journal = exists(index_path + "-journal");
    return files;
}

ReadLock::ReadLock(const std::string& index_path) {
    // O_NONBLOCK: a FIFO given as the index must not hang the open.
    m_fd.reset(::open(index_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!m_fd.valid()) {
        throw Error(index_path + ": cannot open index: " + errno_text(errno), ExitCode::no_index);
    }
    struct stat st {};
    if (::fstat(m_fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    struct flock lock {};
    lock.l_type = F_RDLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = k_shared_first;
    lock.l_len = k_shared_size;
    // Only a connection that holds the EXCLUSIVE lock refuses this one, for
    // as long as it checkpoints on close or changes the journal mode. fcntl
    // has no wait with a time limit, so this polls, as SQLite's own busy
    // handler does, for up to about a second.
    using namespace std::chrono_literals;
    for (const auto pause : {1ms, 2ms, 5ms, 10ms, 20ms, 50ms, 100ms, 100ms, 100ms, 100ms, 100ms,
                             100ms, 100ms, 100ms, 100ms, 0ms}) {
        if (::fcntl(m_fd.get(), k_set_lock, &lock) == 0) {
            m_held = true;
            return;
        }
        if (errno != EAGAIN && errno != EACCES) {
            // No locks on this file system (ENOLCK, ...): SQLite's own
            // locking fails the same way and reports it.
            return;
        }
        std::this_thread::sleep_for(pause);
    }
    m_fd.reset();
    throw Error(index_path +
                    ": the index is locked by another process that is writing it; try again",
                ExitCode::no_index);
}

bool ReadLock::main_file_is(const IndexFiles& files) const {
    struct stat st {};
    return m_fd.valid() && ::fstat(m_fd.get(), &st) == 0 && st.st_dev == files.dev &&
           st.st_ino == files.ino && st.st_size == files.size &&
           int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec == files.mtime_ns;
}

SyncLock::SyncLock(const std::string& index_path) {
    const std::string path = index_path + ".lock";
    m_fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!m_fd.valid()) {
        throw Error(path + ": cannot open lock file: " + errno_text(errno));
    }
    if (::flock(m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {};
        const auto got = ::pread(m_fd.get(), buf, sizeof buf - 1, 0);
        m_fd.reset();
        if (err == EWOULDBLOCK) {
            const std::string pid =
                got > 0 ? std::string(trim(std::string_view(buf, static_cast<size_t>(got))))
                        : "unknown";
            throw Error("another sync (pid " + pid + ") is writing " + index_path,
                        ExitCode::locked);
        }
        throw Error(path + ": cannot lock: " + errno_text(err));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(m_fd.get(), 0) != 0 || ::pwrite(m_fd.get(), pid.data(), pid.size(), 0) < 0) {
        // The lock itself holds; only the pid note for others is missing.
    }
}

} // namespace hs::index
