#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

namespace hs::cli {

// The executable that holds the real sync command (and libcurl).
inline constexpr std::string_view k_sync_helper = "hydra-status-sync";

// Where hydra-status looks for hydra-status-sync, in this order: beside
// itself (the build tree, or both copied into one directory), then in
// <self_dir>/<bin_to_libexec>/hydra-status/ (an install: bin_to_libexec is
// the libexec directory relative to the bin directory, "../libexec" for
// GNUInstallDirs' defaults). self_dir is the running executable's directory.
std::vector<std::filesystem::path> sync_helper_candidates(const std::filesystem::path& self_dir,
                                                          std::string_view bin_to_libexec);

} // namespace hs::cli
