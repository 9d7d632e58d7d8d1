#pragma once

#include "cli/settings.hpp"
#include "core/error.hpp"
#include "index/index.hpp"

#include <boost/program_options.hpp>

#include <optional>
#include <string>
#include <vector>

namespace hs::cli {

// What every command gets: resolved settings, the global flags and its own
// parsed options and positional arguments.
struct Context {
    Settings settings;
    boost::program_options::variables_map options;
    std::vector<std::string> args;
    bool json = false;
    int verbose = 0;
};

namespace po = boost::program_options;

// Each command adds its own options, then runs.
void lookup_options(po::options_description& desc);
int lookup_command(Context& ctx);
// sync's own options are in cli.cpp: hydra-status knows them without the
// real sync; sync_command is in sync_seam.hpp.
void sync_options(po::options_description& desc);
void gate_options(po::options_description& desc);
int gate_command(Context& ctx);
void info_options(po::options_description& desc);
int info_command(Context& ctx);
void record_options(po::options_description& desc);
int record_command(Context& ctx);
void forget_options(po::options_description& desc);
int forget_command(Context& ctx);
void config_options(po::options_description& desc);
int config_command(Context& ctx);
void snapshot_options(po::options_description& desc);
int snapshot_command(Context& ctx);
void jobsets_options(po::options_description& desc);
int jobsets_command(Context& ctx);

// Shared helpers.

// Adds the settings that these commands take as options (option_of bits of
// the settings table), each with its default in the help.
void add_setting_options(po::options_description& desc, unsigned commands);

// Opens the index for lookup or gate. A missing or unusable index (exit 5)
// is not thrown but returned in `error`, since the keys or drvs are still
// read: a malformed one (exit 2) comes first.
std::optional<index::IndexReader> open_index_for_answers(const std::string& path,
                                                         std::optional<Error>& error);
int64_t unix_now();
bool stdout_is_tty();
bool use_color();
void write_stdout(const std::string& text);
void print_error(const std::string& message);   // "hydra-status: error: ..."
void print_warning(const std::string& message); // "hydra-status: warning: ..."

} // namespace hs::cli
