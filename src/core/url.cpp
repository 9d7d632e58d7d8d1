#include "core/url.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <string>

namespace hs::core {

namespace {

// A query parameter whose value is not shown: its name mentions a secret.
bool is_secret_name(std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), ascii_lower);
    constexpr std::string_view k_words[] = {"token", "key", "secret", "pass", "auth", "sig"};
    return std::ranges::any_of(
        k_words, [&](std::string_view word) { return lower.find(word) != std::string::npos; });
}

} // namespace

std::string redact_url(std::string_view url) {
    std::string out;
    size_t rest = 0;
    const size_t scheme_end = url.find("://");
    if (scheme_end != std::string_view::npos) {
        const size_t authority_start = scheme_end + 3;
        size_t authority_end = url.find_first_of("/?#", authority_start);
        if (authority_end == std::string_view::npos) {
            authority_end = url.size();
        }
        const std::string_view authority =
            url.substr(authority_start, authority_end - authority_start);
        const size_t at = authority.rfind('@');
        out.append(url.substr(0, authority_start));
        out.append(at == std::string_view::npos ? authority : authority.substr(at + 1));
        rest = authority_end;
    }
    const size_t query_start = url.find('?', rest);
    if (query_start == std::string_view::npos) {
        out.append(url.substr(rest));
        return out;
    }
    out.append(url.substr(rest, query_start + 1 - rest));
    size_t query_end = url.find('#', query_start);
    if (query_end == std::string_view::npos) {
        query_end = url.size();
    }
    const std::string_view query = url.substr(query_start + 1, query_end - query_start - 1);
    size_t pos = 0;
    while (pos <= query.size()) {
        size_t amp = query.find('&', pos);
        if (amp == std::string_view::npos) {
            amp = query.size();
        }
        const std::string_view param = query.substr(pos, amp - pos);
        const size_t eq = param.find('=');
        if (eq != std::string_view::npos && is_secret_name(param.substr(0, eq))) {
            out.append(param.substr(0, eq + 1));
            out.append("REDACTED");
        } else {
            out.append(param);
        }
        if (amp < query.size()) {
            out += '&';
        }
        pos = amp + 1;
    }
    out.append(url.substr(query_end));
    return out;
}

} // namespace hs::core
