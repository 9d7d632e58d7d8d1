#pragma once

#include "core/records.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hs::sync {

// One element of GET /api/latestbuilds (Hydra's buildToHash): no drvpath,
// no times; the sync reads only which builds finished.
struct LatestBuild {
    int64_t id = 0;
    bool finished = false;
    std::optional<int> buildstatus;
};

// Hydra JSON -> plain records (core/records.hpp). simdjson stays inside this
// file's implementation. Keys may come in any order; unknown keys are
// ignored; a wrong type for a known key is an error. Every function returns
// an empty string on success or a lowercase reason ("field 'finished': expected
// 0, 1 or a boolean") on failure, and then leaves the output in an unspecified
// state.
//
// The whole text must be one valid JSON object (values of unknown keys are
// checked too, to a nesting depth of 64) followed only by whitespace. A known
// key that appears twice in one object is an error ("duplicate field 'id'"),
// as is a repeated output or input name. Numbers that do not fit the record's
// type are errors. Flags (finished, hasnewbuilds) are 0, 1, true or false.
//
// One parser is meant to be reused: it keeps its simdjson parser, a padded
// copy of the input, and spare record elements, so that parsing into the same
// output again does not allocate once warm. Not thread-safe.
class JsonParser {
public:
    JsonParser();
    ~JsonParser();
    JsonParser(const JsonParser&) = delete;
    JsonParser& operator=(const JsonParser&) = delete;

    // One build object (GET /build/<id>, one element of /eval/<id>/builds).
    // Required: id, finished, drvpath, project, jobset, job, system.
    // buildstatus, starttime, stoptime: integer or null (absent = null);
    // buildoutputs absent = no outputs; a null output path = "".
    std::string parse_build(std::string_view json, core::BuildRecord& out);
    // One eval object (GET /eval/<id>). Required: id, builds. timestamp
    // absent (Hydra before 2021-10) = 0; hasnewbuilds absent = true.
    std::string parse_eval(std::string_view json, core::EvalRecord& out);
    // One page of GET /jobset/<p>/<j>/evals. Required: evals. next is kept as
    // sent ("?page=2"); absent or null = last page.
    std::string parse_evals_page(std::string_view json, core::EvalsPage& out);
    // GET /api/latestbuilds: an array of short build objects. Required: id,
    // finished; buildstatus integer or null.
    std::string parse_latest_builds(std::string_view json, std::vector<LatestBuild>& out);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// The message of a Hydra error body {"error": "..."}, if the text is one: a
// valid JSON object with a string "error" (other keys are ignored). Anything
// else, including invalid JSON, gives nullopt; never throws on any input.
std::optional<std::string> parse_error_body(std::string_view json);

} // namespace hs::sync
