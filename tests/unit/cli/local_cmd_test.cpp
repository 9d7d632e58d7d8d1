#include "cli/local_cmd.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace hs::cli {
namespace {

const std::string k_hash = "0123456789abcdfghijklmnpqrsvwxyz";

TEST(ParseDrv, AcceptsDrvPathsAndBasenames) {
    EXPECT_EQ(parse_drv("/nix/store/" + k_hash + "-hello-2.12.drv").path(),
              "/nix/store/" + k_hash + "-hello-2.12.drv");
    EXPECT_EQ(parse_drv(k_hash + "-hello-2.12.drv").path(),
              "/nix/store/" + k_hash + "-hello-2.12.drv");
}

TEST(ParseDrv, RejectsOutputsHashesAndGarbage) {
    for (const auto& text :
         {"/nix/store/" + k_hash + "-hello-2.12", k_hash, std::string("x.drv"), std::string("")}) {
        EXPECT_THROW(parse_drv(text), UsageError) << text;
    }
}

TEST(LogFile, IsTheAbsolutePathOfAnExistingFile) {
    test::TempDir dir;
    const auto file = dir.path() / "build.log";
    std::ofstream(file) << "log\n";
    EXPECT_EQ(log_file(file.string()), file.string());
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    EXPECT_EQ(log_file("build.log"), (dir.path() / "build.log").string());
    std::filesystem::current_path(cwd);
}

TEST(LogFile, AMissingFileOrADirectoryIsAUsageError) {
    test::TempDir dir;
    for (const auto& path : {(dir.path() / "absent").string(), dir.path().string()}) {
        try {
            log_file(path);
            ADD_FAILURE() << path;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ExitCode::usage);
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
}

TEST(IsoTime, FormatsUtcOrNever) {
    EXPECT_EQ(iso_time(0), "never");
    EXPECT_EQ(iso_time(1'714'564'800), "2024-05-01 12:00:00Z");
}

IndexInfo sample() {
    IndexInfo info;
    info.path = "/var/lib/hydra-status/index.sqlite";
    info.bytes = 3 * 1024 + 5;
    index::JobsetInfo jobset;
    jobset.state.project = "nixpkgs";
    jobset.state.name = "trunk";
    jobset.state.url = "https://hydra.nixos.org";
    jobset.state.synced_at = 1'714'564'800;
    jobset.state.newest_eval = 1'801'234;
    jobset.evals = 2;
    jobset.builds = 70;
    info.jobsets.push_back(jobset);
    return info;
}

TEST(InfoJson, OneObjectPerJobsetThenTheIndex) {
    EXPECT_EQ(info_json(sample()),
              "{\"jobset\":\"nixpkgs:trunk\",\"url\":\"https://hydra.nixos.org\","
              "\"synced_at\":1714564800,\"newest_eval\":1801234,\"evals\":2,\"builds\":70}\n"
              "{\"index\":\"/var/lib/hydra-status/index.sqlite\",\"size\":3077,\"jobsets\":1,"
              "\"source\":null}\n");
}

TEST(InfoJson, PulledIndexSaysWhereFromAndWhen) {
    auto info = sample();
    info.source = index::ReplicaSource{};
    info.source->url = "https://snap.example.org";
    info.source->created = 1'714'564'000;
    info.source->pulled_at = 1'714'564'800;
    info.source->signed_by = "snap-1";
    EXPECT_NE(info_json(info).find(",\"source\":{\"url\":\"https://snap.example.org\","
                                   "\"created\":1714564000,\"pulled_at\":1714564800,"
                                   "\"signed_by\":\"snap-1\"}}\n"),
              std::string::npos)
        << info_json(info);
    const auto human = info_human(info, 1'714'564'800 + 3600);
    EXPECT_NE(human.find("pulled from    https://snap.example.org\n"), std::string::npos) << human;
    EXPECT_NE(human.find("signed by      snap-1\n"), std::string::npos) << human;
    EXPECT_NE(human.find("snapshot of    2024-05-01 11:46:40Z (1 h ago)"), std::string::npos)
        << human;
}

TEST(InfoHuman, LabelsInOneColumn) {
    EXPECT_EQ(info_human(sample(), 1'714'564'800 + 3 * 3600),
              "index          /var/lib/hydra-status/index.sqlite\n"
              "size           3 KiB\n"
              "nixpkgs:trunk\n"
              "  url          https://hydra.nixos.org\n"
              "  last sync    2024-05-01 12:00:00Z (3 h ago)\n"
              "  newest eval  1801234\n"
              "  evals        2\n"
              "  builds       70\n");
}

TEST(InfoHuman, SaysHowToSyncAnEmptyIndex) {
    IndexInfo info;
    info.path = "/i";
    const auto text = info_human(info, 0);
    EXPECT_NE(text.find("no jobsets synced yet"), std::string::npos) << text;
}

} // namespace
} // namespace hs::cli
