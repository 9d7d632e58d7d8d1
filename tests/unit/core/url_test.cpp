#include "core/url.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace hs::core {
namespace {

struct RedactCase {
    const char* name;
    const char* url;
    const char* expected;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const RedactCase& c, std::ostream* os) {
    *os << c.name;
}

class RedactUrl : public testing::TestWithParam<RedactCase> {};

TEST_P(RedactUrl, RemovesSecrets) {
    EXPECT_EQ(redact_url(GetParam().url), GetParam().expected);
}

const RedactCase k_redact_cases[] = {
    {"Plain", "https://hydra.nixos.org/eval/1/builds", "https://hydra.nixos.org/eval/1/builds"},
    {"HeaderExample", "https://user:pw@h/x?token=1", "https://h/x?token=REDACTED"},
    {"UserOnly", "https://me@h/x", "https://h/x"},
    {"AtInPassword", "https://me:p@ss@h:8080/x", "https://h:8080/x"},
    {"AtInPathIsKept", "https://h/x@y", "https://h/x@y"},
    {"NoPath", "https://u:p@h", "https://h"},
    {"QueryWithoutPath", "https://u:p@h?key=1", "https://h?key=REDACTED"},
    {"PageIsKept", "https://h/jobset/p/j/evals?page=2", "https://h/jobset/p/j/evals?page=2"},
    {"SeveralParams", "https://h/x?page=2&api_key=abc&sig=zz&q=1",
     "https://h/x?page=2&api_key=REDACTED&sig=REDACTED&q=1"},
    {"CaseInsensitive", "https://h/x?AccessToken=abc&Password=x&X-Auth=y&client_secret=s",
     "https://h/x?AccessToken=REDACTED&Password=REDACTED&X-Auth=REDACTED&client_secret=REDACTED"},
    {"EmptyValue", "https://h/x?token=", "https://h/x?token=REDACTED"},
    {"NameWithoutValue", "https://h/x?token&a=1", "https://h/x?token&a=1"},
    {"FragmentKept", "https://h/x?token=1#frag", "https://h/x?token=REDACTED#frag"},
    {"EmptyQuery", "https://h/x?", "https://h/x?"},
    {"NoScheme", "h/x?secret=1", "h/x?secret=REDACTED"},
};

INSTANTIATE_TEST_SUITE_P(Table, RedactUrl, testing::ValuesIn(k_redact_cases),
                         [](const auto& row) { return std::string(row.param.name); });

} // namespace
} // namespace hs::core
