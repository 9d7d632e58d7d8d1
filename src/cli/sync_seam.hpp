#pragma once

// The sync seam: the one place where the two executables differ.
//
// `sync` is the only command that needs libcurl and simdjson (hs_sync). So
// that lookups and the gate never load them (6 shared libraries mapped
// instead of 37), the functions below have two definitions, in two object
// libraries (src/cli/CMakeLists.txt), and each executable links exactly one:
//
//   hydra-status       links hs_cli_sync_exec (sync_exec.cpp): sync_handoff()
//                      replaces the process with hydra-status-sync (same argv
//                      and environment) and returns only by throwing;
//                      sync_command() is never reached.
//   hydra-status-sync  links hs_cli_sync (sync_cmd.cpp), the real command:
//                      sync_handoff() returns at once, sync_command() syncs.
//
// Everything else (hs_cli) is the same in both. run() calls the command's
// handoff (its `handoff` field in cli.cpp's command table) as soon as it knows
// the command, before any option is parsed. sync's options are declared in
// hs_cli (cli.cpp, and the settings table), so that hydra-status knows them
// without the real sync.

#include "cli/commands.hpp"

namespace hs::cli {

// Hands the process over to the executable that runs sync, or returns when
// this is it.
void sync_handoff(char** argv);

// The sync command proper.
int sync_command(Context& ctx);

} // namespace hs::cli
