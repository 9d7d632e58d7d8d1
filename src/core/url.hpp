#pragma once

#include <string>
#include <string_view>

namespace hs::core {

// Removes userinfo and query-string values that look like secrets from a URL
// for messages: "https://user:pw@h/x?token=1" -> "https://h/x?token=REDACTED".
// In core, not sync: `config show` prints the url without linking the network.
std::string redact_url(std::string_view url);

} // namespace hs::core
