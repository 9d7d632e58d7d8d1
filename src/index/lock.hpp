#pragma once

#include "core/file.hpp"

#include <cstdint>
#include <string>

namespace hs::index {

// An exclusive lock that lets one sync at a time write an index: flock on
// "<index>.lock", holding the owner's pid. Throws hs::Error(locked) naming the
// holder's pid when another process has it. Released by the destructor (and
// by the kernel if the process dies).
class SyncLock {
public:
    explicit SyncLock(const std::string& index_path);

private:
    Fd m_fd;
};

// What a reader knows of an index's files at one moment: the main file's
// identity and which of its companions exist. Two observations compare equal
// when nothing visible changed between them.
struct IndexFiles {
    uint64_t dev = 0;
    uint64_t ino = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    bool wal = false; // "<index>-wal"
    int64_t wal_size = 0;
    bool shm = false;     // "<index>-shm"
    bool journal = false; // "<index>-journal", a rollback journal

    bool operator==(const IndexFiles&) const = default;
};

IndexFiles observe_index_files(const std::string& index_path);

// A reader's lock on an index, in SQLite's own locking protocol: a read lock
// on the SHARED byte range of the main file (os_unix.c: SHARED_FIRST, 510
// bytes from 2^30 + 2), which is what every SQLite connection holds while it
// reads. While it is held, no connection can take the EXCLUSIVE lock that
// SQLite needs to delete the -wal and -shm files (the last connection's
// close), to leave WAL mode, to write in exclusive locking mode, or to write
// the main file in rollback-journal mode. WAL writers and checkpoints go on.
//
// Taken as an open file description lock where the system has them (Linux),
// so that closing it never drops the locks of the process's SQLite
// connections to the same file, nor theirs this one. Elsewhere it is a
// classic POSIX lock, and must be released only after those connections
// are closed.
class ReadLock {
public:
    // Throws hs::Error(no_index) naming the file when it cannot be opened,
    // or when another process holds an exclusive lock for more than a second.
    // Something that is not a regular file is opened but not locked: held()
    // is false, and SQLite reports what is wrong with it.
    explicit ReadLock(const std::string& index_path);

    bool held() const { return m_held; }
    // Whether the file locked is the main file of `files`, with the same
    // size and mtime (one fstat).
    bool main_file_is(const IndexFiles& files) const;

private:
    Fd m_fd;
    bool m_held = false;
};

} // namespace hs::index
