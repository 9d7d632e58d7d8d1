#pragma once

#include "core/status.hpp"
#include "index/index.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

// The answer for one key: the deciding Hydra build and the local failure
// record, either of which may be missing.
struct Answer {
    std::string query;
    std::optional<index::BuildRow> hydra;
    std::optional<index::LocalFailure> local;

    core::Status status() const; // the top-level status (local wins)
};

core::Status hydra_status(const index::BuildRow& row);

// Appends the answer as one JSON object and a newline (JSON Lines).
void append_json(std::string& out, const Answer& answer);

struct HumanStyle {
    bool color = false;
    int64_t now = 0;
};

// Appends the answer as one human line (plus one for a disagreeing Hydra
// answer under a local failure).
void append_human(std::string& out, const Answer& answer, const HumanStyle& style);

// Appends answers as aligned columns, one line per answer (plus one for a
// disagreeing Hydra answer under a local failure): mark and status word, drv
// name, jobset and how old its data is, then build and log URLs of failures.
// Columns are aligned within one call.
void append_human_table(std::string& out, const std::vector<Answer>& answers,
                        const HumanStyle& style);

// "3 h ago", "2 d ago", "just now".
std::string relative_age(int64_t then, int64_t now);

void append_json_string(std::string& out, std::string_view text);

} // namespace hs::cli
