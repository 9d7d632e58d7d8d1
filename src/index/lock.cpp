#include "index/lock.hpp"

#include "core/error.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace hs::index {

SyncLock::SyncLock(const std::string& index_path) {
    const std::string path = index_path + ".lock";
    m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0) {
        throw Error(path + ": cannot open lock file: " + std::strerror(errno));
    }
    if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char buf[32] = {};
        const auto got = ::pread(m_fd, buf, sizeof buf - 1, 0);
        ::close(m_fd);
        m_fd = -1;
        if (err == EWOULDBLOCK) {
            std::string pid = got > 0 ? std::string(buf, static_cast<size_t>(got)) : "unknown";
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
                pid.pop_back();
            }
            throw Error("another sync (pid " + pid + ") is writing " + index_path,
                        ExitCode::locked);
        }
        throw Error(path + ": cannot lock: " + std::strerror(err));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(m_fd, 0) != 0 || ::pwrite(m_fd, pid.data(), pid.size(), 0) < 0) {
        // The lock itself holds; only the pid note for others is missing.
    }
}

SyncLock::~SyncLock() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

} // namespace hs::index
