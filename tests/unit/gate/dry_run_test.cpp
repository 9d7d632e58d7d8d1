#include "core/error.hpp"
#include "gate/dry_run.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::gate {
namespace {

namespace fs = std::filesystem;

using Strings = std::vector<std::string>;

const fs::path k_data = fs::path(HS_TEST_DATA) / "dryrun";

const std::string k_hello = "/nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello";
const std::string k_hello_drv = "/nix/store/76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv";
const std::string k_leaf_drv = "/nix/store/b1s1agq35q9fn6pfd5frvq39vjxcaa5h-bad-leaf.drv";
const std::string k_mid_drv = "/nix/store/4d6036pbqyd4n0gls08lqa9zxaj3lmqp-mid.drv";
const std::string k_top_drv = "/nix/store/jzypq3liijznyjv5k4dx0z66nq14lyv0-top.drv";
const std::string k_multi_dev = "/nix/store/3kqxjwbzmw41jbmwy97rk9l7ybg38f75-multi-dev";
const std::string k_multi_lib = "/nix/store/q26q8rn4sns2dn2qvccmpjilpg5lwni5-multi-lib";

using test::read_file;

DryRun parse_file(std::string_view name) {
    return parse_dry_run(read_file(k_data / name));
}

std::string error_of(std::string_view text) {
    try {
        parse_dry_run(text);
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ExitCode::usage);
        return error.what();
    }
    ADD_FAILURE() << "no hs::Error thrown";
    return {};
}

TEST(DryRun, ParsesRealBuildOfWholeClosure) {
    const Strings all{k_hello_drv, k_leaf_drv, k_mid_drv, k_top_drv};
    for (const auto* name :
         {"real-nix-store-top-nothing-built.txt", "real-nix-build-top-nothing-built.txt"}) {
        SCOPED_TRACE(name);
        const auto dry = parse_file(name);
        EXPECT_EQ(dry.will_build, all);
        EXPECT_TRUE(dry.will_fetch.empty());
    }
}

TEST(DryRun, ParsesRealBuildAfterALeafWasBuilt) {
    const auto dry = parse_file("real-nix-store-top-hello-built.txt");
    EXPECT_EQ(dry.will_build, (Strings{k_leaf_drv, k_mid_drv, k_top_drv}));
    EXPECT_TRUE(dry.will_fetch.empty());
}

TEST(DryRun, ParsesRealSingleDerivation) {
    const auto dry = parse_file("real-nix-store-one-derivation.txt");
    EXPECT_EQ(dry.will_build, Strings{k_leaf_drv});
    EXPECT_TRUE(dry.will_fetch.empty());
}

TEST(DryRun, ParsesRealBuildAndFetch) {
    const auto dry = parse_file("real-nix-build-top-fetch-one.txt");
    EXPECT_EQ(dry.will_build, (Strings{k_leaf_drv, k_mid_drv, k_top_drv}));
    EXPECT_EQ(dry.will_fetch, Strings{k_hello});
}

TEST(DryRun, ParsesRealFetchOfSeveralPaths) {
    const auto dry = parse_file("real-nix-build-multi-user-fetch-two.txt");
    EXPECT_EQ(dry.will_build,
              Strings{"/nix/store/xwd03w1h2xi3zgd7zxy39nf1f2qrm2h9-multi-user.drv"});
    EXPECT_EQ(dry.will_fetch, (Strings{k_multi_dev, k_multi_lib}));
}

TEST(DryRun, ParsesRealFetchOnly) {
    const auto dry = parse_file("real-nix-build-hello-fetch-only.txt");
    EXPECT_TRUE(dry.will_build.empty());
    EXPECT_EQ(dry.will_fetch, Strings{k_hello});
}

TEST(DryRun, RejectsRealNothingToDoAsEmpty) {
    // Nix prints nothing when nothing is to be built or fetched, and stdout
    // (where the report is not) is empty too: the gate cannot tell them
    // apart, so an empty text passes nothing.
    EXPECT_TRUE(read_file(k_data / "real-nix-build-hello-valid.txt").empty());
    EXPECT_EQ(error_of(read_file(k_data / "real-nix-build-hello-valid.txt")),
              "dry-run output is empty: Nix prints its dry-run report on stderr (2>&1), and "
              "prints nothing when nothing is to be built or fetched");
}

TEST(DryRun, UnknownPathsAloneAreAnHonestNothingToBuild) {
    const auto dry = parse_file("real-nix-store-unknown-path.txt");
    EXPECT_TRUE(dry.will_build.empty());
    EXPECT_TRUE(dry.will_fetch.empty());
}

TEST(DryRun, RejectsRealErrorLine) {
    EXPECT_EQ(error_of(read_file(k_data / "real-nix-build-missing-attribute.txt")),
              "dry-run output line 1: Nix reported an error: 'error: attribute "
              "'noSuchAttribute' in selection path 'noSuchAttribute' not found'");
}

TEST(DryRun, RejectsErrorAfterAList) {
    EXPECT_EQ(error_of(read_file(k_data / "bad-error-after-list.txt")),
              "dry-run output line 3: Nix reported an error: 'error: some later failure'");
}

TEST(DryRun, SkipsRealTraceLine) {
    const auto dry = parse_file("real-nix-build-top-trace.txt");
    EXPECT_EQ(dry.will_build, (Strings{k_hello_drv, k_leaf_drv, k_mid_drv, k_top_drv}));
}

TEST(DryRun, RejectsRealVerboseLines) {
    EXPECT_EQ(error_of(read_file(k_data / "real-nix-build-top-verbose.txt")),
              "dry-run output line 1: 'instantiated 'hello' -> "
              "'/nix/store/76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv'' is not part of a Nix "
              "dry-run report");
}

TEST(DryRun, SkipsNixMessagesAndTheirContinuationLines) {
    const auto dry = parse_file("hand-messages-around-list.txt");
    EXPECT_EQ(dry.will_build, (Strings{k_leaf_drv, k_mid_drv}));
    EXPECT_EQ(dry.will_fetch, Strings{k_hello});
}

TEST(DryRun, RejectsGarbage) {
    EXPECT_EQ(error_of("garbage\n"),
              "dry-run output line 1: 'garbage' is not part of a Nix dry-run report");
    EXPECT_EQ(error_of("this derivation will be built:\n  " + k_top_drv + "\nDone.\n"),
              "dry-run output line 3: 'Done.' is not part of a Nix dry-run report");
    EXPECT_EQ(error_of("@nix {\"action\":\"msg\"}\n"),
              "dry-run output line 1: '@nix {\"action\":\"msg\"}' is not part of a Nix dry-run "
              "report");
}

TEST(DryRun, RejectsMessagesWithoutAList) {
    // What `nix-build --quiet --dry-run` leaves: warnings, no list.
    EXPECT_EQ(error_of("warning: you did not specify '--add-root'\n\n"),
              "dry-run output has no list of what will be built or fetched, only messages (Nix's "
              "--quiet hides the list; Nix prints none when nothing is to be built or fetched)");
    EXPECT_EQ(error_of("\n\n\x1b[K\n"),
              "dry-run output is empty: Nix prints its dry-run report on stderr (2>&1), and "
              "prints nothing when nothing is to be built or fetched");
}

TEST(DryRun, RejectsAListCutShort) {
    EXPECT_EQ(error_of(read_file(k_data / "bad-cut-short.txt")),
              "dry-run output line 1: 'these 4 derivations will be built:' is followed by 3 "
              "paths");
    EXPECT_EQ(error_of("this path will be fetched (1 KiB download, 2 KiB unpacked):\n"),
              "dry-run output line 1: 'this path will be fetched (1 KiB download, 2 KiB "
              "unpacked):' is followed by 0 paths");
    EXPECT_EQ(error_of("these derivations will be built:\n\n"),
              "dry-run output line 1: 'these derivations will be built:' is followed by 0 paths");
    EXPECT_EQ(
        error_of("this derivation will be built:\n  " + k_top_drv + "\n  " + k_mid_drv + "\n"),
        "dry-run output line 1: 'this derivation will be built:' is followed by 2 paths");
    EXPECT_EQ(
        error_of("these 18446744073709551616 derivations will be built:\n  " + k_top_drv + "\n"),
        "dry-run output line 1: 'these 18446744073709551616 derivations will be built:' "
        "is followed by 1 path");
}

TEST(DryRun, NamesTheOriginInMessages) {
    try {
        parse_dry_run("garbage", "dry-run output 'x.txt'");
        ADD_FAILURE() << "no error";
    } catch (const Error& error) {
        EXPECT_EQ(std::string(error.what()),
                  "dry-run output 'x.txt' line 1: 'garbage' is not part of a Nix dry-run report");
    }
}

TEST(DryRun, ParsesNix23WordingWithoutCounts) {
    const auto dry = parse_file("hand-nix-2.3.txt");
    EXPECT_EQ(dry.will_build, (Strings{k_leaf_drv, k_mid_drv, k_top_drv}));
    EXPECT_EQ(dry.will_fetch, (Strings{k_multi_dev, k_hello}));
}

TEST(DryRun, ParsesNix233SizesAndReadOnlyHint) {
    const auto dry = parse_file("hand-nix-2.33.txt");
    EXPECT_EQ(dry.will_build, Strings{k_top_drv});
    EXPECT_EQ(dry.will_fetch, (Strings{k_hello, k_multi_lib}));
}

TEST(DryRun, ParsesPreNix1Wording) {
    const auto dry = parse_file("hand-nix-0.16.txt");
    EXPECT_EQ(dry.will_build, Strings{k_mid_drv});
    EXPECT_EQ(dry.will_fetch, Strings{k_hello});
}

TEST(DryRun, StripsColoursAndSkipsNoise) {
    const auto dry = parse_file("hand-ansi-and-noise.txt");
    EXPECT_EQ(dry.will_build, (Strings{k_leaf_drv, k_mid_drv}));
    EXPECT_EQ(dry.will_fetch, Strings{k_hello});
}

TEST(DryRun, KeepsLastVersionOfRewrittenLine) {
    const auto dry = parse_file("hand-progress-bar.txt");
    EXPECT_EQ(dry.will_build, Strings{k_top_drv});
    EXPECT_TRUE(dry.will_fetch.empty());
}

TEST(DryRun, ParsesLastLineWithoutNewline) {
    EXPECT_EQ(parse_file("hand-no-final-newline.txt").will_build, Strings{k_top_drv});
}

TEST(DryRun, RejectsEmptyText) {
    EXPECT_EQ(error_of(""),
              "dry-run output is empty: Nix prints its dry-run report on stderr (2>&1), and "
              "prints nothing when nothing is to be built or fetched");
}

TEST(DryRun, RejectsMalformedPathNamingTheLine) {
    EXPECT_EQ(error_of(read_file(k_data / "bad-short-hash.txt")),
              "dry-run output line 3: '/nix/store/abc-mid.drv' is not a store path: expected "
              "<32 nix32 characters>-<name>");
}

TEST(DryRun, RejectsOutputPathToBeBuilt) {
    EXPECT_EQ(error_of(read_file(k_data / "bad-not-drv.txt")),
              "dry-run output line 3: '" + k_hello + "' is to be built but is not a .drv");
}

TEST(DryRun, RejectsFetchedPathOutsideTheStore) {
    EXPECT_EQ(error_of(read_file(k_data / "bad-fetch-path.txt")),
              "dry-run output line 3: '/tmp/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello' is not a "
              "store path: not in /nix/store");
}

TEST(DryRun, RejectsTextAfterPath) {
    EXPECT_EQ(error_of(read_file(k_data / "bad-text-after-path.txt")),
              "dry-run output line 2: '" + k_top_drv +
                  " (maybe)' is not a store path: name has a character outside "
                  "[0-9a-zA-Z+-._?=]");
}

TEST(DryRun, QuotesControlBytesInMessages) {
    EXPECT_EQ(error_of("this derivation will be built:\n  /nix/store/\x07\n"),
              "dry-run output line 2: '/nix/store/\\x07' is not a store path: expected <32 "
              "nix32 characters>-<name>");
}

TEST(DryRun, RecognisesEveryHeaderWording) {
    // Each header with as many paths as it announces (one when it has no count).
    const std::vector<std::pair<std::string, size_t>> build_headers = {
        {"this derivation will be built:", 1},
        {"these derivations will be built:", 1},
        {"these 1 derivations will be built:", 1},
        {"these 12 derivations will be built:", 12},
        {"the following derivations will be built:", 1}};
    for (const auto& [header, count] : build_headers) {
        SCOPED_TRACE(header);
        std::string text = header + "\n";
        for (size_t i = 0; i < count; ++i) {
            text += "  " + k_top_drv + "\n";
        }
        EXPECT_EQ(parse_dry_run(text).will_build, Strings(count, k_top_drv));
    }
    const std::vector<std::pair<std::string, size_t>> fetch_headers = {
        {"this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):", 1},
        {"these paths will be fetched (0.00 MiB download, 0.00 MiB unpacked):", 1},
        {"these 2 paths will be fetched (13.0 GiB download, 35.7 GiB unpacked):", 2},
        {"the following paths will be downloaded/copied (0.01 MiB):", 1}};
    for (const auto& [header, count] : fetch_headers) {
        SCOPED_TRACE(header);
        std::string text = header + "\n";
        for (size_t i = 0; i < count; ++i) {
            text += "  " + k_hello + "\n";
        }
        EXPECT_EQ(parse_dry_run(text).will_fetch, Strings(count, k_hello));
    }
    for (const auto* header :
         {"don't know how to build these paths:",
          "don't know how to build these paths (may be caused by read-only store access):"}) {
        SCOPED_TRACE(header);
        const auto dry = parse_dry_run(header + ("\n  " + k_hello + "\n"));
        EXPECT_TRUE(dry.will_build.empty());
        EXPECT_TRUE(dry.will_fetch.empty());
    }
}

TEST(DryRun, RejectsNearMissHeaders) {
    for (const auto* header :
         {"these x derivations will be built:", "these  derivations will be built:",
          "this derivation will be built", "these 2 paths will be fetched:",
          "these 2 derivations will be built: soon", "don't know how to build these paths",
          "building '/nix/store/jzypq3liijznyjv5k4dx0z66nq14lyv0-top.drv'..."}) {
        SCOPED_TRACE(header);
        EXPECT_EQ(error_of(header + ("\n  " + k_top_drv + "\n")),
                  "dry-run output line 1: " + quote(header) +
                      " is not part of a Nix dry-run report");
    }
    EXPECT_EQ(error_of("error: these 2 derivations will be built:\n"),
              "dry-run output line 1: Nix reported an error: 'error: these 2 derivations will "
              "be built:'");
}

TEST(DryRun, ChecksPathsOfUnbuildableList) {
    EXPECT_EQ(error_of("don't know how to build these paths:\n  not a path\n"),
              "dry-run output line 2: 'not a path' is not a store path: not in /nix/store");
}

TEST(DryRun, EndsSectionAtBlankLine) {
    EXPECT_EQ(
        error_of("this derivation will be built:\n  " + k_top_drv + "\n\n  " + k_mid_drv + "\n"),
        "dry-run output line 4: '" + k_mid_drv +
            "' is not part of a Nix dry-run report (no list above it)");
}

} // namespace
} // namespace hs::gate
