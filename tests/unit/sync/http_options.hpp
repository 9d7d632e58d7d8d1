#pragma once

#include "sync/http.hpp"

#include <chrono>

namespace hs::sync::test_http {

// HttpOptions for tests against the scripted server of tests/unit/support:
// no pause between requests, retries after milliseconds, a fixed jitter.
inline HttpOptions fast_http_options(int max_tries) {
    using namespace std::chrono_literals;
    HttpOptions options;
    options.user_agent = "hydra-status-test/1.0 (+https://example.invalid/hydra-status)";
    options.min_interval = 0ms;
    options.max_tries = max_tries;
    options.backoff_base = 10ms;
    options.backoff_ceiling = 50ms;
    options.connect_timeout = 5s;
    options.total_timeout = 20s;
    options.rng_seed = 42;
    return options;
}

} // namespace hs::sync::test_http
