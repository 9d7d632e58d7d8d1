#pragma once

#include "core/text.hpp" // quote() and printable(), for the messages

#include <stdexcept>
#include <string>

namespace hs {

// Exit codes of the command-line contract (spec/cli.md).
enum class ExitCode : int {
    ok = 0,
    failure = 1,   // a permanent failure found, or a sync of some jobset failed
    usage = 2,     // usage error or malformed input
    unknown = 3,   // a key unknown to the index
    transient = 4, // a transient failure or a queued build
    no_index = 5,  // the index is missing, unreadable or never synced
    locked = 75,   // another sync holds the lock (EX_TEMPFAIL)
};

// The one exception type of the project. Library code throws it; only the
// entry point catches it, prints "hydra-status: error: <what>" and exits with
// its code.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, ExitCode code = ExitCode::failure)
        : std::runtime_error(message), m_code(code) {}
    ExitCode code() const noexcept { return m_code; }

private:
    ExitCode m_code;
};

// A usage error: the entry point adds a pointer to --help.
class UsageError : public Error {
public:
    explicit UsageError(const std::string& message) : Error(message, ExitCode::usage) {}
};

} // namespace hs
