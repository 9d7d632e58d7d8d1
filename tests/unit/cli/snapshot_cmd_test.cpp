#include "cli/snapshot_cmd.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace hs::cli {
namespace {

SettingValues with_from(const std::string& from, const std::string& keys = "") {
    SettingValues settings;
    settings.from = from;
    settings.trusted_keys = keys;
    return settings;
}

TEST(SnapshotCmd, PullSourceChecksVerification) {
    const auto key = snapshot::generate_key_pair("k-1").public_key;
    const auto http = pull_source(with_from("https://u:p@snap.example.org", key), false, false);
    EXPECT_FALSE(http.file);
    EXPECT_TRUE(http.verify);
    EXPECT_EQ(http.trusted.size(), 1u);
    EXPECT_EQ(http.shown.find("u:p"), std::string::npos);
    EXPECT_THROW(pull_source(with_from("https://snap.example.org", key), true, false), UsageError);
    EXPECT_THROW(pull_source(with_from("https://snap.example.org"), false, false), UsageError);
    EXPECT_THROW(pull_source(with_from("file:///srv/snap", key), false, true), UsageError);
    const auto file = pull_source(with_from("file:///srv/snap"), true, false);
    EXPECT_TRUE(file.file);
    EXPECT_FALSE(file.verify);
    EXPECT_EQ(file.dir, "/srv/snap");
}

TEST(SnapshotCmd, SummaryLines) {
    snapshot::PullResult result;
    result.changed = true;
    result.base = true;
    result.deltas = 2;
    result.evals = {7, 8};
    EXPECT_EQ(pull_summary_line(result, "https://s", 2048, 4, 0.25, 0),
              "pulled a base and 2 deltas (evals 7, 8) from https://s: 2.0 KiB in 4 requests, "
              "0.2 s");
    snapshot::PullResult none;
    none.created = 1000;
    EXPECT_EQ(pull_summary_line(none, "https://s", 0, 1, 0.01, 1000 + 180),
              "nothing new at https://s (snapshot made 3 min ago): 0 B in 1 request, 0.0 s");
    snapshot::PublishResult published;
    published.changed = true;
    published.new_deltas.resize(1);
    published.new_deltas[0].evals = {9};
    published.new_deltas[0].size = 100;
    published.manifest.deltas.resize(3);
    EXPECT_EQ(publish_summary_line(published, "/srv"),
              "published 1 delta (100 B) (eval 9) in /srv; the manifest names 3 deltas");
}

TEST(SnapshotCmd, KeygenWritesASecretKeyOnlyOnce) {
    test::TempDir dir;
    const auto path = dir.file("k.secret");
    const auto public_key = write_key_pair("k-1", path);
    EXPECT_TRUE(snapshot::parse_public_key(public_key));
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    SettingValues settings;
    settings.secret_key_file = path;
    EXPECT_EQ(load_secret_key(settings).name, "k-1");
    EXPECT_THROW(write_key_pair("k-1", path), Error);
    settings.secret_key_file.clear();
    EXPECT_THROW(load_secret_key(settings), UsageError);
}

} // namespace
} // namespace hs::cli
