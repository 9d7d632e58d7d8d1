#include "core/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace hs {

void Fd::reset(int fd) noexcept {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
    m_fd = fd;
}

std::string errno_text(int error) {
    return std::generic_category().message(error);
}

namespace {

Unexpected failure(int error) {
    return Unexpected{errno_text(error), error};
}

} // namespace

Expected<std::string> read_to_end(int fd, size_t size_hint) {
    std::string out;
    out.reserve(size_hint);
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return failure(errno);
        }
        if (n == 0) {
            return out;
        }
        out.append(buf, static_cast<size_t>(n));
    }
}

Expected<std::string> read_whole_file(const std::string& path) {
    const Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file.valid()) {
        return failure(errno);
    }
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) {
        return failure(errno);
    }
    if (S_ISDIR(st.st_mode)) {
        return failure(EISDIR);
    }
    return read_to_end(file.get(), S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
}

} // namespace hs
