#pragma once

#include <exception>

namespace hs::cli {

// Parses the command line, runs the command, returns the exit code. Errors
// propagate as exceptions to main.cpp, which hands them to report_error().
int run(int argc, char** argv);

// Prints "hydra-status: error: ..." for any exception and returns the exit
// code that goes with it (hs::Error's own, 2 for usage errors).
int report_error(const std::exception& error) noexcept;

} // namespace hs::cli
