#include "support.hpp"
#include "sync/hydra_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::sync {
namespace {

using test::http_body;
using test::read_sample;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// A small valid build; tests replace parts of it.
constexpr std::string_view k_build =
    R"({"id":5,"finished":1,"buildstatus":0,"starttime":10,"stoptime":20,)"
    R"("drvpath":"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv","project":"p","jobset":"j",)"
    R"("job":"x.x86_64-linux","system":"x86_64-linux",)"
    R"("buildoutputs":{"out":{"path":"/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-x"}}})";

// k_build with the value of `key` replaced by `value` (raw JSON).
std::string with_field(std::string_view key, std::string_view value) {
    std::string json(k_build);
    const std::string needle = "\"" + std::string(key) + "\":";
    const size_t start = json.find(needle);
    EXPECT_NE(start, std::string::npos) << key;
    size_t end = start + needle.size();
    if (json[end] == '{') {
        int depth = 0;
        do {
            depth += json[end] == '{' ? 1 : json[end] == '}' ? -1 : 0;
            ++end;
        } while (depth > 0);
    } else if (json[end] == '"') {
        end = json.find('"', end + 1) + 1;
    } else {
        end = json.find_first_of(",}", end);
    }
    json.replace(start + needle.size(), end - start - needle.size(), value);
    return json;
}

// k_build without `key`.
std::string without_field(std::string_view key) {
    std::string json = with_field(key, "0");
    const std::string needle = "\"" + std::string(key) + "\":0";
    const size_t start = json.find(needle);
    const size_t end = start + needle.size();
    if (json[end] == ',') {
        json.erase(start, needle.size() + 1);
    } else {
        json.erase(start - 1, needle.size() + 1); // the last field: drop the comma before
    }
    return json;
}

// ---------------------------------------------------------------------------
// Builds

TEST(JsonParserBuild, ParsesSuccessfulBuildSample) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(read_sample("build-1-success.json"), build), "");
    EXPECT_EQ(build.id, 1);
    EXPECT_TRUE(build.finished);
    EXPECT_EQ(build.buildstatus, 0);
    EXPECT_EQ(build.starttime, 1735689690);
    EXPECT_EQ(build.stoptime, 1735689997);
    EXPECT_EQ(build.drvpath, "/nix/store/nis7dzwsiccj8wr4x6cw0ap8xmb5f94p-hello-2.12.1.drv");
    EXPECT_EQ(build.project, "nixpkgs");
    EXPECT_EQ(build.jobset, "trunk");
    EXPECT_EQ(build.job, "hello.x86_64-linux");
    EXPECT_EQ(build.system, "x86_64-linux");
    EXPECT_EQ(build.outputs,
              (Pairs{{"out", "/nix/store/8jirakmqcvps9gawxc90k16p8az91zwf-hello-2.12.1"}}));
}

TEST(JsonParserBuild, RestartedBuildIsUnfinishedWithStaleStatus) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(read_sample("build-46-restarted.json"), build), "");
    EXPECT_EQ(build.id, 46);
    EXPECT_FALSE(build.finished);
    EXPECT_EQ(build.buildstatus, 3);
    EXPECT_EQ(build.starttime, 1735696890);
    EXPECT_EQ(build.stoptime, 1735697512);
    EXPECT_EQ(build.job, "nixos.tests.flaky.x86_64-linux");
}

TEST(JsonParserBuild, UnfinishedBuildHasNullStatusAndTimes) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(read_sample("build-18-unfinished.json"), build), "");
    EXPECT_EQ(build.id, 18);
    EXPECT_FALSE(build.finished);
    EXPECT_EQ(build.buildstatus, std::nullopt);
    EXPECT_EQ(build.starttime, std::nullopt);
    EXPECT_EQ(build.stoptime, std::nullopt);
    EXPECT_EQ(build.drvpath, "/nix/store/ldyvqgqa8djwbr5r4zyrhinh89w1l7mk-libreoffice-7.6.6.3.drv");
}

TEST(JsonParserBuild, KeepsOutputsInDocumentOrder) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(read_sample("build-14-cached.json"), build), "");
    EXPECT_EQ(build.outputs,
              (Pairs{{"dev", "/nix/store/73vy4rbb8x512schkwp58pgz8iljyvip-zlib-1.3.1-dev"},
                     {"out", "/nix/store/f28q6pd4w8j3mfcgb6xqs418v1xr3j4j-zlib-1.3.1"}}));
}

TEST(JsonParserBuild, ParsesEveryBuildSample) {
    struct Sample {
        std::string file;
        int64_t id;
        bool finished;
        std::optional<int> buildstatus;
    };
    const std::vector<Sample> samples = {
        {"build-1-success.json", 1, true, 0},
        {"build-4-failed.json", 4, true, 1},
        {"build-6-timedout.json", 6, true, 7},
        {"build-7-depfailed.json", 7, true, 2},
        {"build-8-aborted.json", 8, true, 3},
        {"build-11-failedwithoutput.json", 11, true, 6},
        {"build-13-cancelled.json", 13, true, 4},
        {"build-14-cached.json", 14, true, 0},
        {"build-18-unfinished.json", 18, false, std::nullopt},
        {"build-19-products-metrics-releasename.json", 19, true, 0},
        {"build-46-restarted.json", 46, false, 3},
        {"hydra-api-yaml-example_build.json", 1, true, 0},
    };
    JsonParser parser;
    for (const auto& sample : samples) {
        SCOPED_TRACE(sample.file);
        core::BuildRecord build;
        ASSERT_EQ(parser.parse_build(read_sample(sample.file), build), "");
        EXPECT_EQ(build.id, sample.id);
        EXPECT_EQ(build.finished, sample.finished);
        EXPECT_EQ(build.buildstatus, sample.buildstatus);
        EXPECT_TRUE(build.drvpath.starts_with("/nix/store/")) << build.drvpath;
        EXPECT_TRUE(build.drvpath.ends_with(".drv")) << build.drvpath;
        EXPECT_FALSE(build.project.empty());
        EXPECT_FALSE(build.jobset.empty());
        EXPECT_FALSE(build.job.empty());
        EXPECT_FALSE(build.system.empty());
        ASSERT_FALSE(build.outputs.empty());
        for (const auto& [name, path] : build.outputs) {
            EXPECT_TRUE(path.starts_with("/nix/store/")) << name;
        }
    }
}

TEST(JsonParserBuild, ParsesBuildFromHttpCapture) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(http_body(read_sample("build-4.http")), build), "");
    EXPECT_EQ(build.id, 4);
    EXPECT_EQ(build.buildstatus, 1);
    EXPECT_EQ(build.outputs.size(), 2u);
}

TEST(JsonParserBuild, RejectsManualSampleWithoutDrvpath) {
    // The Hydra manual's 2015 example has no drvpath; the index needs one.
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_EQ(parser.parse_build(read_sample("hydra-manual_build-24670686.json"), build),
              "missing field 'drvpath'");
}

TEST(JsonParserBuild, RejectsBuildStepObject) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_EQ(parser.parse_build(read_sample("build-18-step-1-busy.json"), build),
              "missing field 'id'");
}

TEST(JsonParserBuild, NamesEachMissingRequiredField) {
    JsonParser parser;
    for (const char* key : {"id", "finished", "drvpath", "project", "jobset", "job", "system"}) {
        SCOPED_TRACE(key);
        core::BuildRecord build;
        EXPECT_EQ(parser.parse_build(without_field(key), build),
                  "missing field '" + std::string(key) + "'");
    }
}

TEST(JsonParserBuild, OptionalFieldsMayBeAbsent) {
    JsonParser parser;
    std::string json = without_field("buildstatus");
    core::BuildRecord build;
    build.buildstatus = 7;
    build.outputs = {{"stale", "x"}};
    ASSERT_EQ(parser.parse_build(json, build), "");
    EXPECT_EQ(build.buildstatus, std::nullopt);
    EXPECT_EQ(build.outputs.size(), 1u);

    json = k_build;
    json.replace(json.find(R"(,"buildoutputs")"), std::string::npos, "}");
    ASSERT_EQ(parser.parse_build(json, build), "");
    EXPECT_TRUE(build.outputs.empty());
}

TEST(JsonParserBuild, NullOutputPathBecomesEmpty) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(
        parser.parse_build(
            with_field("buildoutputs", R"({"out":{"path":null},"dev":{"path":"/nix/store/d"}})"),
            build),
        "");
    EXPECT_EQ(build.outputs, (Pairs{{"out", ""}, {"dev", "/nix/store/d"}}));
}

TEST(JsonParserBuild, AcceptsBooleanFinished) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(with_field("finished", "true"), build), "");
    EXPECT_TRUE(build.finished);
    ASSERT_EQ(parser.parse_build(with_field("finished", "false"), build), "");
    EXPECT_FALSE(build.finished);
    ASSERT_EQ(parser.parse_build(with_field("finished", "0"), build), "");
    EXPECT_FALSE(build.finished);
}

TEST(JsonParserBuild, RejectsWrongTypes) {
    struct Case {
        std::string_view key;
        std::string_view value;
        std::string_view error;
    };
    const Case cases[] = {
        {"id", R"("5")", "field 'id': expected an integer"},
        {"id", "null", "field 'id': expected an integer"},
        {"id", "1.5", "field 'id': expected an integer"},
        {"id", "1e3", "field 'id': expected an integer"},
        {"id", "[5]", "field 'id': expected an integer"},
        {"finished", "2", "field 'finished': expected 0, 1 or a boolean"},
        {"finished", R"("1")", "field 'finished': expected 0, 1 or a boolean"},
        {"finished", "null", "field 'finished': expected 0, 1 or a boolean"},
        {"buildstatus", R"("0")", "field 'buildstatus': expected an integer or null"},
        {"buildstatus", "true", "field 'buildstatus': expected an integer or null"},
        {"starttime", "{}", "field 'starttime': expected an integer or null"},
        {"stoptime", "1.25", "field 'stoptime': expected an integer or null"},
        {"drvpath", "null", "field 'drvpath': expected a string"},
        {"drvpath", "7", "field 'drvpath': expected a string"},
        {"project", "[]", "field 'project': expected a string"},
        {"system", "{}", "field 'system': expected a string"},
        {"buildoutputs", "[]", "field 'buildoutputs': expected an object"},
        {"buildoutputs", R"({"out":"/nix/store/x"})",
         "field 'buildoutputs': output 'out': expected an object"},
        {"buildoutputs", R"({"out":{"path":5}})",
         "field 'buildoutputs': output 'out': field 'path': expected a string or null"},
        {"buildoutputs", R"({"out":{}})",
         "field 'buildoutputs': output 'out': missing field 'path'"},
    };
    JsonParser parser;
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.key) + "=" + std::string(c.value));
        core::BuildRecord build;
        EXPECT_EQ(parser.parse_build(with_field(c.key, c.value), build), c.error);
    }
}

TEST(JsonParserBuild, RejectsNumbersThatDoNotFit) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_EQ(parser.parse_build(with_field("id", "9223372036854775808"), build),
              "field 'id': number out of range");
    EXPECT_EQ(parser.parse_build(with_field("id", "-9223372036854775809"), build),
              "field 'id': number out of range");
    EXPECT_EQ(parser.parse_build(with_field("id", std::string(400, '9')), build),
              "field 'id': number out of range");
    EXPECT_EQ(parser.parse_build(with_field("buildstatus", "2147483648"), build),
              "field 'buildstatus': number out of range");
    EXPECT_EQ(parser.parse_build(with_field("buildstatus", "-2147483649"), build),
              "field 'buildstatus': number out of range");
    EXPECT_EQ(parser.parse_build(with_field("starttime", "18446744073709551616"), build),
              "field 'starttime': number out of range");

    ASSERT_EQ(parser.parse_build(with_field("id", "9223372036854775807"), build), "");
    EXPECT_EQ(build.id, INT64_MAX);
    ASSERT_EQ(parser.parse_build(with_field("buildstatus", "-2147483648"), build), "");
    EXPECT_EQ(build.buildstatus, INT32_MIN);
}

TEST(JsonParserBuild, RejectsMalformedNumbers) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_NE(parser.parse_build(with_field("id", "01"), build), "");
    EXPECT_NE(parser.parse_build(with_field("id", "1x"), build), "");
    EXPECT_NE(parser.parse_build(with_field("id", "-"), build), "");
    EXPECT_NE(parser.parse_build(with_field("buildstatus", "nul"), build), "");
    EXPECT_NE(parser.parse_build(with_field("finished", "tru"), build), "");
}

TEST(JsonParserBuild, RejectsDuplicateKnownKeys) {
    // Policy: a known key twice is an error (which one Hydra meant is unknown);
    // unknown keys may repeat.
    JsonParser parser;
    core::BuildRecord build;
    std::string json(k_build);
    json.insert(1, R"("id":6,)");
    EXPECT_EQ(parser.parse_build(json, build), "duplicate field 'id'");

    json = k_build;
    json.insert(1, R"("drvpath":"/nix/store/other.drv",)");
    EXPECT_EQ(parser.parse_build(json, build), "duplicate field 'drvpath'");

    json = k_build;
    json.insert(1, R"("priority":1,"priority":2,)");
    EXPECT_EQ(parser.parse_build(json, build), "");

    EXPECT_EQ(
        parser.parse_build(
            with_field("buildoutputs", R"({"out":{"path":"/a"},"out":{"path":"/b"}})"), build),
        "field 'buildoutputs': duplicate output 'out'");
    EXPECT_EQ(parser.parse_build(with_field("buildoutputs", R"({"out":{"path":"/a","path":null}})"),
                                 build),
              "field 'buildoutputs': output 'out': duplicate field 'path'");
}

TEST(JsonParserBuild, SkipsUnknownKeysOfAnyShape) {
    JsonParser parser;
    core::BuildRecord build;
    std::string json(k_build);
    json.insert(1, R"("jobsetevals":[1,2,{"a":[null,"}"]}],"buildproducts":{"1":{"x":null}},)"
                   R"("buildmetrics":null,"nixname":"\u00e9\"","priority":-1.5e10,)");
    ASSERT_EQ(parser.parse_build(json, build), "");
    EXPECT_EQ(build.id, 5);
}

TEST(JsonParserBuild, UnescapesKeysAndStrings) {
    JsonParser parser;
    core::BuildRecord build;
    std::string json = with_field("job", R"("a\"b\\c\u00e9\ud83d\ude00")");
    json.replace(json.find(R"("id")"), 4, R"("\u0069d")");
    ASSERT_EQ(parser.parse_build(json, build), "");
    EXPECT_EQ(build.id, 5);
    EXPECT_EQ(build.job, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(JsonParserBuild, RejectsTrailingContent) {
    JsonParser parser;
    core::BuildRecord build;
    const std::string json(k_build);
    EXPECT_EQ(parser.parse_build(json + " \n\t", build), "");
    EXPECT_NE(parser.parse_build(json + "{}", build), "");
    EXPECT_NE(parser.parse_build(json + "}", build), "");
    EXPECT_NE(parser.parse_build(json + "]", build), "");
    EXPECT_NE(parser.parse_build(json + " x", build), "");
    EXPECT_NE(parser.parse_build(json + "," + json, build), "");
    EXPECT_EQ(parser.parse_build(json + "{}", build),
              "invalid json: trailing content at byte " + std::to_string(json.size()));
}

TEST(JsonParserBuild, RejectsInvalidUtf8) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_EQ(parser.parse_build(with_field("job", "\"a\xff\""), build),
              "invalid json: invalid utf-8");
    std::string json(k_build);
    json.insert(1, "\"nixname\":\"\xc3\x28\",");
    EXPECT_EQ(parser.parse_build(json, build), "invalid json: invalid utf-8");
    // An overlong encoding of '/'.
    EXPECT_EQ(parser.parse_build(with_field("drvpath", "\"\xc0\xaf\""), build),
              "invalid json: invalid utf-8");
}

TEST(JsonParserBuild, QuotesEscapedKeysInMessages) {
    // Found by tests/fuzz/hydra_build: an unknown key with a bad value was
    // named raw, so "\u001b[2J" in a key reached the terminal as an escape
    // sequence when the sync printed the reason.
    JsonParser parser;
    core::BuildRecord build;
    std::string json(k_build);
    json.insert(1, R"("\u001b[2J\u0085":[1,],)");
    const std::string why = parser.parse_build(json, build);
    EXPECT_EQ(why.rfind("field '\\x1b[2J\\xc2\\x85': ", 0), 0u) << why;
    EXPECT_EQ(why.find('\x1b'), std::string::npos) << why;

    // The fuzzer's input: a raw DEL (JSON allows it unescaped) in a key.
    json = std::string(k_build);
    json.insert(1, "\"j\x7f"
                   "bsetevals\":[3,::100],");
    EXPECT_EQ(parser.parse_build(json, build), "field 'j\\x7fbsetevals': malformed structure");

    json = std::string(k_build);
    json.insert(1, R"("\u0069d":1,"bad\nkey":0,)");
    EXPECT_EQ(parser.parse_build(json, build), "duplicate field 'id'");
}

TEST(JsonParserBuild, ReadsOutputFieldsByTheirUnescapedNames) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(
        parser.parse_build(with_field("buildoutputs", R"({"o\u0075t":{"pa\u0074h":"/a"}})"), build),
        "");
    EXPECT_EQ(build.outputs, (Pairs{{"out", "/a"}}));
    EXPECT_EQ(
        parser.parse_build(
            with_field("buildoutputs", R"({"out":{"path":"/a"},"o\u0075t":{"path":"/b"}})"), build),
        "field 'buildoutputs': duplicate output 'out'");
    EXPECT_EQ(parser.parse_build(
                  with_field("buildoutputs", R"({"out":{"pa\u0074h":"/a","path":"/b"}})"), build),
              "field 'buildoutputs': output 'out': duplicate field 'path'");
}

TEST(JsonParserBuild, QuotesOutputAndOutputFieldNamesInMessages) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_EQ(parser.parse_build(with_field("buildoutputs", R"({"\u001b[2J":{"path":5}})"), build),
              "field 'buildoutputs': output '\\x1b[2J': field 'path': expected a string or null");
    EXPECT_EQ(parser.parse_build(
                  with_field("buildoutputs", R"({"out":{"path":"/a","\u0007x":[1,]}})"), build),
              "field 'buildoutputs': output 'out': field '\\x07x': malformed structure");
}

TEST(JsonParserBuild, RejectsInvalidEscapesAndControlCharacters) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_NE(parser.parse_build(with_field("job", R"("a\qb")"), build), "");
    EXPECT_NE(parser.parse_build(with_field("job", R"("\ud800")"), build), "");
    EXPECT_NE(parser.parse_build(with_field("job", "\"a\nb\""), build), "");
}

TEST(JsonParserBuild, RejectsEmptyAndNonObjectInput) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_EQ(parser.parse_build("", build), "invalid json: empty document");
    EXPECT_EQ(parser.parse_build(" \n ", build), "invalid json: empty document");
    EXPECT_EQ(parser.parse_build("[1]", build), "expected a json object");
    EXPECT_EQ(parser.parse_build("null", build), "expected a json object");
    EXPECT_EQ(parser.parse_build("\"x\"", build), "expected a json object");
    EXPECT_EQ(parser.parse_build("5", build), "expected a json object");
    EXPECT_NE(parser.parse_build("<!DOCTYPE html>", build), "");
}

TEST(JsonParserBuild, RejectsEveryTruncation) {
    const std::string json = read_sample("build-1-success.json");
    JsonParser parser;
    for (size_t size = 0; size < json.size(); ++size) {
        core::BuildRecord build;
        EXPECT_NE(parser.parse_build(std::string_view(json).substr(0, size), build), "")
            << "prefix of " << size << " bytes";
    }
}

TEST(JsonParserBuild, SurvivesDeepNesting) {
    JsonParser parser;
    core::BuildRecord build;
    const std::string open(10000, '[');
    const std::string close(10000, ']');
    EXPECT_NE(parser.parse_build(open, build), "");
    EXPECT_NE(parser.parse_build(open + close, build), "");
    EXPECT_NE(parser.parse_build(std::string(10000, '{'), build), "");
    EXPECT_NE(parser.parse_build(with_field("id", open + close), build), "");
    EXPECT_NE(
        parser.parse_build(with_field("buildoutputs", R"({"out":)" + open + close + "}"), build),
        "");
    // Unclosed nesting inside a skipped value breaks the document.
    std::string json(k_build);
    json.insert(1, R"("buildproducts":)" + open + ",");
    EXPECT_NE(parser.parse_build(json, build), "");
    // Unknown values are walked (and checked) to a bounded depth.
    json = k_build;
    json.insert(1, R"("buildproducts":)" + open + close + ",");
    EXPECT_EQ(parser.parse_build(json, build), "field 'buildproducts': nesting too deep");
    json = k_build;
    json.insert(1, R"("buildproducts":)" + std::string(60, '[') + std::string(60, ']') + ",");
    EXPECT_EQ(parser.parse_build(json, build), "");
}

TEST(JsonParserBuild, RejectsMalformedValuesItDoesNotKeep) {
    // On Demand alone would skip these by counting brackets.
    struct Case {
        std::string_view insert;
        std::string_view error;
    };
    const Case cases[] = {
        {R"("jobsetevals":,2],)", ""},
        {R"("buildmetrics":,},)", ""},
        {R"("jobsetevals":[1,,2],)", "field 'jobsetevals': malformed structure"},
        {R"("jobsetevals":[1,2,],)", ""},
        {R"("buildmetrics":{"a":1,},)", ""},
        {R"("buildmetrics":{"a"},)", ""},
        {R"("priority":tru,)", "field 'priority': invalid literal"},
        {R"("priority":nul,)", ""},
        {R"("priority":01,)", "field 'priority': invalid number"},
        {R"("priority":1.,)", "field 'priority': invalid number"},
        {R"("nixname":"\q",)", "field 'nixname': invalid string or escape"},
        {R"("nixname":"\ud800",)", "field 'nixname': invalid string or escape"},
        {R"("buildproducts":{"1":{"path":"\x"}},)",
         "field 'buildproducts': invalid string or escape"},
        {R"("buildproducts":{"\q":1},)", ""},
    };
    JsonParser parser;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.insert);
        std::string json(k_build);
        json.insert(1, c.insert);
        core::BuildRecord build;
        const std::string error = parser.parse_build(json, build);
        if (c.error.empty()) {
            EXPECT_NE(error, "");
        } else {
            EXPECT_EQ(error, c.error);
        }
    }
    core::BuildRecord build;
    EXPECT_NE(
        parser.parse_build(with_field("buildoutputs", R"({"out":{"path":"/a","x":[,]}})"), build),
        "");
    core::EvalRecord eval;
    EXPECT_NE(parser.parse_eval(R"({"id":1,"builds":[],"flake":nulll})", eval), "");
    EXPECT_NE(parser.parse_eval(R"({"id":1,"builds":[],"jobsetevalinputs":{"a":{"uri":[}}})", eval),
              "");
    core::EvalsPage page;
    EXPECT_NE(parser.parse_evals_page(R"({"evals":[],"first":?page=1})", page), "");
    EXPECT_EQ(parse_error_body(R"({"error":"x","detail":[1,,]})"), std::nullopt);
}

TEST(JsonParserBuild, ReusedRecordLosesStaleValues) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(read_sample("build-14-cached.json"), build), "");
    ASSERT_EQ(build.outputs.size(), 2u);
    ASSERT_EQ(parser.parse_build(read_sample("build-18-unfinished.json"), build), "");
    EXPECT_EQ(build.id, 18);
    EXPECT_EQ(build.buildstatus, std::nullopt);
    EXPECT_EQ(build.starttime, std::nullopt);
    EXPECT_EQ(build.outputs,
              (Pairs{{"out", "/nix/store/xyy077inlbrccd5c9ws204wcsary5g6s-libreoffice-7.6.6.3"}}));
    ASSERT_EQ(parser.parse_build(read_sample("build-4-failed.json"), build), "");
    EXPECT_EQ(build.id, 4);
    EXPECT_EQ(build.buildstatus, 1);
    EXPECT_EQ(build.outputs,
              (Pairs{{"dev", "/nix/store/w0j2nhaaanw29s7j2m41kvpqlz3c49mk-curl-8.6.0-dev"},
                     {"out", "/nix/store/79wlhvajr8bvly3abysz5a71v9lwacyy-curl-8.6.0"}}));
}

TEST(JsonParserBuild, ParserWorksAgainAfterAnError) {
    JsonParser parser;
    core::BuildRecord build;
    EXPECT_NE(parser.parse_build("{\"id\":", build), "");
    EXPECT_NE(parser.parse_build(with_field("id", "\"x\""), build), "");
    EXPECT_EQ(parser.parse_build(k_build, build), "");
    EXPECT_EQ(build.id, 5);
}

TEST(JsonParserBuild, ParsesLargeDocumentAfterSmallOnes) {
    JsonParser parser;
    core::BuildRecord build;
    ASSERT_EQ(parser.parse_build(k_build, build), "");
    std::string json(k_build);
    json.insert(1, R"("nixname":")" + std::string(1 << 20, 'n') + R"(",)");
    ASSERT_EQ(parser.parse_build(json, build), "");
    ASSERT_EQ(parser.parse_build(k_build, build), "");
    EXPECT_EQ(build.id, 5);
}

// ---------------------------------------------------------------------------
// Evals

TEST(JsonParserEval, ParsesEvalSample) {
    JsonParser parser;
    core::EvalRecord eval;
    ASSERT_EQ(parser.parse_eval(read_sample("eval-3.json"), eval), "");
    EXPECT_EQ(eval.id, 3);
    EXPECT_EQ(eval.timestamp, 1735696800);
    EXPECT_TRUE(eval.hasnewbuilds);
    EXPECT_EQ(eval.builds, (std::vector<int64_t>{1, 9, 12, 14, 15, 16, 17, 18, 19, 20, 46}));
    EXPECT_EQ(eval.inputs, (Pairs{{"nixpkgs", "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"}}));
}

TEST(JsonParserEval, ReadsHasNewBuildsZero) {
    JsonParser parser;
    core::EvalRecord eval;
    ASSERT_EQ(parser.parse_eval(read_sample("eval-4-hasnewbuilds0.json"), eval), "");
    EXPECT_EQ(eval.id, 4);
    EXPECT_FALSE(eval.hasnewbuilds);
    EXPECT_EQ(eval.builds.size(), 11u);
}

TEST(JsonParserEval, OldEvalWithoutTimestampUsesValueWhenNoRevision) {
    JsonParser parser;
    core::EvalRecord eval;
    eval.timestamp = 99;
    ASSERT_EQ(parser.parse_eval(read_sample("hydra-cli_eval-1525352.json"), eval), "");
    EXPECT_EQ(eval.id, 1525352);
    EXPECT_EQ(eval.timestamp, 0);
    EXPECT_TRUE(eval.hasnewbuilds);
    EXPECT_EQ(eval.builds.size(), 23u);
    EXPECT_EQ(eval.builds.front(), 94858417);
    EXPECT_EQ(eval.inputs, (Pairs{{"nix", "26bc876ae6e7ceff8b37ba5c2c1043ce216cf384"},
                                  {"officialRelease", "false"},
                                  {"nixpkgs", "a7e559a5504572008567383c3dc8e142fa7a8633"}}));
}

TEST(JsonParserEval, ParsesEveryEvalSample) {
    JsonParser parser;
    core::EvalRecord eval;
    ASSERT_EQ(parser.parse_eval(read_sample("eval-1.json"), eval), "");
    EXPECT_EQ(eval.id, 1);
    EXPECT_EQ(eval.builds, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(eval.inputs, (Pairs{{"nixpkgs", "0b7f5a1c3e2d4f6a8b9c0d1e2f3a4b5c6d7e8f90"}}));
    for (const char* file : {"acceptlist-eval-3.http", "contenttype-only-eval-3.http"}) {
        SCOPED_TRACE(file);
        ASSERT_EQ(parser.parse_eval(http_body(read_sample(file)), eval), "");
        EXPECT_EQ(eval.id, 3);
        EXPECT_EQ(eval.timestamp, 1735696800);
        EXPECT_EQ(eval.builds.size(), 11u);
    }
}

TEST(JsonParserEval, HasNewBuildsDefaultsToTrue) {
    JsonParser parser;
    core::EvalRecord eval;
    eval.hasnewbuilds = false;
    eval.inputs = {{"stale", "x"}};
    ASSERT_EQ(parser.parse_eval(R"({"id":7,"builds":[]})", eval), "");
    EXPECT_EQ(eval.id, 7);
    EXPECT_TRUE(eval.hasnewbuilds);
    EXPECT_TRUE(eval.builds.empty());
    EXPECT_TRUE(eval.inputs.empty());
    ASSERT_EQ(parser.parse_eval(R"({"id":7,"builds":[],"hasnewbuilds":false})", eval), "");
    EXPECT_FALSE(eval.hasnewbuilds);
}

TEST(JsonParserEval, InputWithoutRevisionOrValueIsEmpty) {
    JsonParser parser;
    core::EvalRecord eval;
    ASSERT_EQ(
        parser.parse_eval(R"({"id":1,"builds":[2],"jobsetevalinputs":{)"
                          R"("a":{"revision":null,"value":null,"type":"build","dependency":9},)"
                          R"("b":{"type":"x"},)"
                          R"("c":{"value":"v","revision":"r"},)"
                          R"("d":{"value":"","revision":null}}})",
                          eval),
        "");
    EXPECT_EQ(eval.inputs, (Pairs{{"a", ""}, {"b", ""}, {"c", "r"}, {"d", ""}}));
}

TEST(JsonParserEval, ReadsInputFieldsByTheirUnescapedNames) {
    JsonParser parser;
    core::EvalRecord eval;
    ASSERT_EQ(parser.parse_eval(R"({"id":1,"builds":[],"jobsetevalinputs":{)"
                                R"("\u0061":{"valu\u0065":"v","r\u0065vision":"r"}}})",
                                eval),
              "");
    EXPECT_EQ(eval.inputs, (Pairs{{"a", "r"}}));
    EXPECT_EQ(parser.parse_eval(R"({"id":1,"builds":[],"jobsetevalinputs":{)"
                                R"("a":{"value":"x","valu\u0065":"y"}}})",
                                eval),
              "field 'jobsetevalinputs': input 'a': duplicate field 'value'");
}

TEST(JsonParserEval, QuotesInputAndInputFieldNamesInMessages) {
    JsonParser parser;
    core::EvalRecord eval;
    EXPECT_EQ(parser.parse_eval(R"({"id":1,"builds":[],"jobsetevalinputs":{)"
                                R"("\u0085a":{"revision":[]}}})",
                                eval),
              "field 'jobsetevalinputs': input '\\xc2\\x85a': field 'revision': expected a string "
              "or null");
    EXPECT_EQ(parser.parse_eval(R"({"id":1,"builds":[],"jobsetevalinputs":{)"
                                R"("a":{"\u001bt":tru}}})",
                                eval),
              "field 'jobsetevalinputs': input 'a': field '\\x1bt': invalid literal");
}

TEST(JsonParserEval, RejectsBadEvals) {
    struct Case {
        std::string_view json;
        std::string_view error;
    };
    const Case cases[] = {
        {R"({"builds":[]})", "missing field 'id'"},
        {R"({"id":1})", "missing field 'builds'"},
        {R"({"id":1,"builds":{}})", "field 'builds': expected an array"},
        {R"({"id":1,"builds":[1,"2"]})", "field 'builds': element 1: expected an integer"},
        {R"({"id":1,"builds":[1,null]})", "field 'builds': element 1: expected an integer"},
        {R"({"id":1,"builds":[1,99999999999999999999]})",
         "field 'builds': element 1: number out of range"},
        {R"({"id":1,"builds":[],"timestamp":"x"})", "field 'timestamp': expected an integer"},
        {R"({"id":1,"builds":[],"hasnewbuilds":3})",
         "field 'hasnewbuilds': expected 0, 1 or a boolean"},
        {R"({"id":1,"builds":[],"jobsetevalinputs":[]})",
         "field 'jobsetevalinputs': expected an object"},
        {R"({"id":1,"builds":[],"jobsetevalinputs":{"a":"b"}})",
         "field 'jobsetevalinputs': input 'a': expected an object"},
        {R"({"id":1,"builds":[],"jobsetevalinputs":{"a":{"revision":1}}})",
         "field 'jobsetevalinputs': input 'a': field 'revision': expected a string or null"},
        {R"({"id":1,"builds":[],"jobsetevalinputs":{"a":{},"a":{}}})",
         "field 'jobsetevalinputs': duplicate input 'a'"},
        {R"({"id":1,"builds":[],"jobsetevalinputs":{"a":{"value":"x","value":"y"}}})",
         "field 'jobsetevalinputs': input 'a': duplicate field 'value'"},
        {R"({"id":1,"builds":[],"builds":[]})", "duplicate field 'builds'"},
        {R"({"id":1,"builds":[1,]})", ""},
        {R"([{"id":1,"builds":[]}])", "expected a json object"},
        {R"({"id":1,"builds":[]} 5)", ""},
    };
    JsonParser parser;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.json);
        core::EvalRecord eval;
        const std::string error = parser.parse_eval(c.json, eval);
        if (c.error.empty()) {
            EXPECT_NE(error, "");
        } else {
            EXPECT_EQ(error, c.error);
        }
    }
}

// ---------------------------------------------------------------------------
// Evals pages

TEST(JsonParserEvalsPage, ParsesFirstPageWithNext) {
    JsonParser parser;
    core::EvalsPage page;
    ASSERT_EQ(parser.parse_evals_page(read_sample("evals-staging-page1.json"), page), "");
    ASSERT_EQ(page.evals.size(), 20u);
    EXPECT_EQ(page.evals.front().id, 29);
    EXPECT_EQ(page.evals.front().timestamp, 1735724000);
    EXPECT_EQ(page.evals.front().builds, (std::vector<int64_t>{45}));
    EXPECT_EQ(page.evals.front().inputs,
              (Pairs{{"nixpkgs", "aa6adb6a93eddffe943e6b5803fc688b125e2e8f"}}));
    EXPECT_EQ(page.evals.back().id, 10);
    EXPECT_EQ(page.next, "?page=2");
}

TEST(JsonParserEvalsPage, ParsesEveryPageSample) {
    struct Sample {
        std::string file;
        std::vector<int64_t> ids;
        std::optional<std::string> next;
    };
    std::vector<int64_t> first_page;
    for (int64_t id = 29; id >= 10; --id) {
        first_page.push_back(id);
    }
    const std::vector<Sample> samples = {
        {"evals-staging-page0.json", first_page, "?page=2"},
        {"evals-staging-pageabc.json", first_page, "?page=2"},
        {"evals-staging-page2.json", {9, 8, 7, 6, 5}, std::nullopt},
        {"evals-staging-page3.json", {}, std::nullopt},
        {"evals-empty.json", {}, std::nullopt},
        {"evals-trunk.json", {3, 2, 1}, std::nullopt},
        {"hydra-api-yaml-example_jobset-evals.json", {2}, std::nullopt},
        {"hydra-manual_jobset-hydra-build-ng-evals.json", {1213758}, std::nullopt},
    };
    JsonParser parser;
    core::EvalsPage page; // reused on purpose
    for (const auto& sample : samples) {
        SCOPED_TRACE(sample.file);
        ASSERT_EQ(parser.parse_evals_page(read_sample(sample.file), page), "");
        std::vector<int64_t> ids;
        for (const auto& eval : page.evals) {
            ids.push_back(eval.id);
            EXPECT_FALSE(eval.builds.empty());
            EXPECT_FALSE(eval.inputs.empty());
        }
        EXPECT_EQ(ids, sample.ids);
        EXPECT_EQ(page.next, sample.next);
    }
    ASSERT_EQ(parser.parse_evals_page(http_body(read_sample("evals-trunk.http")), page), "");
    ASSERT_EQ(page.evals.size(), 3u);
    EXPECT_EQ(page.evals[0].builds.size(), 11u);
}

TEST(JsonParserEvalsPage, KeepsTimestamplessEvalsOfOldHydra) {
    JsonParser parser;
    core::EvalsPage page;
    ASSERT_EQ(
        parser.parse_evals_page(read_sample("hydra-manual_jobset-hydra-build-ng-evals.json"), page),
        "");
    ASSERT_EQ(page.evals.size(), 1u);
    EXPECT_EQ(page.evals[0].timestamp, 0);
    EXPECT_EQ(page.evals[0].builds, (std::vector<int64_t>{24670686, 24670684, 24670685, 24670687}));
    EXPECT_EQ(page.evals[0].inputs, (Pairs{{"nixpkgs", "f60e48ce81b6f428d072d3c148f6f2e59f1dfd7a"},
                                           {"hydraSrc", "48d6f0de2ab94f728d287b9c9670c4d237e7c0f6"},
                                           {"officialRelease", "false"}}));
}

TEST(JsonParserEvalsPage, RejectsBadPages) {
    struct Case {
        std::string_view json;
        std::string_view error;
    };
    const Case cases[] = {
        {R"({"first":"?page=1"})", "missing field 'evals'"},
        {R"({"evals":{}})", "field 'evals': expected an array"},
        {R"({"evals":[5]})", "evals[0]: expected an object"},
        {R"({"evals":[{"id":1,"builds":[]},{"id":"2","builds":[]}]})",
         "evals[1]: field 'id': expected an integer"},
        {R"({"evals":[],"next":5})", "field 'next': expected a string or null"},
        {R"({"evals":[],"evals":[]})", "duplicate field 'evals'"},
        {R"({"evals":[],"next":"?page=2","next":"?page=3"})", "duplicate field 'next'"},
        {R"([])", "expected a json object"},
        {"", "invalid json: empty document"},
    };
    JsonParser parser;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.json);
        core::EvalsPage page;
        EXPECT_EQ(parser.parse_evals_page(c.json, page), c.error);
    }
}

TEST(JsonParserEvalsPage, RejectsEveryTruncation) {
    const std::string eval = read_sample("eval-3.json");
    const std::string page = read_sample("evals-trunk.json");
    JsonParser parser;
    for (size_t size = 0; size < eval.size(); ++size) {
        core::EvalRecord record;
        EXPECT_NE(parser.parse_eval(std::string_view(eval).substr(0, size), record), "")
            << "eval prefix of " << size << " bytes";
    }
    for (size_t size = 0; size < page.size(); ++size) {
        core::EvalsPage record;
        EXPECT_NE(parser.parse_evals_page(std::string_view(page).substr(0, size), record), "")
            << "page prefix of " << size << " bytes";
    }
}

TEST(JsonParserEvalsPage, NullNextMeansLastPage) {
    JsonParser parser;
    core::EvalsPage page;
    page.next = "?page=9";
    ASSERT_EQ(parser.parse_evals_page(R"({"evals":[],"next":null})", page), "");
    EXPECT_EQ(page.next, std::nullopt);
}

// ---------------------------------------------------------------------------
// Error bodies

TEST(ParseErrorBody, ReturnsHydraErrorMessages) {
    EXPECT_EQ(parse_error_body(http_body(read_sample("build-99999-notfound.http"))),
              "Build with ID 99999 doesn't exist.");
    EXPECT_EQ(parse_error_body(http_body(read_sample("build-abc-invalid.http"))),
              "Invalid build ID \xe2\x80\x98"
              "abc\xe2\x80\x99.");
    EXPECT_EQ(parse_error_body(http_body(read_sample("eval-99999-notfound.http"))),
              "Evaluation 99999 doesn't exist.");
    const auto message = parse_error_body(http_body(read_sample("evals-staging-page-minus1.http")));
    ASSERT_TRUE(message.has_value());
    EXPECT_TRUE(message->starts_with("DBIx::Class::Storage::DBI::_select_args()"));
    EXPECT_TRUE(message->ends_with("line 312\n"));
}

TEST(ParseErrorBody, ReturnsNulloptForAnythingElse) {
    for (const std::string& text : {
             std::string(),
             std::string("   "),
             std::string("[]"),
             std::string("{}"),
             std::string("null"),
             std::string(R"("error")"),
             std::string(R"({"error":5})"),
             std::string(R"({"error":null})"),
             std::string(R"({"error":"x"} {})"),
             std::string(R"({"error":"x")"),
             std::string("{\"error\":\"\xff\"}"),
             std::string(10000, '['),
             std::string("<!DOCTYPE html><html></html>"),
             read_sample("build-1-success.json"),
             read_sample("eval-3.json"),
         }) {
        EXPECT_EQ(parse_error_body(text), std::nullopt) << text.substr(0, 40);
    }
    EXPECT_EQ(parse_error_body(http_body(read_sample("accepthtml-eval-3.http"))), std::nullopt);
}

// ---------------------------------------------------------------------------
// parse_latest_builds

TEST(ParseLatestBuilds, ReadsTheRealHydrasAnswer) {
    JsonParser parser;
    std::vector<LatestBuild> builds;
    ASSERT_EQ(
        parser.parse_latest_builds(http_body(read_sample("probe-api-latestbuilds.http")), builds),
        "");
    ASSERT_EQ(builds.size(), 3U);
    EXPECT_EQ(builds[0].id, 20);
    EXPECT_TRUE(builds[0].finished);
    EXPECT_EQ(builds[0].buildstatus, 0);
    EXPECT_EQ(builds[2].id, 17);
    EXPECT_EQ(builds[2].buildstatus, 1);
}

TEST(ParseLatestBuilds, RefusesWhatIsNotAListOfShortBuilds) {
    JsonParser parser;
    std::vector<LatestBuild> builds;
    EXPECT_EQ(parser.parse_latest_builds("[]", builds), "");
    EXPECT_TRUE(builds.empty());
    EXPECT_EQ(parser.parse_latest_builds(R"([{"id":5,"finished":1,"buildstatus":null}])", builds),
              "");
    EXPECT_FALSE(builds.at(0).buildstatus.has_value());
    EXPECT_EQ(parser.parse_latest_builds(R"({"id":5})", builds), "expected a json array");
    EXPECT_EQ(parser.parse_latest_builds(R"([{"finished":1}])", builds),
              "element 0: missing field 'id'");
    EXPECT_EQ(
        parser.parse_latest_builds(R"([{"id":1,"finished":1},{"id":"x","finished":1}])", builds),
        "element 1: field 'id': expected an integer");
    EXPECT_EQ(parser.parse_latest_builds(R"([{"id":1,"finished":1,"id":2}])", builds),
              "element 0: duplicate field 'id'");
    EXPECT_EQ(parser.parse_latest_builds(R"([7])", builds), "element 0: expected an object");
    EXPECT_FALSE(parser.parse_latest_builds(R"([{"id":1,"finished":1}] x)", builds).empty());
}

} // namespace
} // namespace hs::sync
