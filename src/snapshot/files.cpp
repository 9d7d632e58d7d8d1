#include "snapshot/files.hpp"

#include "core/error.hpp"
#include "core/file.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

namespace hs::snapshot {

namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_file(const std::string& path, const char* mode) {
    FilePtr file(std::fopen(path.c_str(), mode));
    if (!file) {
        throw Error(path + ": " + errno_text(errno));
    }
    return file;
}

void write_all(std::FILE* file, const void* data, size_t size, const std::string& path) {
    if (size != 0 && std::fwrite(data, 1, size, file) != size) {
        throw Error(path + ": cannot write: " + errno_text(errno));
    }
}

void close_checked(FilePtr file, const std::string& path) {
    if (std::fflush(file.get()) != 0 || ::fsync(fileno(file.get())) != 0) {
        throw Error(path + ": cannot write: " + errno_text(errno));
    }
    if (std::fclose(file.release()) != 0) {
        throw Error(path + ": cannot write: " + errno_text(errno));
    }
}

struct CctxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

} // namespace

uint64_t compress_file(const std::string& in, const std::string& out, int level) {
    auto src = open_file(in, "rb");
    auto dst = open_file(out, "wb");
    std::unique_ptr<ZSTD_CCtx, CctxFree> cctx(ZSTD_createCCtx());
    if (!cctx) {
        throw Error(out + ": cannot start zstd");
    }
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    // Several threads when libzstd has them (Debian's has); ignored if not.
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, 2);
    std::vector<char> ibuf(ZSTD_CStreamInSize());
    std::vector<char> obuf(ZSTD_CStreamOutSize());
    uint64_t written = 0;
    bool last = false;
    while (!last) {
        const size_t got = std::fread(ibuf.data(), 1, ibuf.size(), src.get());
        if (std::ferror(src.get())) {
            throw Error(in + ": cannot read: " + errno_text(errno));
        }
        last = got < ibuf.size();
        const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer input{ibuf.data(), got, 0};
        bool done = false;
        while (!done) {
            ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
            const size_t remaining = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
            if (ZSTD_isError(remaining)) {
                throw Error(out + ": zstd: " + ZSTD_getErrorName(remaining));
            }
            write_all(dst.get(), obuf.data(), output.pos, out);
            written += output.pos;
            done = last ? remaining == 0 : input.pos == input.size;
        }
    }
    close_checked(std::move(dst), out);
    return written;
}

uint64_t decompress_file(const std::string& in, const std::string& out, uint64_t max_bytes,
                         const std::string& shown) {
    const std::string& name = shown.empty() ? in : shown;
    auto src = open_file(in, "rb");
    auto dst = open_file(out, "wb");
    std::unique_ptr<ZSTD_DCtx, DctxFree> dctx(ZSTD_createDCtx());
    if (!dctx) {
        throw Error(in + ": cannot start zstd");
    }
    std::vector<char> ibuf(ZSTD_DStreamInSize());
    std::vector<char> obuf(ZSTD_DStreamOutSize());
    uint64_t written = 0;
    size_t last_ret = 1;
    bool any = false;
    while (true) {
        const size_t got = std::fread(ibuf.data(), 1, ibuf.size(), src.get());
        if (std::ferror(src.get())) {
            throw Error(in + ": cannot read: " + errno_text(errno));
        }
        if (got == 0) {
            break;
        }
        any = true;
        ZSTD_inBuffer input{ibuf.data(), got, 0};
        while (input.pos < input.size) {
            ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
            last_ret = ZSTD_decompressStream(dctx.get(), &output, &input);
            if (ZSTD_isError(last_ret)) {
                throw Error(name + ": corrupt zstd data (" + ZSTD_getErrorName(last_ret) + ")");
            }
            written += output.pos;
            if (written > max_bytes) {
                throw Error(name + ": decompresses to more than " + std::to_string(max_bytes) +
                            " bytes");
            }
            write_all(dst.get(), obuf.data(), output.pos, out);
        }
    }
    if (!any || last_ret != 0) {
        throw Error(name + ": truncated zstd data");
    }
    close_checked(std::move(dst), out);
    return written;
}

FileDigest digest_file(const std::string& path) {
    if (sodium_init() < 0) {
        throw Error("cannot initialise libsodium");
    }
    auto file = open_file(path, "rb");
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    std::vector<unsigned char> buf(1 << 16);
    FileDigest digest;
    while (true) {
        const size_t got = std::fread(buf.data(), 1, buf.size(), file.get());
        if (std::ferror(file.get())) {
            throw Error(path + ": cannot read: " + errno_text(errno));
        }
        if (got == 0) {
            break;
        }
        digest.size += got;
        crypto_hash_sha256_update(&state, buf.data(), got);
    }
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state, out);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    digest.sha256 = hex;
    return digest;
}

std::string sha256_hex(std::string_view data) {
    if (sodium_init() < 0) {
        throw Error("cannot initialise libsodium");
    }
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    return hex;
}

void sync_path(const std::string& path) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid() || ::fsync(fd.get()) != 0) {
        throw Error(path + ": cannot sync: " + errno_text(errno));
    }
}

void write_file_atomically(const std::string& path, std::string_view data) {
    const std::string tmp = path + ".tmp";
    {
        auto file = open_file(tmp, "wb");
        write_all(file.get(), data.data(), data.size(), tmp);
        close_checked(std::move(file), tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw Error(path + ": cannot rename " + tmp + ": " + errno_text(errno));
    }
    const auto dir = std::filesystem::path(path).parent_path();
    sync_path(dir.empty() ? "." : dir.string());
}

} // namespace hs::snapshot
