#pragma once

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

// Quotes a value for a message: 'value', with control bytes (C0, DEL, C1)
// and bytes that are not well-formed UTF-8 shown as \xNN, so that hostile
// input cannot garble a terminal and every message is valid UTF-8. Shows at
// most 300 bytes of the value, then "...".
std::string quote(std::string_view value);

// The same escaping without quotes or a length limit by default: control
// characters (C0, DEL, C1) and bytes that are not UTF-8 become \xNN, so the
// text is safe to print on a terminal. For strings from Hydra that the index
// keeps (job, system, ...).
std::string printable(std::string_view value, size_t max_bytes = std::string_view::npos);

} // namespace hs
