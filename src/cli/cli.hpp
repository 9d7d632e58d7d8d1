#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace hs::cli {

// Parses the command line, runs the command, returns the exit code. Errors
// propagate as exceptions to main.cpp, which hands them to report_error().
int run(int argc, char** argv);

// Prints "hydra-status: error: ..." for any exception and returns the exit
// code that goes with it (hs::Error's own, 2 for usage errors).
// When the command is known, a usage error points to 'hydra-status COMMAND
// --help', else to 'hydra-status --help'.
int report_error(const std::exception& error) noexcept;

// The optimal string alignment distance: insertions, deletions,
// substitutions and swaps of two neighbours cost 1 ("synk" -> "sync": 1,
// "gaet" -> "gate": 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when it is close enough to be a typo of it
// (distance 1, or 2 for words of 5 characters and more; the first of equals),
// else "".
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

} // namespace hs::cli
