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
    internal = 70, // a bug or the system failed (out of memory): never 1 (EX_SOFTWARE)
    locked = 75,   // another sync holds the lock (EX_TEMPFAIL)
};

// The one exception type of the project. Library code throws it; the entry
// point (src/main.cpp) catches it, prints "hydra-status: error: <what>" and
// exits with its code.
//
// The other catches, each because an error there is not yet the end of the
// command (keep this list whole when adding or removing one):
// - cli/cli.cpp, run: Boost's option errors become UsageError, in the
//   tool's words and pointing to the command's --help.
// - cli/config_cmd.cpp, jobsets_command: with --complete a missing or broken
//   index offers nothing more rather than print into the user's command
//   line; without it, rethrown.
// - cli/lookup.cpp, open_index_for_answers: a missing index (no_index) is
//   kept so that local answers still come first; anything else, rethrown.
// - gate/closure.cpp, Reading::read: an exception cannot leave a reading
//   thread; the node keeps it and the walking thread reports or rethrows it
//   in walk order.
// - gate/closure.cpp, walk_closure (roots): a bad root is reported as a bad
//   file is, and the walk goes on with the other roots.
// - gate/closure.cpp, walk_closure (visitor): a drv found malformed later
//   must still be reported first (exit 2 before 5); the visitor's error is
//   rethrown at the end.
// - index/index.cpp, Index::read: an error in a read torn by a writer is
//   not real; the read is redone, else rethrown.
// - sync/http.cpp, write_callback: an exception must not cross libcurl's C
//   frames; it is carried over and rethrown after curl_easy_perform.
// - sync/syncer.cpp, BuildStager::Writer::run: an exception cannot leave
//   the batch-writing thread; it is rethrown by the stager's thread.
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
