#include "cli/cli.hpp"

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string_view>

namespace hs::cli {

namespace {

constexpr const char* k_usage = R"(usage: hydra-status [OPTIONS] PATH...
       hydra-status [OPTIONS] COMMAND [ARGS]

Answers offline whether Hydra (hydra.nixos.org) built or failed a derivation.

Commands:
  lookup PATH...     status of drv paths, drv basenames, output paths or hashes
  sync               pull new Hydra evaluations into the local index
  gate DRV...        check a .drv and its whole closure before building it
  info               what the index holds, per jobset
  record --failed DRV  remember a local build failure
  forget DRV...      drop local failure records
  config show        every setting, its value and where it came from

Run 'hydra-status COMMAND --help' for a command's options.
)";

struct Command {
    const char* name;
    const char* synopsis;
    const char* summary;
    void (*options)(po::options_description&);
    int (*run)(Context&);
};

const Command k_commands[] = {
    {"lookup", "hydra-status lookup [--all] [--stdin] [--job NAME --jobset P:J] KEY...",
     "Answers from the index, offline, whether Hydra built or failed each key (a drv path, drv\n"
     "basename, output path or 32-character hash).",
     lookup_options, lookup_command},
    {"sync", "hydra-status sync [--jobset PROJECT:JOBSET]... [--max-evals N]",
     "Pulls new evaluations of the jobsets from Hydra into the index.", sync_options, sync_command},
    {"gate",
     "hydra-status gate [--policy warn|fail] [--strict] [--store-root DIR] "
     "[--from-dry-run FILE|-] DRV...",
     "Checks each .drv and its whole closure against the index and the local failures.",
     gate_options, gate_command},
    {"info", "hydra-status info", "Shows what the index holds, per jobset.", info_options,
     info_command},
    {"record", "hydra-status record --failed DRV [--log FILE] [--reason TEXT]",
     "Remembers a local build failure of DRV.", record_options, record_command},
    {"forget", "hydra-status forget DRV... | --all", "Drops local failure records.", forget_options,
     forget_command},
    {"config", "hydra-status config [show | get KEY]",
     "Shows every setting with its value and where it came from (default, a config file and\n"
     "line, the environment or the command line), or prints one setting's value.",
     config_options, config_command},
    // Hidden (not in k_usage or the man page): for the shell completions.
    {"jobsets", "hydra-status jobsets [--complete]",
     "Lists the jobsets in the index and the config (for shell completion).", jobsets_options,
     jobsets_command},
};

const Command* find_command(std::string_view name) {
    for (const auto& command : k_commands) {
        if (name == command.name) {
            return &command;
        }
    }
    return nullptr;
}

po::options_description global_options() {
    po::options_description desc("Global options");
    desc.add_options() //
        ("db", po::value<std::string>()->value_name("FILE"),
         "the index (env HYDRA_STATUS_DB; default $XDG_STATE_HOME/hydra-status/index.sqlite)") //
        ("url", po::value<std::string>()->value_name("URL"),
         "the Hydra instance (env HYDRA_STATUS_URL; default https://hydra.nixos.org)") //
        ("config", po::value<std::string>()->value_name("FILE"),
         "config file (env HYDRA_STATUS_CONFIG; default $XDG_CONFIG_HOME/hydra-status/config)") //
        ("json", "machine output: JSON Lines on stdout")                                        //
        ("verbose,v", "more on stderr; repeatable")                                             //
        ("help,h", "show help")                                                                 //
        ("version", "show the version");
    return desc;
}

// Global options that take a value, to find the command word after them.
bool takes_value(std::string_view arg) {
    return arg == "--db" || arg == "--url" || arg == "--config";
}

int print_usage_error(const std::string& message) {
    std::fprintf(stderr, "hydra-status: error: %s\n%s", message.c_str(), k_usage);
    return static_cast<int>(ExitCode::usage);
}

} // namespace

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    // -v may be repeated; count and remove it before option parsing.
    int verbose = 0;
    std::vector<std::string> rest;
    for (const auto& arg : args) {
        if (arg == "-v" || arg == "--verbose") {
            ++verbose;
        } else if (arg.size() > 2 && arg.starts_with("-v") &&
                   arg.find_first_not_of('v', 1) == std::string::npos) {
            verbose += static_cast<int>(arg.size() - 1);
        } else {
            rest.push_back(arg);
        }
    }
    args = std::move(rest);

    // Find the command word: the first argument that is not an option.
    const Command* command = nullptr;
    size_t command_at = args.size();
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "--") {
            break;
        }
        if (arg.starts_with('-')) {
            if (takes_value(arg)) {
                ++i;
            }
            continue;
        }
        command_at = i;
        command = find_command(arg);
        if (!command && core::looks_like_key(arg)) {
            command = find_command("lookup");
            command_at = args.size(); // the key stays an argument
        } else if (!command) {
            return print_usage_error("unknown command " + quote(arg));
        }
        break;
    }
    if (command && std::string_view(command->name) == "sync") {
        sync_handoff(argv);
    }
    const bool wants_help = std::any_of(args.begin(), args.end(),
                                        [](const auto& a) { return a == "--help" || a == "-h"; });
    const bool wants_version = std::find(args.begin(), args.end(), "--version") != args.end();
    if (wants_version && !command) {
        std::printf("hydra-status %s\n", HS_VERSION);
        return 0;
    }
    if (!command) {
        if (wants_help) {
            std::fputs(k_usage, stdout);
            std::cout << '\n' << global_options() << "\nSee 'man hydra-status' for more.\n";
            return 0;
        }
        return print_usage_error(args.empty() ? "no command given" : "no command or key given");
    }
    if (command_at < args.size()) {
        args.erase(args.begin() + static_cast<ptrdiff_t>(command_at));
    }

    po::options_description desc;
    desc.add(global_options());
    po::options_description own(std::string(command->name) + " options");
    command->options(own);
    desc.add(own);
    po::options_description hidden;
    hidden.add_options()("args", po::value<std::vector<std::string>>());
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description positional;
    positional.add("args", -1);

    Context ctx;
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), ctx.options);
    po::notify(ctx.options);
    if (ctx.options.count("help")) {
        std::cout << "usage: " << command->synopsis << "\n\n" << command->summary << "\n\n";
        if (!own.options().empty()) {
            std::cout << own << '\n';
        }
        std::cout << global_options() << "\nSee 'man hydra-status' for more.\n";
        return 0;
    }
    if (ctx.options.count("version")) {
        std::printf("hydra-status %s\n", HS_VERSION);
        return 0;
    }
    if (ctx.options.count("args")) {
        ctx.args = ctx.options["args"].as<std::vector<std::string>>();
    }
    ctx.json = ctx.options.count("json") > 0;
    ctx.verbose = verbose;

    // Every setting given as an option of this command overrides the rest.
    std::map<std::string, std::string> overrides;
    for (const auto& spec : setting_specs()) {
        if (ctx.options.count(spec.key) && !ctx.options[spec.key].defaulted()) {
            const auto& value = ctx.options[spec.key].value();
            if (const auto* text = boost::any_cast<std::string>(&value)) {
                overrides[spec.key] = *text;
            } else if (boost::any_cast<bool>(&value) && boost::any_cast<bool>(value)) {
                overrides[spec.key] = "true";
            }
        }
    }
    const std::string config =
        ctx.options.count("config") ? ctx.options["config"].as<std::string>() : std::string();
    ctx.settings = Settings::load(overrides, config);
    return command->run(ctx);
}

int report_error(const std::exception& error) noexcept {
    if (const auto* hs_error = dynamic_cast<const Error*>(&error)) {
        std::fprintf(stderr, "hydra-status: error: %s\n", hs_error->what());
        if (hs_error->code() == ExitCode::usage && dynamic_cast<const UsageError*>(&error)) {
            std::fprintf(stderr, "Try 'hydra-status --help' for more information.\n");
        }
        return static_cast<int>(hs_error->code());
    }
    if (dynamic_cast<const po::error*>(&error)) {
        std::fprintf(stderr,
                     "hydra-status: error: %s\nTry 'hydra-status --help' for more information.\n",
                     error.what());
        return static_cast<int>(ExitCode::usage);
    }
    if (dynamic_cast<const std::bad_alloc*>(&error)) {
        std::fprintf(stderr, "hydra-status: error: out of memory\n");
        return static_cast<int>(ExitCode::failure);
    }
    std::fprintf(stderr, "hydra-status: error: %s\n", error.what());
    return static_cast<int>(ExitCode::failure);
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool stdout_is_tty() {
    return ::isatty(STDOUT_FILENO) == 1;
}

bool use_color() {
    const char* no_color = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    return stdout_is_tty() && !(no_color && *no_color) &&
           !(term && std::string_view(term) == "dumb");
}

void write_stdout(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
}

void print_error(const std::string& message) {
    std::fprintf(stderr, "hydra-status: error: %s\n", message.c_str());
}

void print_warning(const std::string& message) {
    std::fprintf(stderr, "hydra-status: warning: %s\n", message.c_str());
}

} // namespace hs::cli
