#include "gate/closure.hpp"

#include "core/aterm.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace hs::gate {

namespace {

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

// Reads a whole file into out (reusing its capacity).
void read_file(const std::string& path, std::string& out) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        fail(path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(path + ": not a regular file");
    }
    constexpr off_t k_max_drv = 64 << 20;
    if (st.st_size > k_max_drv) {
        fail(path + ": larger than 64 MiB, not a .drv");
    }
    out.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
        const auto got = ::read(fd.get(), out.data() + done, out.size() - done);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            fail(path + ": " + (got < 0 ? std::strerror(errno) : "file shrank while reading"));
        }
        done += static_cast<size_t>(got);
    }
}

// The real path of a directory, without a trailing slash.
std::string real_dir(const std::string& dir) {
    char* real = ::realpath(dir.c_str(), nullptr);
    if (!real) {
        fail(dir + ": " + std::strerror(errno));
    }
    std::string out = real;
    std::free(real);
    return out;
}

// With a store root, a file is only read if its real path stays inside it
// (a symlink in the root may point anywhere).
void check_inside(const std::string& file, const std::string& real_root) {
    char* real = ::realpath(file.c_str(), nullptr);
    if (!real) {
        fail(file + ": " + std::strerror(errno));
    }
    const bool inside = std::string_view(real).starts_with(real_root + "/");
    std::free(real);
    if (!inside) {
        fail(file + ": resolves outside the store root " + real_root);
    }
}

} // namespace

std::string file_of(const std::string& store_path, const std::string& store_root) {
    if (store_root.empty()) {
        return store_path;
    }
    std::string root = store_root;
    while (root.size() > 1 && root.back() == '/') {
        root.pop_back();
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
    const std::string real_root = store_root.empty() ? "" : real_dir(store_root);
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
                fail(root + ": not a .drv store path or file (" + why + ")");
            }
            path = parsed->path();
            file = root;
        }
        if (!path.ends_with(core::k_drv_suffix)) {
            fail(root + ": not a .drv (give the derivation, not an output)");
        }
        if (seen.emplace(path, static_cast<int32_t>(closure.nodes.size())).second) {
            closure.nodes.push_back({path, -1});
            files.push_back(file);
        }
    }
    std::string text;
    for (size_t i = 0; i < closure.nodes.size(); ++i) {
        const bool given_file = i < files.size() && !files[i].empty();
        const std::string file = given_file ? files[i] : file_of(closure.nodes[i].path, store_root);
        if (!given_file && !real_root.empty()) {
            check_inside(file, real_root);
        }
        read_file(file, text);
        auto inputs = core::parse_input_drv_paths(text, file);
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
