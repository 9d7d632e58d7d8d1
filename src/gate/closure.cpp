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

// Reads a whole file; an error message instead when it cannot.
bool read_file(const std::string& path, std::string& out, std::string& error) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = path + ": not a regular file";
        ::close(fd);
        return false;
    }
    constexpr off_t k_max_drv = 64 << 20;
    if (st.st_size > k_max_drv) {
        error = path + ": larger than 64 MiB, not a .drv";
        ::close(fd);
        return false;
    }
    out.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
        const auto got = ::read(fd, out.data() + done, out.size() - done);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            error = path + ": " + (got < 0 ? std::strerror(errno) : "file shrank while reading");
            ::close(fd);
            return false;
        }
        done += static_cast<size_t>(got);
    }
    ::close(fd);
    return true;
}

// With a store root, a file is only read if its real path stays inside it.
bool inside_root(const std::string& file, const std::string& store_root, std::string& error) {
    if (store_root.empty()) {
        return true;
    }
    char* real_root = ::realpath(store_root.c_str(), nullptr);
    char* real_file = ::realpath(file.c_str(), nullptr);
    bool ok = false;
    if (!real_root) {
        error = store_root + ": " + std::strerror(errno);
    } else if (!real_file) {
        error = file + ": " + std::strerror(errno);
    } else {
        const std::string root = std::string(real_root) + "/";
        ok = std::string(real_file).starts_with(root);
        if (!ok) {
            error = file + ": resolves outside the store root " + store_root;
        }
    }
    std::free(real_root);
    std::free(real_file);
    return ok;
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
    Closure closure;
    std::unordered_map<std::string, int32_t> seen;
    std::vector<std::string> files; // roots given as files outside the store; "" = in the store
    for (const auto& root : roots) {
        std::string why;
        std::string path;
        std::string file;
        if (core::parse_store_path(root, &why)) {
            path = root; // read from the store (root), checked to stay inside it
        } else {
            // A .drv file outside the store: its name must be a drv basename.
            const auto slash = root.rfind('/');
            const auto base = root.substr(slash == std::string::npos ? 0 : slash + 1);
            const auto parsed = core::parse_basename(base, &why);
            if (!parsed || !parsed->is_drv()) {
                closure.errors.push_back(root + ": not a .drv store path or file" +
                                         (why.empty() ? "" : " (" + why + ")"));
                continue;
            }
            path = parsed->path();
            file = root;
        }
        if (!path.ends_with(core::k_drv_suffix)) {
            closure.errors.push_back(root + ": not a .drv (give the derivation, not an output)");
            continue;
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
        std::string error;
        if ((!given_file && !inside_root(file, store_root, error)) ||
            !read_file(file, text, error)) {
            closure.errors.push_back(error);
            continue;
        }
        std::vector<std::string> inputs;
        try {
            inputs = core::parse_input_drv_paths(text);
        } catch (const Error& e) {
            closure.errors.push_back(file + ": " + e.what());
            continue;
        }
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
