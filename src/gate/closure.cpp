#include "gate/closure.hpp"

#include "core/aterm.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
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

// The current errno as text; strerror() is not safe on several threads.
std::string errno_text() {
    return std::generic_category().message(errno);
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
        fail(shown(path) + ": " + errno_text());
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

std::string_view read_open_file(int fd, const std::string& path, std::string& buffer);

// Where the drv files are, shared read-only by the reading threads.
struct Store {
    std::string root;      // as given ("" = the real store)
    std::string real_root; // its real path ("" = the real store)
    int dir = -1;          // <root>/nix/store opened and checked, or -1
    // Without a root: the DIRs of roots given as DIR/nix/store/<basename>,
    // and other places a store may be, for suggesting a --store-root.
    std::vector<std::string> root_dirs;
    std::vector<std::string> hint_roots;
};

// For a drv missing from the real store: which --store-root would find it,
// as " (...)", or "".
std::string store_root_hint(const Store& store, const std::string& path) {
    for (const auto* dirs : {&store.root_dirs, &store.hint_roots}) {
        for (const auto& dir : *dirs) {
            if (::access(file_of(path, dir).c_str(), F_OK) == 0) {
                return " (it is in " + shown(file_of(std::string(core::k_store_dir), dir)) +
                       ": give --store-root " + shown(dir) + ")";
            }
        }
    }
    if (!store.root_dirs.empty()) {
        const auto& dir = store.root_dirs.front();
        return " (a root is in " + shown(file_of(std::string(core::k_store_dir), dir)) +
               ": give --store-root " + shown(dir) + " to read its inputs there too)";
    }
    if (::access(std::string(core::k_store_dir).c_str(), F_OK) != 0) {
        return " (there is no " + std::string(core::k_store_dir) +
               " here: for a store in DIR/nix/store, give --store-root DIR)";
    }
    return {};
}

// Reads a whole file into buffer, which only ever grows (filling it anew for
// each file would cost more than reading the file), and returns the bytes
// read. With a store root
// (real_root not empty) the file is only read if what was opened lies
// inside it: a symlink in the root may point anywhere. The check is made on
// the open descriptor, so a symlink swapped after a check cannot slip out.
// When the file does not exist and `missing` is given (a drv of the real
// store), the message says which --store-root would find it.
std::string_view read_file(const std::string& path, std::string& buffer,
                           const std::string& real_root, const Store* missing = nullptr) {
    if (!real_root.empty() && !is_inside(real_path_of(path), real_root)) {
        // Checked before opening too, so nothing outside is ever opened
        // (a device or a FIFO may act on open).
        fail(shown(path) + ": resolves outside the store root " + shown(real_root));
    }
    // O_NONBLOCK: a FIFO named like a drv must not hang the walk (it is then
    // refused as not a regular file); it changes nothing for regular files.
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        const bool absent = errno == ENOENT || errno == ENOTDIR;
        std::string message = errno_text();
        message = shown(path) + ": " + message;
        if (absent && missing) {
            message += store_root_hint(*missing, path);
        }
        fail(message);
    }
    if (!real_root.empty()) {
        const std::string real = opened_path(fd.get());
        if (!real.empty() && !is_inside(real, real_root)) {
            fail(shown(path) + ": resolves outside the store root " + shown(real_root));
        }
    }
    return read_open_file(fd.get(), path, buffer);
}

// Reads the whole regular file open as fd into buffer (as read_file).
std::string_view read_open_file(int fd, const std::string& path, std::string& buffer) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(shown(path) + ": not a regular file");
    }
    constexpr off_t k_max_drv = 64 << 20;
    if (st.st_size > k_max_drv) {
        fail(shown(path) + ": larger than 64 MiB, not a .drv");
    }
    const auto size = static_cast<size_t>(st.st_size);
    if (buffer.size() < size) {
        buffer.resize(size);
    }
    size_t done = 0;
    while (done < size) {
        const auto got = ::read(fd, buffer.data() + done, size - done);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            fail(shown(path) + ": " + (got < 0 ? errno_text() : "file shrank while reading"));
        }
        done += static_cast<size_t>(got);
    }
    return {buffer.data(), size};
}

// Reads a drv's file into buffer (as read_file): relative to the store
// directory without following a symlink (which cannot leave the root and
// needs no realpath() per file), else by the checked path of read_file.
// `file` receives the file's name, for messages.
std::string_view read_node(const Store& store, const std::string& path,
                           const std::string& given_file, std::string& buffer, std::string& file) {
    const bool given = !given_file.empty();
    file = given ? given_file : file_of(path, store.root);
    const Fd direct(given || store.dir < 0
                        ? -1
                        : ::openat(store.dir, path.c_str() + core::k_store_dir.size() + 1,
                                   O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW));
    if (direct.get() >= 0) {
        return read_open_file(direct.get(), file, buffer);
    }
    return read_file(file, buffer, given ? std::string() : store.real_root,
                     given || !store.root.empty() ? nullptr : &store);
}

// Reads the walk's levels: the files of nodes [begin, end) are read and
// parsed by several threads, each taking the next unread node. The input
// paths each thread found are kept in its own buffer, and merged in node
// order afterwards, so the walk's order does not depend on the threads. The
// buffers live for the whole walk: fresh memory for each level costs more
// in page faults than the copying it saves.
class Reading {
public:
    Reading(const Closure& closure, const std::vector<std::string>& files, const Store& store,
            size_t max_threads)
        : m_closure(closure), m_files(files), m_store(store), m_readers(max_threads) {}

    // Prepares for reading nodes [begin, end).
    void start(size_t begin, size_t end) {
        m_begin = begin;
        m_end = end;
        m_next = begin;
        m_nodes.assign(end - begin, NodeInputs{});
        for (auto& reader : m_readers) {
            reader.paths.clear();
            reader.ends.clear();
        }
    }

    // Reads nodes until none are left; `thread` < max_threads.
    void read(size_t thread) {
        Reader& reader = m_readers[thread];
        for (size_t i = m_next++; i < m_end; i = m_next++) {
            NodeInputs& node = m_nodes[i - m_begin];
            node.thread = thread;
            node.first = reader.ends.size();
            // An exception cannot leave a thread: the node keeps it, and the
            // walking thread reports a bad file (an hs::Error), or rethrows
            // anything else, in walk order.
            try {
                const std::string& given = i < m_files.size() ? m_files[i] : k_in_store;
                const auto text =
                    read_node(m_store, m_closure.nodes[i].path, given, reader.buffer, reader.file);
                core::visit_input_drv_paths(text, shown(reader.file), [&](std::string_view input) {
                    reader.paths += input;
                    reader.ends.push_back(reader.paths.size());
                });
            } catch (const Error& bad) {
                node.bad.emplace(bad);
            } catch (...) {
                node.error = std::current_exception();
            }
            node.last = reader.ends.size();
        }
    }

    // Calls each(i, input path) for every input of every node, in order.
    // A bad file goes to `errors`, or is thrown without it; anything else is
    // thrown.
    template <class Each>
    void merge(Each&& each, std::vector<Error>* errors) const {
        for (size_t i = m_begin; i < m_end; ++i) {
            const NodeInputs& node = m_nodes[i - m_begin];
            if (node.error) {
                std::rethrow_exception(node.error);
            }
            if (node.bad) {
                if (!errors) {
                    throw Error(*node.bad);
                }
                errors->push_back(*node.bad);
                continue; // its inputs, if any were seen before the error, are not walked
            }
            const Reader& reader = m_readers[node.thread];
            for (size_t k = node.first; k < node.last; ++k) {
                const size_t from = k == 0 ? 0 : reader.ends[k - 1];
                each(i, std::string_view(reader.paths).substr(from, reader.ends[k] - from));
            }
        }
    }

private:
    // What one thread holds: the file it reads and the input paths it found.
    struct Reader {
        std::string buffer;       // the drv file being read (read_file)
        std::string file;         // its name
        std::string paths;        // one after another
        std::vector<size_t> ends; // where each path ends in `paths`
    };
    // A node's inputs: paths [first, last) of its thread's Reader.
    struct NodeInputs {
        size_t thread = 0;
        size_t first = 0;
        size_t last = 0;
        std::optional<Error> bad; // the file is missing, unreadable or malformed
        std::exception_ptr error; // anything else
    };
    static inline const std::string k_in_store;

    const Closure& m_closure;
    const std::vector<std::string>& m_files;
    const Store& m_store;
    std::vector<Reader> m_readers;
    size_t m_begin = 0;
    size_t m_end = 0;
    std::atomic<size_t> m_next{0};
    std::vector<NodeInputs> m_nodes;
};

// A level smaller than this per thread is read by fewer threads.
constexpr size_t k_nodes_per_thread = 64;

size_t reading_threads(size_t nodes) {
    const size_t cores = std::max(1U, std::thread::hardware_concurrency());
    return std::clamp<size_t>(nodes / k_nodes_per_thread, 1, std::min<size_t>(cores, 8));
}

// The paths of a closure's nodes, for asking whether an input is new. Open
// addressing keyed on eight characters of a path's hash part (already
// random), compared in full on a match: a lookup reads one slot array and
// one node, where a node-based set chases a pointer per bucket entry.
class SeenPaths {
public:
    explicit SeenPaths(const std::vector<Closure::Node>& nodes) : m_nodes(nodes) {}

    // Adds path as node `index` unless it is there; returns whether it was new.
    bool insert(std::string_view path, int32_t index) {
        if (2 * (m_used + 1) > m_slots.size()) {
            grow();
        }
        const uint64_t key = key_of(path);
        for (size_t at = slot_of(key);; at = (at + 1) & (m_slots.size() - 1)) {
            Slot& slot = m_slots[at];
            if (slot.node < 0) {
                slot = {key, index};
                ++m_used;
                return true;
            }
            if (slot.key == key && m_nodes[static_cast<size_t>(slot.node)].path == path) {
                return false;
            }
        }
    }

private:
    struct Slot {
        uint64_t key = 0;
        int32_t node = -1; // -1: empty
    };

    static uint64_t key_of(std::string_view path) {
        constexpr size_t k_at = core::k_store_dir.size() + 1;
        uint64_t key = 0;
        if (path.size() < k_at + sizeof key) {
            return std::hash<std::string_view>{}(path);
        }
        std::memcpy(&key, path.data() + k_at, sizeof key);
        return key;
    }

    size_t slot_of(uint64_t key) const {
        // Mixes the characters' bits so that the low ones vary.
        return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> 20) & (m_slots.size() - 1);
    }

    void grow() {
        std::vector<Slot> old(std::max<size_t>(64, m_slots.size() * 2));
        old.swap(m_slots);
        for (const Slot& slot : old) {
            if (slot.node >= 0) {
                size_t at = slot_of(slot.key);
                while (m_slots[at].node >= 0) {
                    at = (at + 1) & (m_slots.size() - 1);
                }
                m_slots[at] = slot;
            }
        }
    }

    const std::vector<Closure::Node>& m_nodes;
    std::vector<Slot> m_slots;
    size_t m_used = 0;
};

// A root argument: its store path, the file to read it from ("" = its file
// in the store), and DIR when it was given as DIR/nix/store/<basename>.
struct Root {
    std::string path;
    std::string file;
    std::string dir;
};

// Reads a root argument (see walk_closure); throws hs::Error naming it.
Root root_of(const std::string& arg, std::string& buffer) {
    Root root;
    std::string why;
    const std::string store_prefix = std::string(core::k_store_dir) + "/";
    if (core::parse_store_path(arg, &why)) {
        root.path = arg;
    } else if (arg.starts_with(store_prefix)) {
        fail(shown(arg) + ": not a store path (" + why + ")");
    } else {
        const auto slash = arg.rfind('/');
        const auto base = arg.substr(slash == std::string::npos ? 0 : slash + 1);
        if (const auto parsed = core::parse_basename(base)) {
            // A drv file named as in the store: the name tells its path.
            root.path = parsed->path();
            const std::string tail = store_prefix.substr(1) + base; // "nix/store/<base>"
            if (arg == tail) {
                root.dir = ".";
            } else if (arg.ends_with("/" + tail)) {
                root.dir = arg.substr(0, arg.size() - tail.size() - 1);
            }
        } else {
            // Any other file, e.g. a drv copied out of the store as foo.drv:
            // its contents tell its path.
            if (::access(arg.c_str(), F_OK) != 0) {
                fail(shown(arg) + ": no such file, and not a store path (" + store_prefix +
                     "<hash>-<name>.drv)");
            }
            const auto text = read_file(arg, buffer, {});
            const auto drv = core::parse_derivation(text, shown(arg));
            const auto path = core::derivation_store_path(drv, text, &why);
            if (!path) {
                fail(shown(arg) + ": cannot tell its store path: " + why +
                     " (give the file its store name, <hash>-<name>.drv)");
            }
            root.path = *path;
        }
        root.file = arg;
    }
    if (!root.path.ends_with(core::k_drv_suffix)) {
        fail(shown(arg) + ": not a .drv (give the derivation, not an output)");
    }
    return root;
}

// Adds the root arguments to the closure, in order, each once; `files`
// receives the file to read each from ("" = its file in the store). A bad
// root is reported as a bad file is (see walk_closure).
void add_roots(const std::vector<std::string>& roots, Store& store, Closure& closure,
               SeenPaths& seen, std::vector<std::string>& files, std::vector<Error>* errors) {
    std::string buffer;
    for (const auto& arg : roots) {
        // The walk goes on with the other roots, so that their answers are
        // not lost.
        try {
            const Root root = root_of(arg, buffer);
            if (!root.dir.empty() && store.root.empty()) {
                store.root_dirs.push_back(root.dir);
            }
            if (seen.insert(root.path, static_cast<int32_t>(closure.nodes.size()))) {
                closure.nodes.push_back({root.path, -1});
                files.push_back(root.file);
            }
        } catch (const Error& bad) {
            if (!errors) {
                throw;
            }
            errors->push_back(bad);
        }
    }
}

// Reads drvs relative to the store directory open as fd, once it is
// checked to be inside the store root.
void use_store_dir(int fd, Store& store) {
    std::string real = opened_path(fd);
    if (real.empty()) {
        real = real_path_of(file_of(std::string(core::k_store_dir), store.root));
    }
    if (!is_inside(real, store.real_root)) {
        fail(shown(store.root) + ": its nix/store resolves outside the store root");
    }
    store.dir = fd;
}

// Reads the files of nodes [begin, end) on the reading threads while
// `visit` checks those nodes on this one; a visitor's error goes to
// visit_error, after which the visitor is not called any more.
void read_level(Reading& reading, const Closure& closure, size_t begin, size_t end,
                const Visit& visit, std::exception_ptr& visit_error) {
    reading.start(begin, end);
    std::vector<std::jthread> helpers;
    const size_t threads = reading_threads(end - begin);
    for (size_t t = 1; t < threads; ++t) {
        helpers.emplace_back([&reading, t] { reading.read(t); });
    }
    if (visit && !visit_error) {
        // A drv found malformed later must still be reported (exit 2 comes
        // before the index's 5): the walk goes on without visiting, and the
        // visitor's error is thrown at the end.
        try {
            visit(closure, begin, end);
        } catch (...) {
            visit_error = std::current_exception();
        }
    }
    reading.read(0);
} // the helpers are joined here

// Walks the closure level by level, adding each level's new inputs (in node
// order) as the next level; returns the visitor's error, if any.
std::exception_ptr read_levels(Closure& closure, SeenPaths& seen, Reading& reading,
                               const Visit& visit, std::vector<Error>* errors) {
    std::exception_ptr visit_error;
    for (size_t begin = 0; begin < closure.nodes.size();) {
        const size_t end = closure.nodes.size();
        read_level(reading, closure, begin, end, visit, visit_error);
        reading.merge(
            [&](size_t parent, std::string_view input) {
                if (seen.insert(input, static_cast<int32_t>(closure.nodes.size()))) {
                    closure.nodes.push_back({std::string(input), static_cast<int32_t>(parent)});
                }
            },
            errors);
        begin = end;
    }
    return visit_error;
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

Closure walk_closure(const std::vector<std::string>& roots, const std::string& store_root,
                     const Visit& visit, std::vector<Error>* errors,
                     const std::vector<std::string>& hint_roots) {
    Store store{store_root, store_root.empty() ? "" : real_path_of(store_root), -1, {}, {}};
    if (store_root.empty()) {
        store.hint_roots = hint_roots;
    }
    Closure closure;
    SeenPaths seen(closure.nodes);
    std::vector<std::string> files; // roots given as files outside the store; "" = in the store
    add_roots(roots, store, closure, seen, files, errors);
    // With a store root, the store directory is opened once and checked to be
    // inside the root; drvs are then opened relative to it (read_node).
    const Fd store_dir(store.real_root.empty()
                           ? -1
                           : ::open(file_of(std::string(core::k_store_dir), store_root).c_str(),
                                    O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (store_dir.get() >= 0) {
        use_store_dir(store_dir.get(), store);
    }
    Reading reading(closure, files, store, reading_threads(SIZE_MAX));
    const std::exception_ptr visit_error = read_levels(closure, seen, reading, visit, errors);
    if (visit_error) {
        if (errors && !errors->empty()) {
            throw Error(errors->front());
        }
        std::rethrow_exception(visit_error);
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
