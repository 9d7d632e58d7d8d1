#pragma once

namespace hs::cli {

// The whole program: parses the command line, runs the command, returns the
// exit code. The only place that catches hs::Error.
int main(int argc, char** argv);

} // namespace hs::cli
