#pragma once

// Helpers shared by the unit tests of every layer (tests/unit/<layer>).

#include <filesystem>
#include <string>
#include <vector>

namespace hs::test {

// The whole file; a failed read fails the calling test and returns "".
std::string read_file(const std::filesystem::path& path);

// A recorded Hydra answer from tests/data/hydra.
std::string read_sample(const std::string& name);

// The body of a `curl -i` capture: what follows the first empty line.
std::string http_body(const std::string& capture);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return m_path; }
    // The path of `name` in it.
    std::string file(const std::string& name) const { return (m_path / name).string(); }
    // The names of the files in it, sorted.
    std::vector<std::string> names() const;

private:
    std::filesystem::path m_path;
};

} // namespace hs::test
