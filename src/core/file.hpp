#pragma once

// Files: an owner for a file descriptor, and whole-file reading.

#include "core/expected.hpp"

#include <string>

namespace hs {

// Owns a file descriptor and closes it when it goes (-1: none).
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : m_fd(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& other) noexcept : m_fd(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    int get() const noexcept { return m_fd; }
    bool valid() const noexcept { return m_fd >= 0; }
    // Closes the descriptor held, if any, and holds fd instead.
    void reset(int fd = -1) noexcept;
    // Gives the descriptor up without closing it.
    int release() noexcept {
        const int fd = m_fd;
        m_fd = -1;
        return fd;
    }

private:
    int m_fd = -1;
};

// The system's text for an errno ("No such file or directory"), as
// strerror() gives it but safe on several threads.
std::string errno_text(int error);

// What is left to read from fd (a file, a pipe), read to its end; size_hint
// is the size expected, if known. On failure, error() is the system's text
// and error_code() the errno.
Expected<std::string> read_to_end(int fd, size_t size_hint = 0);

// The whole content of a file, read to its end (so a pipe such as
// <(command) works too). On failure, error() is the system's text
// (as strerror's) and error_code() the errno: ENOENT and ENOTDIR when it does not
// exist, EISDIR for a directory.
Expected<std::string> read_whole_file(const std::string& path);

} // namespace hs
