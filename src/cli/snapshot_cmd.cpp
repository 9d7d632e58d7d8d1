#include "cli/snapshot_cmd.hpp"

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/file.hpp"
#include "core/url.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace hs::cli {

namespace {

std::string evals_text(const std::vector<int64_t>& evals) {
    if (evals.empty()) {
        return {};
    }
    std::string out = evals.size() == 1 ? " (eval " : " (evals ";
    const size_t shown = std::min<size_t>(evals.size(), 6);
    for (size_t i = 0; i < shown; ++i) {
        out += (i ? ", " : "") + std::to_string(evals[i]);
    }
    if (shown < evals.size()) {
        out += ", ... " + std::to_string(evals.size() - shown) + " more";
    }
    return out + ")";
}

} // namespace

PullSource pull_source(const SettingValues& settings, bool no_verify, bool jobsets_given) {
    if (jobsets_given) {
        throw UsageError("--jobset and --from do not go together: a snapshot holds the "
                         "publisher's jobsets");
    }
    PullSource source;
    source.file = settings.from.starts_with("file://");
    source.shown = core::redact_url(settings.from);
    if (source.file) {
        auto dir = snapshot::file_url_path(settings.from);
        if (!dir) {
            throw UsageError("from: " + dir.error());
        }
        source.dir = *dir;
    }
    if (no_verify) {
        if (!source.file) {
            throw UsageError("--no-verify is only for a file:// source; over " +
                             source.shown.substr(0, source.shown.find(':')) +
                             " a snapshot must be signed by a key in trusted-keys");
        }
        source.verify = false;
        return source;
    }
    auto keys = snapshot::parse_public_keys(settings.trusted_keys);
    if (!keys) {
        throw UsageError("trusted-keys: " + keys.error());
    }
    if (keys->empty()) {
        throw UsageError("sync --from needs trusted-keys: the publisher's public key "
                         "(NAME:BASE64, from 'hydra-status snapshot keygen')");
    }
    source.trusted = std::move(*keys);
    return source;
}

std::string pull_summary_line(const snapshot::PullResult& result, const std::string& url,
                              uint64_t bytes, uint64_t requests, double seconds, int64_t now) {
    char tail[96];
    std::snprintf(tail, sizeof tail, ": %s in %llu request%s, %.1f s", human_bytes(bytes).c_str(),
                  static_cast<unsigned long long>(requests), requests == 1 ? "" : "s", seconds);
    if (!result.changed) {
        return "nothing new at " + url + " (snapshot made " + relative_age(result.created, now) +
               ")" + tail;
    }
    std::string what;
    if (result.base) {
        what = "a base";
        if (result.deltas > 0) {
            what += " and " + plural(result.deltas, "delta");
        }
    } else {
        what = plural(result.deltas, "delta");
    }
    return "pulled " + what + evals_text(result.evals) + " from " + url + tail;
}

snapshot::SecretKey load_secret_key(const SettingValues& settings) {
    if (settings.secret_key_file.empty()) {
        throw UsageError("publishing needs secret-key-file (make one with 'hydra-status "
                         "snapshot keygen NAME')");
    }
    auto text = read_whole_file(settings.secret_key_file);
    if (!text) {
        throw Error(settings.secret_key_file + ": " + text.error(), ExitCode::usage);
    }
    std::string trimmed = *text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) {
        trimmed.pop_back();
    }
    auto key = snapshot::parse_secret_key(trimmed);
    if (!key) {
        throw Error(settings.secret_key_file + ": " + key.error(), ExitCode::usage);
    }
    return std::move(*key);
}

std::string publish_summary_line(const snapshot::PublishResult& result, const std::string& dir) {
    if (!result.changed) {
        return "nothing new to publish in " + dir + " (manifest unchanged)";
    }
    std::string out = "published ";
    std::vector<int64_t> evals;
    uint64_t delta_bytes = 0;
    for (const auto& delta : result.new_deltas) {
        evals.insert(evals.end(), delta.evals.begin(), delta.evals.end());
        delta_bytes += delta.size;
    }
    if (result.new_base) {
        out += "a base (" + human_bytes(result.manifest.base.size) + ")";
        if (!result.new_deltas.empty()) {
            out += " and ";
        }
    }
    if (!result.new_deltas.empty()) {
        out += plural(result.new_deltas.size(), "delta") + " (" + human_bytes(delta_bytes) + ")" +
               evals_text(evals);
    }
    out += " in " + dir + "; the manifest names " + plural(result.manifest.deltas.size(), "delta");
    if (!result.pruned.empty()) {
        out += "; pruned " + plural(result.pruned.size(), "old file");
    }
    return out;
}

std::string run_publish(const SettingValues& settings, const std::string& dir, int64_t now) {
    snapshot::PublishOptions options;
    options.index_path = settings.db;
    options.dir = dir;
    options.key = load_secret_key(settings);
    options.hydra_url = core::redact_url(settings.url);
    options.keep_deltas = settings.snapshot_deltas;
    options.now = now;
    return publish_summary_line(snapshot::publish(options), dir);
}

std::string write_key_pair(const std::string& name, const std::string& path) {
    const auto pair = snapshot::generate_key_pair(name);
    const Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        throw Error(path + ": " + errno_text(errno) +
                        (errno == EEXIST ? " (a key is never overwritten)" : ""),
                    errno == EEXIST ? ExitCode::usage : ExitCode::failure);
    }
    const std::string text = pair.secret + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(fd.get()) != 0) {
        const int error = errno;
        ::unlink(path.c_str());
        throw Error(path + ": cannot write: " + errno_text(error));
    }
    return pair.public_key;
}

void snapshot_options(po::options_description& desc) {
    (void)desc;
}

int snapshot_command(Context& ctx) {
    if (ctx.args.empty()) {
        throw UsageError("snapshot: give 'publish DIR' or 'keygen NAME'");
    }
    const std::string& sub = ctx.args.front();
    const auto& settings = ctx.settings.values();
    if (sub == "publish") {
        if (ctx.args.size() != 2) {
            throw UsageError("snapshot publish takes one directory (got " +
                             std::to_string(ctx.args.size() - 1) + " arguments)");
        }
        const std::string line = run_publish(settings, ctx.args[1], unix_now());
        std::fprintf(stderr, "%s\n", line.c_str());
        return 0;
    }
    if (sub == "keygen") {
        if (ctx.args.size() != 2) {
            throw UsageError("snapshot keygen takes one key name, e.g. 'cache.example.org-1'");
        }
        const std::string& name = ctx.args[1];
        if (auto why = snapshot::check_key_name(name); !why.empty()) {
            throw UsageError(why);
        }
        const std::string path =
            settings.secret_key_file.empty() ? name + ".secret" : settings.secret_key_file;
        const std::string public_key = write_key_pair(name, path);
        std::printf("%s\n", public_key.c_str());
        std::fprintf(stderr,
                     "wrote the secret key to %s (keep it there, mode 0600); the public key "
                     "above goes into every client's trusted-keys\n",
                     path.c_str());
        return 0;
    }
    throw UsageError("snapshot: unknown subcommand " + quote(sub) + " (publish or keygen)");
}

} // namespace hs::cli
