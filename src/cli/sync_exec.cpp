// The sync command of hydra-status (the seam: sync_seam.hpp): it runs in
// hydra-status-sync, so that lookups and the gate never load libcurl.
// sync_handoff() replaces this process with it (same argv and environment) before options are
// parsed; exit code, signals, lock, output and progress are then hydra-status-sync's.
#include "cli/sync_exec.hpp"

#include "cli/sync_seam.hpp"
#include "core/error.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace hs::cli {

namespace {

// The running executable's directory, symlinks resolved.
std::filesystem::path self_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        throw Error("sync: cannot find " + std::string(k_sync_helper) +
                    ": cannot read /proc/self/exe: " + ec.message());
    }
    return exe.parent_path();
}

} // namespace

std::vector<std::filesystem::path> sync_helper_candidates(const std::filesystem::path& self_dir,
                                                          std::string_view bin_to_libexec) {
    return {
        (self_dir / k_sync_helper).lexically_normal(),
        (self_dir / bin_to_libexec / "hydra-status" / k_sync_helper).lexically_normal(),
    };
}

void sync_handoff(char** argv) {
    std::filesystem::path tried;
    int error = ENOENT;
    for (const auto& candidate : sync_helper_candidates(self_dir(), HS_BIN_TO_LIBEXEC)) {
        ::execv(candidate.c_str(), argv); // returns only on failure
        error = errno;
        tried = candidate;
        if (error != ENOENT && error != ENOTDIR) {
            break; // there, but it cannot run: say so instead of looking further
        }
    }
    throw Error("sync: cannot run " + tried.string() + ": " + std::strerror(error));
}

int sync_command(Context& /*ctx*/) {
    throw Error("sync: runs in " + std::string(k_sync_helper) + ", not here");
}

} // namespace hs::cli
