#include "core/aterm.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::core {
namespace {

namespace fs = std::filesystem;

using Strings = std::vector<std::string>;
using Env = std::vector<std::pair<std::string, std::string>>;

const fs::path k_data = fs::path(HS_TEST_DATA) / "drv";

using test::read_file;

std::string real(std::string_view basename) {
    return read_file(k_data / "real" / basename);
}

std::string hand(std::string_view name) {
    return read_file(k_data / "hand" / name);
}

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<fs::path> good_files() {
    auto files = files_in(k_data / "real");
    const auto hand_good = files_in(k_data / "hand" / "good");
    files.insert(files.end(), hand_good.begin(), hand_good.end());
    return files;
}

// The message of the hs::Error that fn throws; fails the test if it throws
// anything else or nothing.
template <class Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ExitCode::usage) << error.what();
        return error.what();
    }
    ADD_FAILURE() << "no hs::Error thrown";
    return {};
}

std::string derivation_error(std::string_view text) {
    return error_of([&] { parse_derivation(text); });
}

std::string paths_error(std::string_view text) {
    return error_of([&] { parse_input_drv_paths(text); });
}

Strings paths_of(const Derivation& drv) {
    Strings paths;
    for (const auto& input : drv.input_drvs) {
        paths.push_back(input.path);
    }
    return paths;
}

// depth DrvWithVersion nodes nested inside each other.
std::string nested_dynamic(size_t depth) {
    std::string text =
        R"(DrvWithVersion("xp-dyn-drv",[],[("/nix/store/l9r346p3d25vs4g5v37f3r3f28js97kb-p.drv",)";
    for (size_t i = 0; i < depth; ++i) {
        text += R"(([],[("out",)";
    }
    text += R"(["out"])";
    for (size_t i = 0; i < depth; ++i) {
        text += ")])";
    }
    return text + R"()],[],"","",[],[]))";
}

TEST(Aterm, ParsesRealHello) {
    const auto drv = parse_derivation(real("76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv"));
    EXPECT_FALSE(drv.version.has_value());
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].name, "out");
    EXPECT_EQ(drv.outputs[0].path, "/nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello");
    EXPECT_EQ(drv.outputs[0].hash_algo, "");
    EXPECT_EQ(drv.outputs[0].hash, "");
    EXPECT_TRUE(drv.input_drvs.empty());
    EXPECT_TRUE(drv.input_srcs.empty());
    EXPECT_EQ(drv.system, "x86_64-linux");
    EXPECT_EQ(drv.builder, "/bin/sh");
    EXPECT_EQ(drv.args, (Strings{"-c", "echo hi > $out"}));
    EXPECT_EQ(drv.env, (Env{{"builder", "/bin/sh"},
                            {"name", "hello"},
                            {"out", "/nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello"},
                            {"system", "x86_64-linux"}}));
}

TEST(Aterm, ParsesRealInputDrvsOfMid) {
    const auto text = real("4d6036pbqyd4n0gls08lqa9zxaj3lmqp-mid.drv");
    const auto drv = parse_derivation(text);
    ASSERT_EQ(drv.input_drvs.size(), 2U);
    EXPECT_EQ(drv.input_drvs[0].path, "/nix/store/76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv");
    EXPECT_EQ(drv.input_drvs[0].outputs, Strings{"out"});
    EXPECT_FALSE(drv.input_drvs[0].has_dynamic_outputs);
    EXPECT_EQ(drv.input_drvs[1].path, "/nix/store/b1s1agq35q9fn6pfd5frvq39vjxcaa5h-bad-leaf.drv");
    EXPECT_EQ(drv.input_drvs[1].outputs, Strings{"out"});
    EXPECT_EQ(drv.args,
              (Strings{"-c", "echo /nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello "
                             "/nix/store/p9dvbxk4b9v627p4w4vylhp9w8dis0vf-bad-leaf > $out"}));
    EXPECT_EQ(parse_input_drv_paths(text),
              (Strings{"/nix/store/76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv",
                       "/nix/store/b1s1agq35q9fn6pfd5frvq39vjxcaa5h-bad-leaf.drv"}));
}

TEST(Aterm, ParsesRealInputDrvsOfTop) {
    const auto text = real("jzypq3liijznyjv5k4dx0z66nq14lyv0-top.drv");
    EXPECT_EQ(parse_input_drv_paths(text),
              Strings{"/nix/store/4d6036pbqyd4n0gls08lqa9zxaj3lmqp-mid.drv"});
    const auto drv = parse_derivation(text);
    EXPECT_EQ(drv.outputs[0].path, "/nix/store/0hpl6zqr0z63i1w7ndwlsrccj550pvmb-top");
}

TEST(Aterm, ParsesRealMultipleOutputs) {
    const auto drv = parse_derivation(real("q2j83lrz22m5yyzy4wcf2rpxlysxmwkk-multi.drv"));
    ASSERT_EQ(drv.outputs.size(), 3U);
    EXPECT_EQ(drv.outputs[0].name, "dev");
    EXPECT_EQ(drv.outputs[0].path, "/nix/store/3kqxjwbzmw41jbmwy97rk9l7ybg38f75-multi-dev");
    EXPECT_EQ(drv.outputs[1].name, "lib");
    EXPECT_EQ(drv.outputs[1].path, "/nix/store/q26q8rn4sns2dn2qvccmpjilpg5lwni5-multi-lib");
    EXPECT_EQ(drv.outputs[2].name, "out");
    EXPECT_EQ(drv.outputs[2].path, "/nix/store/l97mphrpphpgfhk83050bqlhvjfvxfba-multi");
    ASSERT_EQ(drv.env.size(), 7U);
    EXPECT_EQ(drv.env[5], (std::pair<std::string, std::string>{"outputs", "out dev lib"}));
}

TEST(Aterm, ParsesRealInputWantingSomeOutputs) {
    const auto drv = parse_derivation(real("xwd03w1h2xi3zgd7zxy39nf1f2qrm2h9-multi-user.drv"));
    ASSERT_EQ(drv.input_drvs.size(), 1U);
    EXPECT_EQ(drv.input_drvs[0].path, "/nix/store/q2j83lrz22m5yyzy4wcf2rpxlysxmwkk-multi.drv");
    EXPECT_EQ(drv.input_drvs[0].outputs, (Strings{"dev", "lib"}));
}

TEST(Aterm, ParsesRealFixedOutputFlat) {
    const auto drv = parse_derivation(real("l0cbgxxwqacn4y0iq97yk45ng8yd4h3g-fixed-flat.txt.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].path, "/nix/store/25r1kw8s3fhhkx8092x5z8n9q2zqffg5-fixed-flat.txt");
    EXPECT_EQ(drv.outputs[0].hash_algo, "sha256");
    EXPECT_EQ(drv.outputs[0].hash,
              "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4");
}

TEST(Aterm, ParsesRealFixedOutputRecursive) {
    const auto drv = parse_derivation(real("jh08kyp5yxspmba3vqjagvj37ifhb2n7-fixed-recursive.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].path, "/nix/store/p35w254pibih2v4cnpfawd92annrfh50-fixed-recursive");
    EXPECT_EQ(drv.outputs[0].hash_algo, "r:sha256");
    EXPECT_EQ(drv.outputs[0].hash,
              "10551daed7fa467d0b58826e7eb9a0f2af7d693de319f2ef775fffcda244b9f6");
}

TEST(Aterm, ParsesRealInputSrcs) {
    const auto text = real("bih58lk3rvkb352rb6rs7yzlm6ff4v6b-with-src.drv");
    const auto drv = parse_derivation(text);
    EXPECT_EQ(drv.input_srcs, Strings{"/nix/store/7fkyl4dcd4wp3va6qyfxz7c7gac4dwp4-src.txt"});
    EXPECT_TRUE(drv.input_drvs.empty());
    EXPECT_TRUE(parse_input_drv_paths(text).empty());
}

TEST(Aterm, ParsesRealStructuredAttrs) {
    const auto drv = parse_derivation(real("62h9zw51pgyap2srrrmqiy5irfgd75rx-structured.drv"));
    EXPECT_EQ(drv.env, (Env{{"__json", R"({"builder":"/bin/sh","list":[1,"two",{"three":3}],)"
                                       R"("name":"structured","system":"x86_64-linux"})"},
                            {"out", "/nix/store/mpgky8ii4qwa3240k2lw3zznwd8h72rk-structured"}}));
}

TEST(Aterm, UnescapesRealEnvValue) {
    const auto drv = parse_derivation(real("jgb67v9ir9z57kv63cgs3n5vhf58bbsg-escapes.drv"));
    ASSERT_EQ(drv.env.size(), 5U);
    EXPECT_EQ(drv.env[4].first, "weird");
    EXPECT_EQ(drv.env[4].second,
              "quote\" backslash\\ newline\n tab\t cr\r ${x} \xc3\xa9 \xe2\x9c\x93");
}

TEST(Aterm, ParsesRealFloatingContentAddressed) {
    const auto drv = parse_derivation(real("d5y4abx3i33xgvnijnc23mmfgwabjw95-floating.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].name, "out");
    EXPECT_EQ(drv.outputs[0].path, "");
    EXPECT_EQ(drv.outputs[0].hash_algo, "r:sha256");
    EXPECT_EQ(drv.outputs[0].hash, "");
    EXPECT_EQ(drv.env[2], (std::pair<std::string, std::string>{
                              "out", "/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9"}));
}

TEST(Aterm, ParsesRealImpure) {
    const auto drv = parse_derivation(real("mhahf8385gxplwvvy59gghqnz38i4s89-impure.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].path, "");
    EXPECT_EQ(drv.outputs[0].hash_algo, "r:sha256");
    EXPECT_EQ(drv.outputs[0].hash, "impure");
}

TEST(Aterm, ParsesRealDeferred) {
    const auto drv = parse_derivation(real("bm48rpx08bgx2kd8jcvhddnccjaz7c4f-deferred.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].name, "out");
    EXPECT_EQ(drv.outputs[0].path, "");
    EXPECT_EQ(drv.outputs[0].hash_algo, "");
    EXPECT_EQ(drv.outputs[0].hash, "");
    EXPECT_EQ(paths_of(drv), Strings{"/nix/store/d5y4abx3i33xgvnijnc23mmfgwabjw95-floating.drv"});
}

TEST(Aterm, NameInEveryRealFixtureMatchesItsFileName) {
    const auto files = files_in(k_data / "real");
    ASSERT_GE(files.size(), 14U);
    for (const auto& file : files) {
        SCOPED_TRACE(file.string());
        const auto drv = parse_derivation(read_file(file));
        const auto basename = file.filename().string();
        const auto name = basename.substr(33, basename.size() - 33 - 4);
        const auto found = std::find_if(drv.env.begin(), drv.env.end(),
                                        [](const auto& pair) { return pair.first == "name"; });
        if (found != drv.env.end()) {
            EXPECT_EQ(found->second, name);
        } else {
            // Structured attrs keep the name inside __json.
            ASSERT_FALSE(drv.env.empty());
            EXPECT_NE(drv.env[0].second.find("\"name\":\"" + name + "\""), std::string::npos);
        }
    }
}

TEST(Aterm, StorePathOfEveryRealFixtureIsItsFileName) {
    // The files were written by Nix 2.8 under their store names, so the path
    // computed from the bytes must reproduce each name exactly.
    const auto files = files_in(k_data / "real");
    ASSERT_GE(files.size(), 14U);
    for (const auto& file : files) {
        SCOPED_TRACE(file.string());
        const auto text = read_file(file);
        std::string why;
        const auto path = derivation_store_path(parse_derivation(text), text, &why);
        ASSERT_TRUE(path) << why;
        EXPECT_EQ(*path, "/nix/store/" + file.filename().string());
    }
}

TEST(Aterm, StorePathDependsOnEveryByteAndReference) {
    const auto text = real("bih58lk3rvkb352rb6rs7yzlm6ff4v6b-with-src.drv");
    const auto drv = parse_derivation(text);
    const auto path = derivation_store_path(drv, text);
    ASSERT_TRUE(path);
    auto changed = text;
    changed[changed.find("echo")] = 'E';
    EXPECT_NE(derivation_store_path(parse_derivation(changed), changed), path);
    auto fewer_refs = drv;
    fewer_refs.input_srcs.clear();
    EXPECT_NE(derivation_store_path(fewer_refs, text), path);
}

TEST(Aterm, NameComesFromAnOutputPathWithoutANameVariable) {
    auto drv = parse_derivation(real("q2j83lrz22m5yyzy4wcf2rpxlysxmwkk-multi.drv"));
    std::erase_if(drv.env, [](const auto& pair) { return pair.first == "name"; });
    EXPECT_EQ(derivation_name(drv), "multi");
    // Only the "dev" output left: its path is named multi-dev.
    std::erase_if(drv.outputs, [](const auto& output) { return output.name != "dev"; });
    EXPECT_EQ(derivation_name(drv), "multi");
}

TEST(Aterm, StorePathNeedsAName) {
    // Structured attrs (name inside __json) and a floating output: no name.
    const std::string text =
        R"(Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],[("__json","{}")]))";
    std::string why;
    EXPECT_FALSE(derivation_store_path(parse_derivation(text), text, &why));
    EXPECT_EQ(why, "its name is neither a \"name\" variable nor in an output path");
    const std::string bad_name =
        R"(Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],[("name","a b")]))";
    EXPECT_FALSE(derivation_store_path(parse_derivation(bad_name), bad_name, &why));
    EXPECT_EQ(why, "its name 'a b' is not a valid store path name");
}

TEST(Aterm, PathsAgreeWithFullParseOnEveryGoodFixture) {
    for (const auto& file : good_files()) {
        SCOPED_TRACE(file.string());
        const auto text = read_file(file);
        EXPECT_EQ(parse_input_drv_paths(text), paths_of(parse_derivation(text)));
    }
}

TEST(Aterm, ParsesDynamicOutputs) {
    const auto text = hand("good/dyn-consumer.drv");
    const auto drv = parse_derivation(text);
    EXPECT_EQ(drv.version, "xp-dyn-drv");
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].name, "out");
    EXPECT_EQ(drv.outputs[0].path, "");
    ASSERT_EQ(drv.input_drvs.size(), 1U);
    EXPECT_EQ(drv.input_drvs[0].path, "/nix/store/l9r346p3d25vs4g5v37f3r3f28js97kb-producer.drv");
    EXPECT_EQ(drv.input_drvs[0].outputs, Strings{"out"});
    EXPECT_TRUE(drv.input_drvs[0].has_dynamic_outputs);
    EXPECT_EQ(drv.input_srcs, Strings{"/nix/store/6cp643dzvlxxpkgbg5kzmwj47sam9zs2-src"});
    EXPECT_EQ(drv.system, "x86_64-linux");
    EXPECT_EQ(drv.builder, "/bin/sh");
    EXPECT_EQ(drv.args, (Strings{"-c", "echo"}));
    EXPECT_EQ(drv.env, (Env{{"name", "consumer"}}));
    EXPECT_EQ(parse_input_drv_paths(text),
              Strings{"/nix/store/l9r346p3d25vs4g5v37f3r3f28js97kb-producer.drv"});
}

TEST(Aterm, ParsesNestedDynamicOutputs) {
    const auto drv = parse_derivation(hand("good/dyn-nested.drv"));
    ASSERT_EQ(drv.input_drvs.size(), 3U);
    EXPECT_EQ(drv.input_drvs[0].path, "/nix/store/4lmnzx45iy43kwjqn1xna7z3dj8grrz5-gen.drv");
    EXPECT_TRUE(drv.input_drvs[0].outputs.empty());
    EXPECT_TRUE(drv.input_drvs[0].has_dynamic_outputs);
    EXPECT_EQ(drv.input_drvs[1].path, "/nix/store/awri8visnqf95b9ff0zbhj09spl83xrr-lib.drv");
    EXPECT_EQ(drv.input_drvs[1].outputs, (Strings{"dev", "out"}));
    EXPECT_FALSE(drv.input_drvs[1].has_dynamic_outputs);
    // The node form with an empty child list asks for nothing dynamic.
    EXPECT_EQ(drv.input_drvs[2].path, "/nix/store/rr6yr3c4dwa7m36096p14dq9hnpy77zx-other.drv");
    EXPECT_EQ(drv.input_drvs[2].outputs, Strings{"out"});
    EXPECT_FALSE(drv.input_drvs[2].has_dynamic_outputs);
    EXPECT_TRUE(drv.args.empty());
}

TEST(Aterm, ParsesTextHashedOutput) {
    const auto drv = parse_derivation(hand("good/text-sha256.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].path, "/nix/store/4lmnzx45iy43kwjqn1xna7z3dj8grrz5-gen.drv");
    EXPECT_EQ(drv.outputs[0].hash_algo, "text:sha256");
    EXPECT_EQ(drv.outputs[0].hash,
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Aterm, ParsesDeferredOutputs) {
    const auto drv = parse_derivation(hand("good/deferred.drv"));
    ASSERT_EQ(drv.outputs.size(), 2U);
    for (const auto& output : drv.outputs) {
        EXPECT_EQ(output.path, "");
        EXPECT_EQ(output.hash_algo, "");
        EXPECT_EQ(output.hash, "");
    }
    EXPECT_EQ(drv.outputs[0].name, "dev");
    EXPECT_EQ(drv.outputs[1].name, "out");
}

TEST(Aterm, ParsesGitHashedOutput) {
    const auto drv = parse_derivation(hand("good/git-sha1.drv"));
    ASSERT_EQ(drv.outputs.size(), 1U);
    EXPECT_EQ(drv.outputs[0].hash_algo, "git:sha1");
    EXPECT_EQ(drv.outputs[0].hash, "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567");
    EXPECT_EQ(drv.builder, "builtin:fetchurl");
}

TEST(Aterm, AppliesReaderEscapeRules) {
    const auto text = hand("good/escapes.drv");
    const auto drv = parse_derivation(text);
    ASSERT_EQ(drv.input_drvs.size(), 1U);
    EXPECT_EQ(drv.input_drvs[0].path, "/nix/store/r5aa819x9yn981068vcd1hdjglhs83nx-esc-in.drv");
    EXPECT_EQ(drv.input_drvs[0].outputs, Strings{"out"});
    EXPECT_EQ(drv.args, (Strings{"ax$b", "raw\nlf", "\\\"", "", ""}));
    EXPECT_EQ(drv.env, (Env{{"k\"ey", "\n\r\t\\"}, {"empty", ""}}));
    EXPECT_EQ(parse_input_drv_paths(text),
              Strings{"/nix/store/r5aa819x9yn981068vcd1hdjglhs83nx-esc-in.drv"});
}

TEST(Aterm, ParsesMinimalDerivation) {
    const auto drv = parse_derivation(hand("good/minimal.drv"));
    EXPECT_FALSE(drv.version.has_value());
    EXPECT_TRUE(drv.outputs.empty());
    EXPECT_TRUE(drv.input_drvs.empty());
    EXPECT_TRUE(drv.input_srcs.empty());
    EXPECT_EQ(drv.system, "");
    EXPECT_EQ(drv.builder, "");
    EXPECT_TRUE(drv.args.empty());
    EXPECT_TRUE(drv.env.empty());
}

TEST(Aterm, KeepsBytesOutsideTheEscapes) {
    std::string text = "Derive([],[],[],\"";
    text += std::string("nul\0byte\x7f\xff", 11);
    text += "\",\"\",[],[])";
    const auto drv = parse_derivation(text);
    EXPECT_EQ(drv.system, std::string("nul\0byte\x7f\xff", 11));
}

TEST(Aterm, RejectsEveryBadFixture) {
    const auto files = files_in(k_data / "hand" / "bad");
    ASSERT_GE(files.size(), 30U);
    for (const auto& file : files) {
        SCOPED_TRACE(file.string());
        const auto text = read_file(file);
        const auto message = derivation_error(text);
        EXPECT_NE(message.find(" at byte "), std::string::npos) << message;
        EXPECT_EQ(paths_error(text), message);
    }
}

struct BadCase {
    const char* file;
    const char* message;
};

// "input-not-drv.drv" -> "InputNotDrv", for readable test names.
std::string camel_case(std::string_view file) {
    std::string name;
    bool upper = true;
    for (const char c : file.substr(0, file.find('.'))) {
        if (c == '-') {
            upper = true;
        } else {
            name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
            upper = false;
        }
    }
    return name;
}

void PrintTo(const BadCase& bad, std::ostream* out) {
    *out << bad.file;
}

class AtermBadFixture : public testing::TestWithParam<BadCase> {};

TEST_P(AtermBadFixture, NamesTheProblemAndTheByte) {
    const auto text = hand(std::string("bad/") + GetParam().file);
    EXPECT_EQ(derivation_error(text), GetParam().message);
    EXPECT_EQ(paths_error(text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Messages, AtermBadFixture,
    testing::Values(
        BadCase{"empty.drv", "unexpected end of file at byte 0 (the file is empty)"},
        BadCase{"lowercase.drv", "expected 'Derive(' or 'DrvWithVersion(' at byte 0"},
        BadCase{"leading-space.drv", "expected 'Derive(' or 'DrvWithVersion(' at byte 0"},
        BadCase{"space-after-comma.drv", "expected '[' at byte 10"},
        BadCase{"space-in-tuple.drv", "expected '\"' at byte 15"},
        BadCase{"trailing-newline.drv", "unexpected data after the final ')' at byte 28"},
        BadCase{"trailing-garbage.drv", "unexpected data after the final ')' at byte 28"},
        BadCase{"nul-outside-string.drv", "unexpected data after the final ')' at byte 28"},
        BadCase{"missing-comma.drv", "expected ',' at byte 12"},
        BadCase{"missing-comma-in-list.drv", "expected ',' or ']' at byte 26"},
        BadCase{"trailing-comma-in-list.drv", "expected '\"' at byte 27"},
        BadCase{"missing-close-paren.drv", "unexpected end of file at byte 27"},
        BadCase{"unterminated-string.drv", "expected ',' at byte 31"},
        BadCase{"trailing-backslash.drv",
                "unexpected end of file at byte 28 in the string that starts at byte 23"},
        BadCase{"escaped-closing-quote.drv",
                "unexpected end of file at byte 34 in the string that starts at byte 23"},
        BadCase{"unquoted-string.drv", "expected '\"' at byte 16"},
        BadCase{"output-three-fields.drv", "expected ',' at byte 65"},
        BadCase{"output-five-fields.drv", "expected ')' at byte 68"},
        BadCase{"env-one-field.drv", "expected ',' at byte 33"},
        BadCase{"wrong-version.drv", "unknown derivation version 'x' at byte 16"},
        BadCase{"future-version.drv", "unknown derivation version 'xp-dyn-drv-2' at byte 16"},
        BadCase{"version-not-string.drv", "expected '\"' at byte 15"},
        BadCase{"dynamic-in-derive.drv", "dynamic outputs need DrvWithVersion at byte 71"},
        BadCase{"input-not-drv.drv",
                "inputDrvs path '/nix/store/6cp643dzvlxxpkgbg5kzmwj47sam9zs2-src' at byte 12 "
                "does not end in .drv"},
        BadCase{"input-not-store-path.drv",
                "inputDrvs path '/tmp/l9r346p3d25vs4g5v37f3r3f28js97kb-producer.drv' at byte 12 "
                "is not a store path: not in /nix/store"},
        BadCase{"input-bad-hash.drv",
                "inputDrvs path '/nix/store/e9r346p3d25vs4g5v37f3r3f28js97kb-producer.drv' at "
                "byte 12 is not a store path: hash is not 32 nix32 characters (0-9 a-z without e "
                "o u t)"},
        BadCase{"input-relative.drv",
                "inputDrvs path 'l9r346p3d25vs4g5v37f3r3f28js97kb-producer.drv' at byte 12 is "
                "not a store path: not in /nix/store"},
        BadCase{"input-outputs-not-list.drv", "expected '[' at byte 71"},
        BadCase{"dynamic-missing-children.drv", "expected ',' at byte 100"},
        BadCase{"dynamic-child-not-tuple.drv", "expected '(' at byte 102"},
        BadCase{"truncated-after-derive.drv", "unexpected end of file at byte 7"},
        BadCase{"truncated-in-path.drv",
                "unexpected end of file at byte 40 in the string that starts at byte 12"},
        BadCase{"truncated-in-env.drv",
                "unexpected end of file at byte 38 in the string that starts at byte 34"},
        BadCase{"truncated-before-last-paren.drv", "unexpected end of file at byte 43"}),
    [](const testing::TestParamInfo<BadCase>& param) { return camel_case(param.param.file); });

TEST(Aterm, SaysUnexpectedEndOfFileForEveryTruncation) {
    for (const auto& file : good_files()) {
        SCOPED_TRACE(file.string());
        const auto text = read_file(file);
        ASSERT_NO_THROW(parse_derivation(text));
        for (size_t size = 0; size < text.size(); ++size) {
            // An exact-size heap copy, so that a sanitizer build catches any
            // read past the end.
            const auto copy = std::make_unique<char[]>(size == 0 ? 1 : size);
            std::memcpy(copy.get(), text.data(), size);
            const std::string_view prefix(copy.get(), size);
            // Wherever the file is cut, the message says so, at its size.
            const std::string eof = "unexpected end of file at byte " + std::to_string(size);
            const auto message = derivation_error(prefix);
            EXPECT_TRUE(message.starts_with(eof)) << "size " << size << ": " << message;
            EXPECT_EQ(paths_error(prefix), message) << "size " << size;
        }
    }
}

TEST(Aterm, RejectsWhitespaceBetweenAnyTokens) {
    // Outside strings, a blank anywhere is an error.
    const auto text = real("4d6036pbqyd4n0gls08lqa9zxaj3lmqp-mid.drv");
    bool in_string = false;
    for (size_t i = 0; i <= text.size(); ++i) {
        if (!in_string) {
            for (const char blank : {' ', '\n', '\t', '\r'}) {
                std::string changed = text;
                changed.insert(i, 1, blank);
                EXPECT_THROW(parse_derivation(changed), Error) << "at " << i;
                EXPECT_THROW(parse_input_drv_paths(changed), Error) << "at " << i;
            }
        }
        // Real files have no escapes in this one, so quotes toggle.
        if (i < text.size() && text[i] == '"') {
            in_string = !in_string;
        }
    }
}

TEST(Aterm, AcceptsDynamicOutputsNestedSixtyFourDeep) {
    const auto drv = parse_derivation(nested_dynamic(k_max_dynamic_output_depth));
    ASSERT_EQ(drv.input_drvs.size(), 1U);
    EXPECT_TRUE(drv.input_drvs[0].has_dynamic_outputs);
    EXPECT_EQ(parse_input_drv_paths(nested_dynamic(k_max_dynamic_output_depth)).size(), 1U);
}

TEST(Aterm, RejectsDynamicOutputsNestedDeeperThanSixtyFour) {
    const auto text = nested_dynamic(k_max_dynamic_output_depth + 1);
    const auto message = derivation_error(text);
    EXPECT_TRUE(message.starts_with("dynamic outputs nested deeper than 64 at byte ")) << message;
    EXPECT_EQ(paths_error(text), message);
    // Far deeper input must not exhaust the stack either.
    EXPECT_THROW(parse_input_drv_paths(nested_dynamic(100000)), Error);
}

TEST(Aterm, RejectsAnInputDrvPathWithAnEscapedQuote) {
    const std::string text =
        R"(Derive([],[("/nix/store/l9r346p3d25vs4g5v37f3r3f28js97kb-a\"b.drv",["out"])],[],"","",[],[]))";
    EXPECT_EQ(derivation_error(text),
              "inputDrvs path '/nix/store/l9r346p3d25vs4g5v37f3r3f28js97kb-a\"b.drv' at byte 12 "
              "is not a store path: name has a character outside [0-9a-zA-Z+-._?=]");
}

TEST(Aterm, QuotesControlBytesInMessages) {
    const std::string text = "DrvWithVersion(\"\x1b[31m\",[],[],[],\"\",\"\",[],[])";
    EXPECT_EQ(derivation_error(text), "unknown derivation version '\\x1b[31m' at byte 16");
}

} // namespace
} // namespace hs::core
