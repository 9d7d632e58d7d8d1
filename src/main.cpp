#include "cli/cli.hpp"

#include <exception>

// A trampoline: the program is hs::cli::run; this is the catch that ends it.
// The few others, and why each is there, are listed in core/error.hpp.
int main(int argc, char** argv) {
    try {
        return hs::cli::run(argc, argv);
    } catch (const std::exception& error) {
        return hs::cli::report_error(error);
    }
}
