#include "core/error.hpp"
#include "http_options.hpp"
#include "http_server.hpp"
#include "snapshot/manifest.hpp"
#include "support.hpp"
#include "sync/snapshot_fetch.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace hs::sync {
namespace {

using namespace std::chrono_literals;
using test::json;
using test::Reply;
using test::status_reply;
using test::TempDir;
using test::TestServer;
using test::with_header;
using test::with_mode;

HttpOptions test_options() {
    return test_http::fast_http_options(3);
}

// A file of a snapshot, as a static web server sends it.
Reply file_reply(std::string body) {
    Reply reply = json(std::move(body));
    reply.content_type = "application/octet-stream";
    return reply;
}

// What fetch throws; fails the test when it throws nothing.
template <typename F>
std::string error_of(F&& fetch) {
    try {
        fetch();
    } catch (const Error& error) {
        return error.what();
    }
    ADD_FAILURE() << "no hs::Error thrown";
    return {};
}

const std::string k_manifest = R"({"format": 1, "files": []})";

TEST(HttpFetcher, DownloadsAFileIntoDest) {
    const std::string body(5000, 'z');
    TestServer server({file_reply(body)});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    fetcher.fetch_file("base-7.db.zst", dir.file("packed"), body.size());
    EXPECT_EQ(test::read_file(dir.file("packed")), body);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].target, "/snap/base-7.db.zst");
    EXPECT_EQ(requests[0].headers.at("accept"), "*/*");
    EXPECT_EQ(fetcher.requests(), 1U);
    EXPECT_EQ(fetcher.bytes(), body.size());
}

TEST(HttpFetcher, ReplacesWhatDestHeld) {
    TestServer server({file_reply("new")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    {
        std::FILE* old = std::fopen(dir.file("packed").c_str(), "wb");
        ASSERT_NE(old, nullptr);
        std::fputs("an older and longer file", old);
        std::fclose(old);
    }
    fetcher.fetch_file("delta-8.zst", dir.file("packed"), 100);
    EXPECT_EQ(test::read_file(dir.file("packed")), "new");
}

TEST(HttpFetcher, RetriedDownloadStartsTheFileAgain) {
    TestServer server(
        {with_mode(file_reply("partial-"), Reply::Mode::truncated), file_reply("complete")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    fetcher.fetch_file("delta-8.zst", dir.file("packed"), 1000);
    EXPECT_EQ(test::read_file(dir.file("packed")), "complete");
    EXPECT_EQ(fetcher.requests(), 2U);
}

TEST(HttpFetcher, AcceptsAFileOfExactlyMaxBytes) {
    const std::string body(4096, 'a');
    TestServer server({file_reply(body)});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    fetcher.fetch_file("delta-8.zst", dir.file("packed"), body.size());
    EXPECT_EQ(std::filesystem::file_size(dir.file("packed")), body.size());
}

TEST(HttpFetcher, RefusesAFileLargerThanMaxBytesWithoutRetry) {
    TestServer server({file_reply(std::string(4097, 'a')), file_reply("retried")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    const std::string message =
        error_of([&] { fetcher.fetch_file("delta-8.zst", dir.file("packed"), 4096); });
    EXPECT_EQ(message, "unable to download '" + server.url("/snap/delta-8.zst") +
                           "': larger than the manifest says (4096 bytes); nothing was changed");
    EXPECT_EQ(server.requests().size(), 1U);
    EXPECT_LE(std::filesystem::file_size(dir.file("packed")), 4096U);
}

TEST(HttpFetcher, ErrorStatusNamesTheUrl) {
    TestServer server({status_reply(404, "not here")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    const std::string message =
        error_of([&] { fetcher.fetch_file("base-7.db.zst", dir.file("packed"), 100); });
    EXPECT_EQ(message, "unable to download '" + server.url("/snap/base-7.db.zst") +
                           "': HTTP error 404; nothing was changed");
}

TEST(HttpFetcher, ErrorMessageHidesCredentials) {
    TestServer server({status_reply(403, "")});
    HttpClient client(test_options());
    const std::string url = server.url("/snap");
    const std::string with_credentials = "http://mirror:s3cret@" + url.substr(url.find("://") + 3);
    HttpFetcher fetcher(client, with_credentials);
    const std::string message = error_of([&] { fetcher.fetch_manifest("", ""); });
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
    EXPECT_NE(message.find("HTTP error 403"), std::string::npos) << message;
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].headers.count("authorization"), 1U);
}

TEST(HttpFetcher, UnwritableDestIsNamed) {
    TestServer server({file_reply("data")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    TempDir dir;
    const std::string dest = dir.file("missing/packed");
    const std::string message = error_of([&] { fetcher.fetch_file("delta-8.zst", dest, 100); });
    EXPECT_NE(message.find(dest + ": "), std::string::npos) << message;
    EXPECT_NE(message.find("; nothing was changed"), std::string::npos) << message;
}

TEST(HttpFetcher, FetchesTheManifestWithItsValidators) {
    TestServer server({with_header(with_header(json(k_manifest), "ETag", "\"m1\""), "Last-Modified",
                                   "Sat, 05 Dec 2026 10:00:00 GMT")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    const snapshot::ManifestFetch fetch = fetcher.fetch_manifest("", "");
    EXPECT_FALSE(fetch.not_modified);
    EXPECT_EQ(fetch.body, k_manifest);
    EXPECT_EQ(fetch.etag, "\"m1\"");
    EXPECT_EQ(fetch.last_modified, "Sat, 05 Dec 2026 10:00:00 GMT");
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].target, std::string("/snap/") + snapshot::k_manifest_name);
    EXPECT_EQ(requests[0].headers.count("if-none-match"), 0U);
    EXPECT_EQ(requests[0].headers.count("if-modified-since"), 0U);
}

TEST(HttpFetcher, ConditionalManifestRequestReportsNotModified) {
    TestServer server({with_header(status_reply(304, ""), "ETag", "\"m1\"")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    const snapshot::ManifestFetch fetch =
        fetcher.fetch_manifest("\"m1\"", "Sat, 05 Dec 2026 10:00:00 GMT");
    EXPECT_TRUE(fetch.not_modified);
    EXPECT_EQ(fetch.body, "");
    EXPECT_EQ(fetch.etag, "\"m1\"");
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].headers.at("if-none-match"), "\"m1\"");
    EXPECT_EQ(requests[0].headers.at("if-modified-since"), "Sat, 05 Dec 2026 10:00:00 GMT");
}

TEST(HttpFetcher, ManifestErrorNamesTheUrl) {
    TestServer server({status_reply(404, "")});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    const std::string message = error_of([&] { fetcher.fetch_manifest("", ""); });
    EXPECT_EQ(message,
              "unable to download '" + server.url("/snap/manifest.json") + "': HTTP error 404");
}

TEST(HttpFetcher, RefusesAManifestOver8MiB) {
    const uint64_t limit = 8ULL << 20;
    TestServer server({json(std::string(limit + 1, ' ')), json(k_manifest)});
    HttpClient client(test_options());
    HttpFetcher fetcher(client, server.url("/snap"));
    const std::string message = error_of([&] { fetcher.fetch_manifest("", ""); });
    EXPECT_NE(message.find("larger than " + std::to_string(limit) + " bytes"), std::string::npos)
        << message;
    EXPECT_EQ(server.requests().size(), 1U);
}

} // namespace
} // namespace hs::sync
