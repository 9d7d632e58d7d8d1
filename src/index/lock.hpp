#pragma once

#include <string>

namespace hs::index {

// An exclusive lock that lets one sync at a time write an index: flock on
// "<index>.lock", holding the owner's pid. Throws hs::Error(locked) naming the
// holder's pid when another process has it. Released by the destructor (and
// by the kernel if the process dies).
class SyncLock {
public:
    explicit SyncLock(const std::string& index_path);
    ~SyncLock();
    SyncLock(const SyncLock&) = delete;
    SyncLock& operator=(const SyncLock&) = delete;

private:
    int m_fd = -1;
};

} // namespace hs::index
