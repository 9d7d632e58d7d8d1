#pragma once

// snapshot publish / keygen, and the decisions of sync --from and
// sync --publish (which run in hydra-status-sync, sync_cmd.cpp).

#include "cli/settings.hpp"
#include "snapshot/keys.hpp"
#include "snapshot/publish.hpp"
#include "snapshot/pull.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hs::cli {

// How sync --from reads its source, checked before anything is opened.
struct PullSource {
    bool file = false;  // file:// (else http(s)://)
    std::string dir;    // file://: the directory
    std::string shown;  // the URL without credentials: stored in the index, shown
    bool verify = true; // false with --no-verify
    std::vector<snapshot::PublicKey> trusted;
};
// UsageError for --no-verify with http(s)://, for no trusted-keys without
// --no-verify, and for --jobset with --from.
PullSource pull_source(const SettingValues& settings, bool no_verify, bool jobsets_given);

// "pulled a base and 2 deltas (evals 7, 8) from URL: 1.2 MiB in 3 requests,
// 0.4 s" / "nothing new at URL (snapshot of ..., 3 min old)".
std::string pull_summary_line(const snapshot::PullResult& result, const std::string& url,
                              uint64_t bytes, uint64_t requests, double seconds, int64_t now);

// The secret key of secret-key-file; UsageError when none is set, Error
// when the file cannot be read or holds no secret key.
snapshot::SecretKey load_secret_key(const SettingValues& settings);

// Publishes the index into dir (snapshot publish, sync --publish) and
// returns the line that says what it wrote.
std::string run_publish(const SettingValues& settings, const std::string& dir, int64_t now);
std::string publish_summary_line(const snapshot::PublishResult& result, const std::string& dir);

// Writes a new key pair's secret key to path (mode 0600; never over an
// existing file) and returns the public key. Error naming the file.
std::string write_key_pair(const std::string& name, const std::string& path);

} // namespace hs::cli
