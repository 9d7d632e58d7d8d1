#include "cli/cli.hpp"

int main(int argc, char** argv) {
    return hs::cli::main(argc, argv);
}
