#include "core/error.hpp"
#include "index/index.hpp"
#include "snapshot/publish.hpp"
#include "snapshot/pull.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

namespace hs::snapshot {
namespace {

Manifest chain() {
    Manifest m;
    m.base.to = 5;
    for (int64_t i = 3; i < 8; ++i) {
        SnapshotFile d;
        d.from = i;
        d.to = i + 1;
        m.deltas.push_back(d);
    }
    m.seq = 8;
    return m;
}

TEST(PullPlan, DeltasWhenTheyReachElseTheBase) {
    const auto m = chain();
    EXPECT_TRUE(plan_pull(m, 8).nothing);
    const auto from3 = plan_pull(m, 3);
    EXPECT_FALSE(from3.base);
    EXPECT_EQ(from3.deltas, (std::vector<size_t>{0, 1, 2, 3, 4}));
    const auto from6 = plan_pull(m, 6);
    EXPECT_EQ(from6.deltas, (std::vector<size_t>{3, 4}));
    const auto none = plan_pull(m, std::nullopt);
    EXPECT_TRUE(none.base);
    EXPECT_EQ(none.deltas, (std::vector<size_t>{2, 3, 4})); // after the base's 5
    EXPECT_TRUE(plan_pull(m, 1).base);                      // behind every delta
    EXPECT_TRUE(plan_pull(m, 9).base);                      // ahead: the publisher restarted
}

TEST(PullPlan, FileUrls) {
    EXPECT_EQ(*file_url_path("file:///srv/snap/"), "/srv/snap");
    EXPECT_EQ(*file_url_path("file://localhost/srv"), "/srv");
    EXPECT_FALSE(file_url_path("file://srv"));
    EXPECT_FALSE(file_url_path("http://x"));
}

TEST(Pull, FromADirectoryVerifiedAndKeepingLocalFailures) {
    test::TempDir dir;
    auto publisher = hs::index::IndexWriter::open(dir.file("pub.sqlite"));
    {
        auto txn = publisher.transaction();
        auto state = publisher.jobset("https://h", "nixpkgs", "trunk");
        core::BuildRecord b;
        b.id = 1;
        b.drvpath = "/nix/store/" + std::string(32, '1') + "-a.drv";
        b.finished = true;
        b.buildstatus = 1;
        b.project = "nixpkgs";
        b.jobset = "trunk";
        b.job = "a";
        b.system = "x86_64-linux";
        ASSERT_TRUE(publisher.put_build(state.instance, b));
        txn.commit();
    }
    const auto pair = generate_key_pair("k");
    PublishOptions o;
    o.index_path = dir.file("pub.sqlite");
    o.dir = dir.file("www");
    o.key = *parse_secret_key(pair.secret);
    o.now = 50;
    publish(o);

    auto client = hs::index::IndexWriter::open(dir.file("client.sqlite"));
    const auto mine = *core::parse_store_path("/nix/store/" + std::string(32, '3') + "-y.drv");
    client.record_local_failure(mine, 20, "", "");
    FileFetcher fetcher(dir.file("www"));
    PullOptions p;
    p.url = "file://" + dir.file("www");
    p.trusted = {*parse_public_key(generate_key_pair("k").public_key)};
    EXPECT_THROW(pull(client, fetcher, p), Error); // same name, other key
    EXPECT_EQ(client.reader().jobsets().size(), 0u);
    p.trusted = {*parse_public_key(pair.public_key)};
    const auto result = pull(client, fetcher, p);
    EXPECT_TRUE(result.changed);
    EXPECT_TRUE(result.base);
    EXPECT_EQ(result.signed_by, "k");
    EXPECT_EQ(client.reader().jobsets().at(0).builds, 1);
    EXPECT_TRUE(client.reader().local_failure(mine.hash, 0).has_value());
    EXPECT_FALSE(pull(client, fetcher, p).changed);
    EXPECT_EQ(dir.names(),
              (std::vector<std::string>{"client.sqlite", "client.sqlite-shm", "client.sqlite-wal",
                                        "pub.sqlite", "pub.sqlite-shm", "pub.sqlite-wal", "www"}));
}

} // namespace
} // namespace hs::snapshot
