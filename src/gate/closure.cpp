#include "gate/closure.hpp"

#include "core/aterm.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hs::gate {

namespace {

// A path for a message: as it is when it is plain printable ASCII, else
// quoted (control bytes escaped), since paths come from the command line.
std::string shown(std::string_view path) {
    for (const char c : path) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f) {
            return quote(path);
        }
    }
    return std::string(path);
}

[[noreturn]] void fail(const std::string& message) {
    throw Error(message, ExitCode::usage);
}

// Closes a file descriptor when the scope ends.
class Fd {
public:
    explicit Fd(int fd) : m_fd(fd) {}
    ~Fd() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return m_fd; }

private:
    int m_fd;
};

// Whether real_path lies inside real_root ("/" holds everything).
bool is_inside(std::string_view real_path, const std::string& real_root) {
    return real_root == "/" ||
           (real_path.size() > real_root.size() && real_path.starts_with(real_root) &&
            real_path[real_root.size()] == '/');
}

// The real path of a resolved file or directory, without a trailing slash.
std::string real_path_of(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) {
        fail(shown(path) + ": " + std::strerror(errno));
    }
    std::string out = real;
    std::free(real);
    return out;
}

// The path of the file an open descriptor refers to, read from
// /proc/self/fd; empty when /proc is not there (then only the check before
// opening was made).
std::string opened_path(int fd) {
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    std::string out(4096, '\0');
    const auto got = ::readlink(link.c_str(), out.data(), out.size());
    if (got <= 0 || static_cast<size_t>(got) >= out.size()) {
        return {};
    }
    out.resize(static_cast<size_t>(got));
    return out;
}

void read_open_file(int fd, const std::string& path, std::string& out);

// Reads a whole file into out (reusing its capacity). With a store root
// (real_root not empty) the file is only read if what was opened lies
// inside it: a symlink in the root may point anywhere. The check is made on
// the open descriptor, so a symlink swapped after a check cannot slip out.
void read_file(const std::string& path, std::string& out, const std::string& real_root) {
    if (!real_root.empty() && !is_inside(real_path_of(path), real_root)) {
        // Checked before opening too, so nothing outside is ever opened
        // (a device or a FIFO may act on open).
        fail(shown(path) + ": resolves outside the store root " + shown(real_root));
    }
    // O_NONBLOCK: a FIFO named like a drv must not hang the walk (it is then
    // refused as not a regular file); it changes nothing for regular files.
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        fail(shown(path) + ": " + std::strerror(errno));
    }
    if (!real_root.empty()) {
        const std::string real = opened_path(fd.get());
        if (!real.empty() && !is_inside(real, real_root)) {
            fail(shown(path) + ": resolves outside the store root " + shown(real_root));
        }
    }
    read_open_file(fd.get(), path, out);
}

// Reads the whole regular file open as fd into out.
void read_open_file(int fd, const std::string& path, std::string& out) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(shown(path) + ": not a regular file");
    }
    constexpr off_t k_max_drv = 64 << 20;
    if (st.st_size > k_max_drv) {
        fail(shown(path) + ": larger than 64 MiB, not a .drv");
    }
    out.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
        const auto got = ::read(fd, out.data() + done, out.size() - done);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            fail(shown(path) + ": " +
                 (got < 0 ? std::strerror(errno) : "file shrank while reading"));
        }
        done += static_cast<size_t>(got);
    }
}

} // namespace

std::string file_of(const std::string& store_path, const std::string& store_root) {
    if (store_root.empty()) {
        return store_path;
    }
    std::string root = store_root;
    while (!root.empty() && root.back() == '/') {
        root.pop_back(); // "/" becomes "": the real store
    }
    return root + store_path;
}

std::vector<std::string> Closure::chain(size_t i) const {
    std::vector<std::string> out;
    for (auto at = static_cast<int32_t>(i); at >= 0; at = nodes[static_cast<size_t>(at)].parent) {
        out.push_back(nodes[static_cast<size_t>(at)].path);
    }
    return {out.rbegin(), out.rend()};
}

Closure walk_closure(const std::vector<std::string>& roots, const std::string& store_root) {
    const std::string real_root = store_root.empty() ? "" : real_path_of(store_root);
    Closure closure;
    std::unordered_map<std::string, int32_t> seen;
    std::vector<std::string> files; // roots given as files outside the store; "" = in the store
    for (const auto& root : roots) {
        std::string why;
        std::string path;
        std::string file;
        if (core::parse_store_path(root, &why)) {
            path = root;
        } else {
            // A .drv file outside the store: its name must be a drv basename.
            const auto slash = root.rfind('/');
            const auto base = root.substr(slash == std::string::npos ? 0 : slash + 1);
            const auto parsed = core::parse_basename(base, &why);
            if (!parsed) {
                fail(shown(root) + ": not a .drv store path or file (" + why + ")");
            }
            path = parsed->path();
            file = root;
        }
        if (!path.ends_with(core::k_drv_suffix)) {
            fail(shown(root) + ": not a .drv (give the derivation, not an output)");
        }
        if (seen.emplace(path, static_cast<int32_t>(closure.nodes.size())).second) {
            closure.nodes.push_back({path, -1});
            files.push_back(file);
        }
    }
    // With a store root, the store directory is opened once and checked to be
    // inside the root; a drv is then opened relative to it without following
    // a symlink, which cannot leave the root and needs no realpath() per file.
    // A drv that is a symlink takes the checked path of read_file.
    const Fd store_dir(real_root.empty()
                           ? -1
                           : ::open(file_of(std::string(core::k_store_dir), store_root).c_str(),
                                    O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (store_dir.get() >= 0) {
        std::string real = opened_path(store_dir.get());
        if (real.empty()) {
            real = real_path_of(file_of(std::string(core::k_store_dir), store_root));
        }
        if (!is_inside(real, real_root)) {
            fail(shown(store_root) + ": its nix/store resolves outside the store root");
        }
    }
    std::string text;
    for (size_t i = 0; i < closure.nodes.size(); ++i) {
        const bool given_file = i < files.size() && !files[i].empty();
        const std::string file = given_file ? files[i] : file_of(closure.nodes[i].path, store_root);
        const Fd direct(given_file || store_dir.get() < 0
                            ? -1
                            : ::openat(store_dir.get(),
                                       closure.nodes[i].path.c_str() + core::k_store_dir.size() + 1,
                                       O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW));
        if (direct.get() >= 0) {
            read_open_file(direct.get(), file, text);
        } else {
            read_file(file, text, given_file ? std::string() : real_root);
        }
        auto inputs = core::parse_input_drv_paths(text, shown(file));
        for (auto& input : inputs) {
            if (seen.emplace(input, static_cast<int32_t>(closure.nodes.size())).second) {
                closure.nodes.push_back({std::move(input), static_cast<int32_t>(i)});
            }
        }
    }
    return closure;
}

Closure flat_closure(const std::vector<std::string>& drvs) {
    Closure closure;
    std::unordered_map<std::string, int32_t> seen;
    for (const auto& drv : drvs) {
        if (seen.emplace(drv, static_cast<int32_t>(closure.nodes.size())).second) {
            closure.nodes.push_back({drv, -1});
        }
    }
    return closure;
}

} // namespace hs::gate
