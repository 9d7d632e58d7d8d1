#include "cli/output.hpp"
#include "core/nix32.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace hs::cli {
namespace {

constexpr int64_t k_now = 1'800'000'000;
const std::string k_url = "https://hydra.nixos.org";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

core::HashBytes hash_of(char fill) {
    core::HashBytes hash{};
    hash.fill(static_cast<uint8_t>(fill));
    return hash;
}

index::BuildRow build(const std::string& name, std::optional<int> buildstatus, int64_t id,
                      const std::string& jobset = "trunk") {
    index::BuildRow row;
    row.build_id = id;
    row.hydra_url = k_url;
    row.drv_hash = hash_of(static_cast<char>(id));
    row.drv_name = name;
    row.project = "nixpkgs";
    row.jobset = jobset;
    row.job = name + ".x86_64-linux";
    row.system = "x86_64-linux";
    row.finished = buildstatus.has_value();
    row.buildstatus = buildstatus;
    row.stoptime = 1'717'200'000 + id;
    row.synced_at = k_now - 3 * 3600;
    return row;
}

Answer hydra_answer(const index::BuildRow& row) {
    Answer answer;
    answer.query = row.drv_path();
    answer.hydra = row;
    return answer;
}

Answer unknown_answer(const std::string& name) {
    Answer answer;
    answer.query = "/nix/store/" + core::nix32_encode(hash_of('u')) + "-" + name + ".drv";
    return answer;
}

HumanStyle style(bool history = false) {
    return HumanStyle{false, k_now, 80, history};
}

const std::string k_long = "python3.12-azure-mgmt-recoveryservicesbackup-9.1.0-unstable-2024-05-28";

TEST(DisplayWidth, CountsCodePoints) {
    EXPECT_EQ(display_width(""), 0U);
    EXPECT_EQ(display_width("abc"), 3U);
    EXPECT_EQ(display_width("✓ ok"), 4U);
    EXPECT_EQ(display_width("a…b"), 3U);
}

TEST(CutMiddle, KeepsStartAndEnd) {
    EXPECT_EQ(cut_middle("hello-2.12.1", 20), "hello-2.12.1");
    EXPECT_EQ(cut_middle("hello-2.12.1", 12), "hello-2.12.1");
    EXPECT_EQ(cut_middle("python3.12-azure-mgmt-recoveryservicesbackup-9.1.0", 21),
              "python3.12-a…up-9.1.0");
    EXPECT_EQ(display_width(cut_middle(k_long, 30)), 30U);
    EXPECT_EQ(cut_middle("abcdef", 1), "…");
    EXPECT_EQ(cut_middle("abcdef", 0), "");
}

TEST(CutMiddle, NeverSplitsACodePoint) {
    const std::string text = "ééééééééééé"; // 11 two-byte code points
    const std::string cut = cut_middle(text, 6);
    EXPECT_EQ(display_width(cut), 6U);
    EXPECT_EQ(cut, "ééé…éé");
}

TEST(CutEnd, KeepsTheStart) {
    EXPECT_EQ(cut_end("out of memory", 20), "out of memory");
    EXPECT_EQ(cut_end("out of memory", 7), "out of…");
}

TEST(UtcTime, FormatsInUtc) {
    EXPECT_EQ(utc_time(0, "%Y-%m-%d %H:%M:%SZ"), "1970-01-01 00:00:00Z");
    EXPECT_EQ(utc_time(1'735'689'600, "%Y-%m-%d"), "2025-01-01");
}

TEST(Plural, OneIsSingular) {
    EXPECT_EQ(plural(0, "drv"), "0 drvs");
    EXPECT_EQ(plural(1, "drv"), "1 drv");
    EXPECT_EQ(plural(2, "build"), "2 builds");
    EXPECT_EQ(plural(1, "new eval"), "1 new eval");
}

TEST(WrapList, BreaksBeforeAnItemThatWouldPassTheWidth) {
    EXPECT_EQ(wrap_list("gate: 4 drvs checked: ",
                        {"1 failed", "0 transient", "1 succeeded", "2 never built by Hydra"}, 80,
                        6),
              "gate: 4 drvs checked: 1 failed, 0 transient, 1 succeeded, 2 never built by Hydra");
    EXPECT_EQ(
        wrap_list("gate: 20000 drvs checked: ",
                  {"498 failed", "127 transient", "6468 succeeded", "12907 never built by Hydra"},
                  80, 6),
        "gate: 20000 drvs checked: 498 failed, 127 transient, 6468 succeeded,\n"
        "      12907 never built by Hydra");
}

TEST(RelativeAge, RoundsDown) {
    EXPECT_EQ(relative_age(k_now - 10, k_now), "just now");
    EXPECT_EQ(relative_age(k_now - 5 * 60, k_now), "5 min ago");
    EXPECT_EQ(relative_age(k_now - 3 * 3600 - 5, k_now), "3 h ago");
    EXPECT_EQ(relative_age(k_now - 3 * 86400, k_now), "3 d ago");
    EXPECT_EQ(relative_age(k_now + 100, k_now), "in the future");
}

TEST(HumanTable, OneLinePerAnswerThenItsUrls) {
    std::string out;
    append_human_table(out,
                       {hydra_answer(build("hello-2.12.1", 0, 1)),
                        hydra_answer(build("curl-8.7.1", 1, 18)),
                        unknown_answer("never-built-1.0")},
                       style());
    const std::string unknown_key = unknown_answer("never-built-1.0").query;
    EXPECT_EQ(out, "✓ succeeded  hello-2.12.1     nixpkgs:trunk  3 h ago\n"
                   "✗ failed     curl-8.7.1       nixpkgs:trunk  3 h ago\n"
                   "    build  https://hydra.nixos.org/build/18\n"
                   "    log    https://hydra.nixos.org/build/18/log\n"
                   "? unknown    never-built-1.0  not in the index\n"
                   "    key    " +
                       unknown_key + "\n");
}

TEST(HumanTable, LocalFailureShowsHydrasAnswerUnderIt) {
    Answer answer = hydra_answer(build("curl-8.7.1", 1, 18));
    index::LocalFailure local;
    local.drv_hash = answer.hydra->drv_hash;
    local.drv_name = "curl-8.7.1";
    local.count = 2;
    local.first_at = k_now - 7200;
    local.last_at = k_now - 60;
    local.reason = "OOM\nkilled";
    local.log = "/tmp/build.log";
    answer.local = local;
    std::string out;
    append_human_table(out, {answer}, style());
    EXPECT_EQ(out, "✗ failed  curl-8.7.1  local failure x2  1 min ago\n"
                   "    reason OOM killed\n"
                   "    log    /tmp/build.log\n"
                   "    hydra  ✗ failed  nixpkgs:trunk  3 h ago\n"
                   "    build  https://hydra.nixos.org/build/18\n"
                   "    log    https://hydra.nixos.org/build/18/log\n");
}

TEST(HumanTable, ColumnsStayAlignedAcrossBatches) {
    HumanTable table(style());
    std::string first;
    table.append(first, {hydra_answer(build("a-much-longer-name-1.0", 0, 1))});
    std::string second;
    table.append(second, {hydra_answer(build("short-1.0", 1, 2))});
    EXPECT_EQ(first.find("nixpkgs:trunk"), second.find("nixpkgs:trunk"));
    EXPECT_EQ(first.find("a-much"), second.find("short"));
}

TEST(HumanTable, LongNamesAreCutToFit80Columns) {
    std::string out;
    append_human_table(out,
                       {hydra_answer(build(k_long, 11, 283719464, "staging-next-24.05")),
                        hydra_answer(build(k_long + "-dev", 0, 283719465)), unknown_answer(k_long)},
                       style());
    for (const auto& line : lines_of(out)) {
        EXPECT_LE(display_width(line), 80U) << line;
    }
    const auto lines = lines_of(out);
    ASSERT_EQ(lines.size(), 6U) << out;
    EXPECT_NE(lines[0].find("python3.12-azu"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("…"), std::string::npos) << lines[0];
    EXPECT_EQ(lines[1], "    build  https://hydra.nixos.org/build/283719464"); // never cut
    EXPECT_EQ(lines[5].substr(0, 55),
              "    key    /nix/store/" + core::nix32_encode(hash_of('u')) + "-");
}

TEST(HumanTable, AllListsBuildsUnderTheirKeysName) {
    Answer newest = hydra_answer(build("gnumake-4.4.1", 0, 24));
    Answer older = hydra_answer(build("gnumake-4.4.1", 1, 7, "staging"));
    older.same_key = true;
    std::string out;
    append_human_table(out, {newest, older}, style(true));
    EXPECT_EQ(out, "gnumake-4.4.1\n"
                   "  ✓ succeeded  nixpkgs:trunk    #24  2024-06-01\n"
                   "  ✗ failed     nixpkgs:staging   #7  2024-06-01\n"
                   "      build  https://hydra.nixos.org/build/7\n"
                   "      log    https://hydra.nixos.org/build/7/log\n");
}

TEST(HumanTable, GateChainWrapsBetweenElements) {
    Answer answer = hydra_answer(build("bad-leaf", 1, 5));
    const std::string store = "/nix/store/" + core::nix32_encode(hash_of('c')) + "-";
    answer.chain = {store + "top.drv", store + "mid.drv", store + "bad-leaf.drv"};
    std::string out;
    append_human_table(out, {answer}, style());
    EXPECT_EQ(lines_of(out).back(), "    chain  top.drv <- mid.drv <- bad-leaf.drv");

    const std::string name = "python3.12-azure-mgmt-recoveryservicesbackup-9.1.0";
    answer.chain = {store + name + "-a.drv", store + name + "-b.drv", store + "bad-leaf.drv",
                    store + k_long + ".drv"};
    out.clear();
    append_human_table(out, {answer}, style());
    const auto lines = lines_of(out);
    ASSERT_EQ(lines.size(), 7U) << out;
    EXPECT_EQ(lines[3], "    chain  " + name + "-a.drv");
    EXPECT_EQ(lines[4], "           <- " + name + "-b.drv");
    EXPECT_EQ(lines[5], "           <- bad-leaf.drv");
    // An element longer than a line is cut in the middle.
    EXPECT_EQ(lines[6], "           <- " + cut_middle(k_long + ".drv", 66));
    EXPECT_EQ(display_width(lines[6]), 80U);
}

TEST(HumanTable, ColourWrapsTheMarkAndWord) {
    std::string out;
    append_human_table(out, {hydra_answer(build("curl-8.7.1", 1, 18))},
                       HumanStyle{true, k_now, 80, false});
    EXPECT_EQ(out.rfind("\x1b[31m✗ failed\x1b[0m  curl-8.7.1", 0), 0U) << out;
}

TEST(AppendInputsJson, AnObjectOfRevisionsInTheEvalsOrder) {
    index::EvalInfo eval;
    eval.inputs = {{"nixpkgs", "abc123"}, {"we\"ird", ""}};
    std::string out = "x";
    append_inputs_json(out, eval);
    EXPECT_EQ(out, "x{\"nixpkgs\":\"abc123\",\"we\\\"ird\":\"\"}");
    out.clear();
    append_inputs_json(out, index::EvalInfo{});
    EXPECT_EQ(out, "{}");
}

TEST(HumanBytes, PicksTheUnit) {
    EXPECT_EQ(human_bytes(0), "0 B");
    EXPECT_EQ(human_bytes(1023), "1023 B");
    EXPECT_EQ(human_bytes(1024), "1.0 KiB");
    EXPECT_EQ(human_bytes(5 << 20), "5.0 MiB");
    EXPECT_EQ(human_bytes(uint64_t{3} << 30), "3.00 GiB");
}

} // namespace
} // namespace hs::cli
