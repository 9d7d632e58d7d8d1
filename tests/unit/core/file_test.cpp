#include "core/file.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <utility>

namespace hs {
namespace {

using namespace std::string_literals;

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

int open_dev_null() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return fd;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

TEST(Fd, ClosesWhenItGoes) {
    const int raw = open_dev_null();
    {
        const Fd fd(raw);
        EXPECT_TRUE(fd.valid());
        EXPECT_EQ(fd.get(), raw);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(Fd, EmptyHoldsNothing) {
    const Fd none;
    EXPECT_FALSE(none.valid());
    EXPECT_EQ(none.get(), -1);
    const Fd failed(::open("/nonexistent/hs-file-test", O_RDONLY));
    EXPECT_FALSE(failed.valid());
}

TEST(Fd, MoveHandsTheDescriptorOver) {
    const int raw = open_dev_null();
    Fd first(raw);
    {
        const Fd second(std::move(first));
        EXPECT_FALSE(first.valid()); // NOLINT(bugprone-use-after-move)
        EXPECT_EQ(second.get(), raw);
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(Fd, MoveAssignmentClosesWhatItHeld) {
    const int a = open_dev_null();
    const int b = open_dev_null();
    Fd held(a);
    held = Fd(b);
    EXPECT_FALSE(is_open(a));
    EXPECT_EQ(held.get(), b);
}

TEST(Fd, ResetClosesAndReleaseDoesNot) {
    const int a = open_dev_null();
    const int b = open_dev_null();
    Fd fd(a);
    fd.reset(b);
    EXPECT_FALSE(is_open(a));
    EXPECT_EQ(fd.release(), b);
    EXPECT_FALSE(fd.valid());
    EXPECT_TRUE(is_open(b));
    ::close(b);
}

TEST(ErrnoText, IsTheSystemsText) {
    EXPECT_EQ(errno_text(ENOENT), "No such file or directory");
    EXPECT_EQ(errno_text(EACCES), "Permission denied");
}

TEST(ReadToEnd, ReadsWhatIsLeftOfADescriptorToItsEnd) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    Fd reading(fds[0]);
    {
        Fd writing(fds[1]);
        const std::string text = "abc\n" + std::string(20000, 'x');
        ASSERT_EQ(::write(writing.get(), text.data(), text.size()),
                  static_cast<ssize_t>(text.size()));
    }
    const auto out = read_to_end(reading.get());
    ASSERT_TRUE(out) << out.error();
    EXPECT_EQ(out->size(), 20004U);
    EXPECT_EQ(out->substr(0, 4), "abc\n");
}

TEST(ReadToEnd, AClosedDescriptorSaysWhy) {
    const auto out = read_to_end(-1);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error_code(), EBADF);
}

TEST(ReadWholeFile, ReadsEveryByte) {
    const test::TempDir dir;
    // Larger than one read, with a NUL byte and no final newline.
    std::string text = "a\0b"s;
    for (int i = 0; i < 5000; ++i) {
        text += "line " + std::to_string(i) + "\n";
    }
    text += "end";
    write_file(dir.path() / "f", text);
    const auto read = read_whole_file((dir.path() / "f").string());
    ASSERT_TRUE(read) << read.error();
    EXPECT_EQ(*read, text);
}

TEST(ReadWholeFile, EmptyFileIsEmptyText) {
    const test::TempDir dir;
    write_file(dir.path() / "empty", "");
    const auto read = read_whole_file((dir.path() / "empty").string());
    ASSERT_TRUE(read) << read.error();
    EXPECT_EQ(*read, "");
}

TEST(ReadWholeFile, ReadsAPipeToItsEnd) {
    // As --config <(command) gives it: no size to trust.
    int ends[2] = {-1, -1};
    ASSERT_EQ(::pipe(ends), 0);
    const Fd read_end(ends[0]);
    {
        const Fd write_end(ends[1]);
        ASSERT_EQ(::write(write_end.get(), "k = v\n", 6), 6);
    }
    const auto read = read_whole_file("/proc/self/fd/" + std::to_string(read_end.get()));
    ASSERT_TRUE(read) << read.error();
    EXPECT_EQ(*read, "k = v\n");
}

TEST(ReadWholeFile, MissingFileSaysSoWithItsErrno) {
    const test::TempDir dir;
    const auto read = read_whole_file((dir.path() / "absent").string());
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error_code(), ENOENT);
    EXPECT_EQ(read.error(), "No such file or directory");
    const auto under_file = read_whole_file("/dev/null/x");
    ASSERT_FALSE(under_file);
    EXPECT_EQ(under_file.error_code(), ENOTDIR);
}

TEST(ReadWholeFile, DirectoryIsRefused) {
    const test::TempDir dir;
    const auto read = read_whole_file(dir.path().string());
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error_code(), EISDIR);
    EXPECT_EQ(read.error(), "Is a directory");
}

TEST(ReadWholeFile, UnreadableFileIsRefused) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root reads every file";
    }
    const test::TempDir dir;
    write_file(dir.path() / "secret", "x");
    std::filesystem::permissions(dir.path() / "secret", std::filesystem::perms::none);
    const auto read = read_whole_file((dir.path() / "secret").string());
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error_code(), EACCES);
}

} // namespace
} // namespace hs
