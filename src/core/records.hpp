#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hs::core {

// A Hydra build object (GET /build/<id>, elements of /eval/<id>/builds),
// reduced to what the index keeps. Strings are as Hydra sent them; the index
// validates store paths.
struct BuildRecord {
    int64_t id = 0;
    bool finished = false;
    std::optional<int> buildstatus;
    std::optional<int64_t> starttime;
    std::optional<int64_t> stoptime;
    std::string drvpath;
    std::string project;
    std::string jobset;
    std::string job;
    std::string system;
    // output name -> path; the path is empty for a content-addressed output
    // that has not been built yet (Hydra sends null)
    std::vector<std::pair<std::string, std::string>> outputs;
};

// A Hydra eval object (GET /eval/<id>, elements of the evals listing).
struct EvalRecord {
    int64_t id = 0;
    int64_t timestamp = 0;
    bool hasnewbuilds = true;
    std::vector<int64_t> builds;
    // input name -> revision (or value when there is no revision)
    std::vector<std::pair<std::string, std::string>> inputs;
};

// One page of GET /jobset/<p>/<j>/evals.
struct EvalsPage {
    std::vector<EvalRecord> evals;
    std::optional<std::string> next; // relative "?page=N", absent on the last page
};

} // namespace hs::core
