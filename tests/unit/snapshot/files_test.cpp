#include "core/error.hpp"
#include "snapshot/files.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace hs::snapshot {
namespace {

void write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

TEST(Files, CompressesAndDecompressesWithLimits) {
    test::TempDir dir;
    std::string data;
    for (int i = 0; i < 100000; ++i) {
        data += std::to_string(i % 97);
    }
    write(dir.file("in"), data);
    const auto packed = compress_file(dir.file("in"), dir.file("in.zst"), 3);
    EXPECT_LT(packed, data.size() / 4);
    EXPECT_EQ(decompress_file(dir.file("in.zst"), dir.file("out"), data.size()), data.size());
    EXPECT_EQ(test::read_file(dir.file("out")), data);
    EXPECT_THROW(decompress_file(dir.file("in.zst"), dir.file("out"), data.size() - 1), Error);
    const auto whole = test::read_file(dir.file("in.zst"));
    write(dir.file("cut.zst"), whole.substr(0, whole.size() / 2));
    EXPECT_THROW(decompress_file(dir.file("cut.zst"), dir.file("out"), data.size()), Error);
    write(dir.file("junk.zst"), "not zstd at all");
    EXPECT_THROW(decompress_file(dir.file("junk.zst"), dir.file("out"), data.size()), Error);
}

TEST(Files, DigestAndAtomicWrite) {
    test::TempDir dir;
    write(dir.file("f"), "abc");
    const auto digest = digest_file(dir.file("f"));
    EXPECT_EQ(digest.size, 3u);
    EXPECT_EQ(digest.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abc"), digest.sha256);
    write_file_atomically(dir.file("m.json"), "{}");
    EXPECT_EQ(test::read_file(dir.file("m.json")), "{}");
    EXPECT_EQ(dir.names(), (std::vector<std::string>{"f", "m.json"}));
}

} // namespace
} // namespace hs::snapshot
