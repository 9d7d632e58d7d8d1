#include "cli/cli.hpp"

#include "cli/commands.hpp"
#include "cli/history_cmd.hpp"
#include "cli/report_cmd.hpp"
#include "cli/sync_seam.hpp"
#include "core/error.hpp"
#include "core/store_path.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

namespace hs::cli {

namespace {

constexpr const char* k_usage = R"(usage: hydra-status [OPTIONS] PATH...
       hydra-status [OPTIONS] COMMAND [ARGS]

Answers offline whether Hydra (hydra.nixos.org) built or failed a derivation.

Commands:
  lookup PATH...        status of drv paths or basenames, output paths, hashes
  sync                  pull new Hydra evaluations into the local index
  gate DRV...           check a .drv and its whole closure before building it
  info                  what the index holds, per jobset
  record --failed DRV   remember a local build failure
  forget DRV...         drop local failure records
  config show           every setting, its value and where it came from
  history KEY           a job's builds eval by eval; where its status changed
  bisect --job NAME     the evals and revisions between which a job broke
  evals --jobset P:J    a jobset's evals and their inputs; --rev SHA finds one
  report --jobset P:J   what broke and what got fixed since the eval before
  snapshot publish DIR  publish the index as signed files for sync --from

Run 'hydra-status COMMAND --help' for a command's options.
)";

// What a settings check at load does for a command.
enum class SettingsCheck {
    required, // a value that is not valid is an error before the command runs
    shown,    // the command shows values and flags the invalid ones (config)
};

struct Command {
    const char* name;
    const char* synopsis;
    const char* summary;
    void (*options)(po::options_description&); // its own options
    int (*run)(Context&);
    unsigned settings = option_of::none; // the settings it takes as options
    // Called as soon as the command is known, before options are parsed:
    // sync's hands the process over to hydra-status-sync (sync_seam.hpp).
    void (*handoff)(char** argv) = nullptr;
    SettingsCheck check = SettingsCheck::required;
    bool hidden = false; // not in `hydra-status --help` or the man page
};

const Command k_commands[] = {
    {.name = "lookup",
     .synopsis = "hydra-status lookup [--all] [--stdin] [--job NAME --jobset P:J] KEY...",
     .summary = "Answers from the index, offline, whether Hydra built or failed each key (a drv\n"
                "path, drv basename, output path or 32-character hash).",
     .options = lookup_options,
     .run = lookup_command,
     .settings = option_of::lookup},
    {.name = "sync",
     .synopsis = "hydra-status sync [--jobset PROJECT:JOBSET]... [--max-evals N]\n"
                 "                        [--publish DIR]\n"
                 "       hydra-status sync --from URL [--no-verify]",
     .summary = "Pulls new evaluations of the jobsets from Hydra into the index; with --publish,\n"
                "then publishes a snapshot. With --from (or the config key 'from'), pulls a\n"
                "published snapshot instead (http://, https:// or file:///DIR), signed by a key\n"
                "in trusted-keys, and never contacts Hydra.",
     .options = sync_options,
     .run = sync_command,
     .settings = option_of::sync,
     .handoff = sync_handoff},
    {.name = "gate",
     .synopsis = "hydra-status gate [--policy warn|fail] [--strict] [--store-root DIR]\n"
                 "                         [--from-dry-run FILE|-] DRV...",
     .summary = "Checks each .drv and its whole closure against the index and the local failures.",
     .options = gate_options,
     .run = gate_command,
     .settings = option_of::gate},
    {.name = "info",
     .synopsis = "hydra-status info",
     .summary = "Shows what the index holds, per jobset.",
     .options = info_options,
     .run = info_command},
    {.name = "record",
     .synopsis = "hydra-status record --failed DRV [--log FILE] [--reason TEXT]",
     .summary = "Remembers a local build failure of DRV.",
     .options = record_options,
     .run = record_command},
    {.name = "forget",
     .synopsis = "hydra-status forget DRV... | --all",
     .summary = "Drops local failure records.",
     .options = forget_options,
     .run = forget_command},
    {.name = "config",
     .synopsis = "hydra-status config [show | get KEY]",
     .summary = "Shows every setting with its value and where it came from (default, a config\n"
                "file and line, the environment or the command line), or prints one setting's\n"
                "value. A value that is not valid for its setting is marked, and exits 2.",
     .options = config_options,
     .run = config_command,
     .check = SettingsCheck::shown},
    {.name = "history",
     .synopsis = "hydra-status history KEY | --job NAME --jobset P:J\n"
                 "                           [--input NAME] [--limit N]",
     .summary = "Shows a job's builds eval by eval, newest first: the eval, its date, the build,\n"
                "its status and the input's revision; '*' marks where the status changed from\n"
                "the eval before. KEY names the job that built it (in the jobset of its\n"
                "deciding build, or --jobset).",
     .options = history_options,
     .run = history_command},
    {.name = "bisect",
     .synopsis = "hydra-status bisect --job NAME --jobset P:J [--input NAME] [--repo DIR]",
     .summary = "Finds the last eval where the job succeeded and the first later eval where it\n"
                "failed, and prints the input's revisions for 'git bisect start BAD GOOD'.\n"
                "Exits 1 when the job fails (broke, or never succeeded in the evals the index\n"
                "holds), 0 when it still succeeds or no eval holds a verdict.",
     .options = bisect_options,
     .run = bisect_command},
    {.name = "evals",
     .synopsis = "hydra-status evals --jobset P:J [--rev SHA] [--input NAME] [--repo DIR]",
     .summary = "Lists the jobset's evals in the index with their inputs; with --rev, the evals\n"
                "built from that revision, or the nearest ones before and after it (placed by\n"
                "git in --repo DIR).",
     .options = evals_options,
     .run = evals_command},
    {.name = "report",
     .synopsis = "hydra-status report --jobset P:J [--eval ID] [--against ID] [--html FILE]",
     .summary = "Compares an eval (default: the newest) with an earlier one (default: the one\n"
                "before it): newly failing, newly fixed, still failing, new and removed jobs,\n"
                "per system, with build and log links. Exits 1 when a job is newly failing.",
     .options = report_options,
     .run = report_command},
    {.name = "snapshot",
     .synopsis = "hydra-status snapshot publish DIR | keygen NAME",
     .summary = "publish: writes a signed snapshot of the index into DIR (a base, one delta per\n"
                "eval since the last publish, manifest.json), for 'sync --from' over any static\n"
                "web server. keygen: makes an ed25519 key pair NAME; the secret key goes to\n"
                "secret-key-file (default ./NAME.secret), the public key to stdout.",
     .options = snapshot_options,
     .run = snapshot_command,
     .settings = option_of::snapshot},
    // For the shell completions.
    {.name = "jobsets",
     .synopsis = "hydra-status jobsets [--complete]",
     .summary = "Lists the jobsets in the index and the config (for shell completion).",
     .options = jobsets_options,
     .run = jobsets_command,
     .hidden = true},
};

// A command's own options and the settings it takes as options.
void command_options(const Command& command, po::options_description& desc) {
    command.options(desc);
    add_setting_options(desc, command.settings);
}

const Command* find_command(std::string_view name) {
    for (const auto& command : k_commands) {
        if (name == command.name) {
            return &command;
        }
    }
    return nullptr;
}

// The commands that `hydra-status --help` lists (not the hidden jobsets).
std::vector<std::string> public_commands() {
    std::vector<std::string> names;
    for (const auto& command : k_commands) {
        if (!command.hidden) {
            names.emplace_back(command.name);
        }
    }
    return names;
}

po::options_description global_options() {
    po::options_description desc("Global options");
    add_setting_options(desc, option_of::global);
    desc.add_options() //
        ("config", po::value<std::string>()->value_name("FILE"),
         "config file (env HYDRA_STATUS_CONFIG; default $XDG_CONFIG_HOME/hydra-status/config)") //
        ("json", "machine output: JSON Lines on stdout")                                        //
        ("verbose,v", "more on stderr; repeatable")                                             //
        ("help,h", "show help")                                                                 //
        ("version", "show the version");
    return desc;
}

// What the command line may hold before the command word: every option of
// every command, to skip an option's value and to explain a misplaced one.
struct OptionCatalog {
    po::options_description global = global_options();
    // Each command's own options, in k_commands order.
    std::vector<std::pair<const Command*, std::unique_ptr<po::options_description>>> own;

    OptionCatalog() {
        for (const auto& command : k_commands) {
            auto desc = std::make_unique<po::options_description>();
            command_options(command, *desc);
            own.emplace_back(&command, std::move(desc));
        }
    }

    static const OptionCatalog& get() {
        static const OptionCatalog catalog;
        return catalog;
    }
};

// "--db=x" -> "--db"; "-q" -> "-q".
std::string option_word(const std::string& arg) {
    return arg.starts_with("--") ? arg.substr(0, arg.find('=')) : arg;
}

// Boost finds a long option by its name without dashes, a short one as "-q".
const po::option_description* find_option(const po::options_description& desc,
                                          const std::string& word) {
    return desc.find_nothrow(word.starts_with("--") ? word.substr(2) : word, false);
}

bool takes_value(const po::option_description& option) {
    return option.semantic()->max_tokens() > 0;
}

// Whether the option word takes a value in any command (none takes a value
// in one and not in another).
bool option_takes_value(const std::string& word) {
    const auto& catalog = OptionCatalog::get();
    if (const auto* option = find_option(catalog.global, word)) {
        return takes_value(*option);
    }
    for (const auto& [command, desc] : catalog.own) {
        if (const auto* option = find_option(*desc, word)) {
            return takes_value(*option);
        }
    }
    return false;
}

// The public commands that have this option of their own.
std::vector<std::string> commands_with_option(const std::string& word) {
    std::vector<std::string> names;
    for (const auto& [command, desc] : OptionCatalog::get().own) {
        if (!command->hidden && find_option(*desc, word)) {
            names.emplace_back(command->name);
        }
    }
    return names;
}

// The long option names (with dashes) of these descriptions.
std::vector<std::string> long_names(const std::vector<const po::options_description*>& descs) {
    std::vector<std::string> names;
    for (const auto* desc : descs) {
        for (const auto& option : desc->options()) {
            if (!option->long_name().empty()) {
                names.push_back("--" + option->long_name());
            }
        }
    }
    return names;
}

// "unrecognised option '--bogus'", with the nearest option of the command
// (or of any command when there is none yet), or the commands it belongs to.
std::string unknown_option_message(const std::string& word, const Command* command) {
    std::string message = "unrecognised option " + quote(word);
    const auto& catalog = OptionCatalog::get();
    const auto owners = commands_with_option(word);
    if (!owners.empty()) {
        message += " (an option of";
        for (size_t i = 0; i < owners.size(); ++i) {
            message += (i == 0 ? " '" : ", '") + owners[i] + "'";
        }
        return message + ")";
    }
    std::vector<const po::options_description*> descs{&catalog.global};
    for (const auto& [c, desc] : catalog.own) {
        if (command ? c == command : !c->hidden) {
            descs.push_back(desc.get());
        }
    }
    if (word.starts_with("--")) {
        if (const auto guess = nearest(word, long_names(descs)); !guess.empty()) {
            message += " (did you mean " + quote(guess) + "?)";
        }
    }
    return message;
}

// Boost's messages, said the way the rest of the tool says them.
std::string option_error_message(const po::error& error, const Command& command) {
    if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&error)) {
        return unknown_option_message(unknown->get_option_name(), &command);
    }
    if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&error);
        syntax && syntax->kind() == po::invalid_syntax::missing_parameter) {
        return syntax->get_option_name() + " requires a value";
    }
    if (const auto* repeated = dynamic_cast<const po::multiple_occurrences*>(&error)) {
        return repeated->get_option_name() + " given more than once";
    }
    return error.what();
}

// The options of a command line without a command word: an error for the
// first one that is wrong there, else whether lookup's own are among them
// (then the run is a lookup: `hydra-status --stdin`).
struct OptionsWithoutCommand {
    std::string problem;
    bool lookup_options = false;
};

OptionsWithoutCommand options_without_command(const std::vector<std::string>& args) {
    const auto& catalog = OptionCatalog::get();
    OptionsWithoutCommand out;
    const auto* lookup = find_command("lookup");
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "--") {
            break;
        }
        if (arg.size() < 2 || arg.front() != '-') {
            continue;
        }
        const auto word = option_word(arg);
        const auto* option = find_option(catalog.global, word);
        if (!option) {
            for (const auto& [command, desc] : catalog.own) {
                if (command == lookup) {
                    option = find_option(*desc, word);
                }
            }
            out.lookup_options = out.lookup_options || option;
        }
        if (!option) {
            const auto owners = commands_with_option(word);
            out.problem = owners.empty()
                              ? unknown_option_message(word, nullptr)
                              : "option " + quote(word) + " goes after its command: hydra-status " +
                                    owners.front() + " " + word;
            return out;
        }
        if (takes_value(*option) && word == arg) {
            if (i + 1 == args.size()) {
                out.problem = word + " requires a value";
                return out;
            }
            ++i;
        }
    }
    return out;
}

int print_usage_error(const std::string& message) {
    std::fprintf(stderr, "hydra-status: error: %s\n%s", message.c_str(), k_usage);
    return static_cast<int>(ExitCode::usage);
}

// The command whose --help a usage error points to (report_error), set once
// run() knows it.
const char* g_help_command = nullptr;

// Counts and removes -v, --verbose and -vv... (repeatable) before option
// parsing; after "--" every argument stays.
int take_verbose(std::vector<std::string>& args) {
    int verbose = 0;
    std::vector<std::string> rest;
    bool options_end = false;
    for (auto& arg : args) {
        if (options_end) {
            rest.push_back(std::move(arg));
        } else if (arg == "-v" || arg == "--verbose") {
            ++verbose;
        } else if (arg.size() > 2 && arg.starts_with("-v") &&
                   arg.find_first_not_of('v', 1) == std::string::npos) {
            verbose += static_cast<int>(arg.size() - 1);
        } else {
            options_end = arg == "--";
            rest.push_back(std::move(arg));
        }
    }
    args = std::move(rest);
    return verbose;
}

// The command word: the first argument that is neither an option nor an
// option's value. After "--" every argument is a key.
struct CommandWord {
    const Command* command = nullptr; // none given (yet): see run_without_command
    size_t at = 0;                    // the word's index in args; args.size(): nothing to remove
    bool keys_follow = false;         // "--" and keys after it
    std::string problem;              // an unknown command word
};

CommandWord find_command_word(const std::vector<std::string>& args) {
    CommandWord word{nullptr, args.size(), false, {}};
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "--") {
            word.keys_follow = i + 1 < args.size();
            return word;
        }
        if (arg.size() > 1 && arg.front() == '-') {
            if (arg.find('=') == std::string::npos && option_takes_value(arg)) {
                ++i;
            }
            continue;
        }
        word.command = find_command(arg);
        word.at = i;
        if (!word.command && core::looks_like_key(arg)) {
            word.command = find_command("lookup");
            word.at = args.size(); // the key stays an argument
        } else if (!word.command) {
            word.problem = "unknown command " + quote(arg);
            if (const auto guess = nearest(arg, public_commands()); !guess.empty()) {
                word.problem += " (did you mean " + quote(guess) + "?)";
            }
        }
        return word;
    }
    return word;
}

// A command line without a command word: --version, --help, a usage error
// (its exit code), or nullopt when it is a lookup (`hydra-status -- KEY`,
// `hydra-status --stdin`).
std::optional<int> run_without_command(const std::vector<std::string>& args, bool keys_follow) {
    const auto before_keys = std::find(args.begin(), args.end(), "--");
    if (std::find(args.begin(), before_keys, "--version") != before_keys) {
        std::printf("hydra-status %s\n", HS_VERSION);
        return 0;
    }
    if (std::any_of(args.begin(), before_keys,
                    [](const auto& a) { return a == "--help" || a == "-h"; })) {
        std::fputs(k_usage, stdout);
        std::cout << '\n' << global_options() << "\nSee 'man hydra-status' for more.\n";
        return 0;
    }
    if (args.empty()) {
        return print_usage_error("no command given");
    }
    const auto options = options_without_command(args);
    if (!options.problem.empty()) {
        throw UsageError(options.problem);
    }
    if (!keys_follow && !options.lookup_options) {
        return print_usage_error("no command or key given");
    }
    return std::nullopt;
}

// The global and the command's own options and its arguments. Boost's option
// errors are rethrown as usage errors in the tool's words ("--db requires a
// value"), each pointing to this command's --help.
po::variables_map parse_options(const std::vector<std::string>& args, const Command& command,
                                const po::options_description& own) {
    po::options_description all;
    all.add(global_options()).add(own);
    all.add_options()("args", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("args", -1);
    po::variables_map options;
    try {
        po::store(po::command_line_parser(args).options(all).positional(positional).run(), options);
        po::notify(options);
    } catch (const po::error& error) {
        throw UsageError(option_error_message(error, command));
    }
    return options;
}

void print_command_help(const Command& command, const po::options_description& own) {
    std::cout << "usage: " << command.synopsis << "\n\n" << command.summary << "\n\n";
    if (!own.options().empty()) {
        std::cout << own << '\n';
    }
    std::cout << global_options() << "\nSee 'man hydra-status' for more.\n";
}

// The settings with every one given as an option of this command on top.
Settings load_settings(const po::variables_map& options) {
    std::map<std::string, std::string> given;
    for (const auto& spec : setting_specs()) {
        if (options.count(spec.key) && !options[spec.key].defaulted()) {
            const auto& value = options[spec.key].value();
            if (const auto* text = boost::any_cast<std::string>(&value)) {
                given[spec.key] = *text;
            } else if (boost::any_cast<bool>(&value) && boost::any_cast<bool>(value)) {
                given[spec.key] = "true";
            }
        }
    }
    const std::string config =
        options.count("config") ? options["config"].as<std::string>() : std::string();
    return Settings::load(given, config);
}

} // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
    // d[i][j]: distance of a[0, i) and b[0, j); three rows suffice.
    std::vector<size_t> before(b.size() + 1), last(b.size() + 1), row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        last[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({last[j] + 1, row[j - 1] + 1, last[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                row[j] = std::min(row[j], before[j - 2] + 1);
            }
        }
        std::swap(before, last);
        std::swap(last, row);
    }
    return last[b.size()];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
    const size_t limit = word.size() >= 5 ? 2 : 1;
    std::string best;
    size_t best_distance = limit + 1;
    for (const auto& candidate : candidates) {
        const auto distance = edit_distance(word, candidate);
        if (distance < best_distance && distance > 0) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

// Here, not in sync_cmd.cpp, so that hydra-status knows sync's options too
// (to skip their values and to point a misplaced -q to sync) without linking
// the real sync. The settings that tune a sync come from the settings table.
void sync_options(po::options_description& desc) {
    desc.add_options() //
        ("jobset", po::value<std::vector<std::string>>()->value_name("PROJECT:JOBSET"),
         "a jobset to sync; repeatable (default: config key 'jobsets')") //
        ("quiet,q", "no progress or summary on stderr (errors only)")    //
        ("no-verify", "with --from file:///DIR: accept a snapshot without checking its "
                      "signature");
}

void add_setting_options(po::options_description& desc, unsigned commands) {
    for (const auto& spec : setting_specs()) {
        if ((spec.options & commands) == 0) {
            continue;
        }
        const auto help = option_help(spec);
        if (spec.kind == SettingKind::boolean) {
            desc.add_options()(spec.key, po::bool_switch(), help.c_str());
        } else {
            desc.add_options()(spec.key,
                               po::value<std::string>()->value_name(option_value_name(spec)),
                               help.c_str());
        }
    }
}

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const int verbose = take_verbose(args);
    const auto word = find_command_word(args);
    if (!word.problem.empty()) {
        return print_usage_error(word.problem);
    }
    if (word.command && word.command->handoff) {
        word.command->handoff(argv);
    }
    if (!word.command) {
        if (const auto done = run_without_command(args, word.keys_follow)) {
            return *done;
        }
    }
    const Command& command = word.command ? *word.command : *find_command("lookup");
    g_help_command = command.name;
    if (word.at < args.size()) {
        args.erase(args.begin() + static_cast<ptrdiff_t>(word.at));
    }
    po::options_description own(std::string(command.name) + " options");
    command_options(command, own);
    Context ctx;
    ctx.options = parse_options(args, command, own);
    if (ctx.options.count("help")) {
        print_command_help(command, own);
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
    ctx.settings = load_settings(ctx.options);
    if (command.check == SettingsCheck::required) {
        ctx.settings.require_valid();
    }
    return command.run(ctx);
}

int report_error(const std::exception& error) noexcept {
    const auto print_try = [] {
        std::fprintf(stderr, "Try 'hydra-status %s%s--help' for more information.\n",
                     g_help_command ? g_help_command : "", g_help_command ? " " : "");
    };
    if (const auto* hs_error = dynamic_cast<const Error*>(&error)) {
        std::fprintf(stderr, "hydra-status: error: %s\n", hs_error->what());
        if (hs_error->code() == ExitCode::usage && dynamic_cast<const UsageError*>(&error)) {
            print_try();
        }
        return static_cast<int>(hs_error->code());
    }
    if (dynamic_cast<const po::error*>(&error)) {
        std::fprintf(stderr, "hydra-status: error: %s\n", error.what());
        print_try();
        return static_cast<int>(ExitCode::usage);
    }
    // Not one of ours: a bug or the system. Never 1, which says a failure
    // was found (a script would refuse a good build).
    if (dynamic_cast<const std::bad_alloc*>(&error)) {
        std::fprintf(stderr, "hydra-status: error: out of memory\n");
        return static_cast<int>(ExitCode::internal);
    }
    std::fprintf(stderr, "hydra-status: internal error: %s\n", error.what());
    return static_cast<int>(ExitCode::internal);
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
