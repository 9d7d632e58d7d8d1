#pragma once

// The decisions and output of `record`, `forget` and `info`, apart from the
// index they change or read.

#include "core/store_path.hpp"
#include "index/index.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

// A drv path or drv basename; UsageError for anything else.
core::StorePath parse_drv(const std::string& text);

// The absolute path of record's --log FILE, which must be a file that
// exists: a record pointing at no log helps nobody. Error (exit 2)
// otherwise.
std::string log_file(const std::string& file);

// "2024-05-01 12:00:00Z", or "never" for 0.
std::string iso_time(int64_t t);

// What `info` shows: the index file, its size (with its -wal) and jobsets.
struct IndexInfo {
    std::string path;
    int64_t bytes = 0;
    std::vector<index::JobsetInfo> jobsets;
    // Where the data came from when it was pulled (sync --from).
    std::optional<index::ReplicaSource> source;
};

// One JSON object per jobset, then one for the index.
std::string info_json(const IndexInfo& info);
// Labels in one column, values from column 15.
std::string info_human(const IndexInfo& info, int64_t now);

} // namespace hs::cli
