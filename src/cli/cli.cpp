#include "cli/cli.hpp"

namespace hs::cli {

int main(int, char**) {
    return 2;
}

} // namespace hs::cli
