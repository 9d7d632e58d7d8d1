#include "http_options.hpp"
#include "http_server.hpp"
#include "sync/http.hpp"
#include "sync/hydra_json.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace hs::sync {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Pure functions

TEST(FailureName, NamesEveryFailure) {
    EXPECT_EQ(failure_name(Failure::none), "none");
    EXPECT_EQ(failure_name(Failure::not_found), "not-found");
    EXPECT_EQ(failure_name(Failure::unauthorized), "unauthorized");
    EXPECT_EQ(failure_name(Failure::blocked), "blocked");
    EXPECT_EQ(failure_name(Failure::transient), "transient");
    EXPECT_EQ(failure_name(Failure::malformed), "malformed");
    EXPECT_EQ(failure_name(Failure::cancelled), "cancelled");
    EXPECT_EQ(failure_name(Failure::other), "other");
}

struct ClassifyCase {
    const char* name;
    long status;
    int curl_code;
    Failure expected;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const ClassifyCase& c, std::ostream* os) {
    *os << c.name;
}

class Classify : public testing::TestWithParam<ClassifyCase> {};

TEST_P(Classify, MapsStatusAndCurlCode) {
    const ClassifyCase& c = GetParam();
    EXPECT_EQ(failure_name(classify(c.status, c.curl_code)), failure_name(c.expected));
}

const ClassifyCase k_classify_cases[] = {
    {"Ok", 200, CURLE_OK, Failure::none},
    {"NoContent", 204, CURLE_OK, Failure::none},
    {"NotFound", 404, CURLE_OK, Failure::not_found},
    {"Gone", 410, CURLE_OK, Failure::not_found},
    {"Unauthorized", 401, CURLE_OK, Failure::unauthorized},
    {"Forbidden", 403, CURLE_OK, Failure::unauthorized},
    {"RequestTimeout", 408, CURLE_OK, Failure::transient},
    {"TooManyRequests", 429, CURLE_OK, Failure::transient},
    {"InternalError", 500, CURLE_OK, Failure::transient},
    {"BadGateway", 502, CURLE_OK, Failure::transient},
    {"Unavailable", 503, CURLE_OK, Failure::transient},
    {"GatewayTimeout", 504, CURLE_OK, Failure::transient},
    {"BadRequest", 400, CURLE_OK, Failure::other},
    {"Teapot", 418, CURLE_OK, Failure::other},
    {"NotImplemented", 501, CURLE_OK, Failure::other},
    {"RedirectNotFollowed", 302, CURLE_OK, Failure::other},
    {"NoStatus", 0, CURLE_OK, Failure::other},
    {"ConnectionRefused", 0, CURLE_COULDNT_CONNECT, Failure::transient},
    {"ResolveFailed", 0, CURLE_COULDNT_RESOLVE_HOST, Failure::transient},
    {"Truncated", 200, CURLE_PARTIAL_FILE, Failure::transient},
    {"TimedOut", 0, CURLE_OPERATION_TIMEDOUT, Failure::transient},
    {"ConnectionReset", 0, CURLE_RECV_ERROR, Failure::transient},
    {"SendFailed", 0, CURLE_SEND_ERROR, Failure::transient},
    {"GotNothing", 0, CURLE_GOT_NOTHING, Failure::transient},
    {"RedirectLoop", 301, CURLE_TOO_MANY_REDIRECTS, Failure::other},
    {"BadCertificate", 0, CURLE_PEER_FAILED_VERIFICATION, Failure::other},
    {"UnsupportedProtocol", 0, CURLE_UNSUPPORTED_PROTOCOL, Failure::other},
    {"SinkRefused", 200, CURLE_WRITE_ERROR, Failure::malformed},
    {"CorruptGzip", 200, CURLE_BAD_CONTENT_ENCODING, Failure::malformed},
    {"AbortedByStop", 200, CURLE_ABORTED_BY_CALLBACK, Failure::cancelled},
    {"ErrorStatusWinsOverBodyError", 404, CURLE_PARTIAL_FILE, Failure::not_found},
    {"UnavailableWithTruncatedBody", 503, CURLE_RECV_ERROR, Failure::transient},
};

INSTANTIATE_TEST_SUITE_P(Table, Classify, testing::ValuesIn(k_classify_cases),
                         [](const auto& row) { return std::string(row.param.name); });

struct GaveUpCase {
    const char* name;
    long status;
    int curl_code;
    bool expected;
};

void PrintTo(const GaveUpCase& c, std::ostream* os) {
    *os << c.name;
}

class GaveUp : public testing::TestWithParam<GaveUpCase> {};

TEST_P(GaveUp, IsA504ATimeoutOrAReset) {
    const GaveUpCase& c = GetParam();
    EXPECT_EQ(gave_up(c.status, c.curl_code), c.expected);
}

const GaveUpCase k_gave_up_cases[] = {
    {"GatewayTimeout", 504, CURLE_OK, true},
    {"GatewayTimeoutWithTruncatedBody", 504, CURLE_PARTIAL_FILE, true},
    {"TimedOut", 0, CURLE_OPERATION_TIMEDOUT, true},
    {"TimedOutInTheBody", 200, CURLE_OPERATION_TIMEDOUT, true},
    {"ResetWhileReceiving", 0, CURLE_RECV_ERROR, true},
    {"ResetWhileSending", 0, CURLE_SEND_ERROR, true},
    {"ClosedWithoutAnswer", 0, CURLE_GOT_NOTHING, true},
    {"ClosedInTheBody", 200, CURLE_PARTIAL_FILE, true},
    {"Ok", 200, CURLE_OK, false},
    {"Unavailable", 503, CURLE_OK, false},
    {"TooManyRequests", 429, CURLE_OK, false},
    {"BadGateway", 502, CURLE_OK, false},
    {"InternalError", 500, CURLE_OK, false},
    {"ConnectionRefused", 0, CURLE_COULDNT_CONNECT, false},
    {"NotFoundWithTruncatedBody", 404, CURLE_PARTIAL_FILE, false},
    {"SinkRefused", 200, CURLE_WRITE_ERROR, false},
};

INSTANTIATE_TEST_SUITE_P(Table, GaveUp, testing::ValuesIn(k_gave_up_cases),
                         [](const auto& row) { return std::string(row.param.name); });

struct BackoffCase {
    const char* name;
    int attempt;
    milliseconds base;
    milliseconds ceiling;
    std::optional<milliseconds> retry_after;
    milliseconds low;
    milliseconds high;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const BackoffCase& c, std::ostream* os) {
    *os << c.name;
}

class BackoffDelay : public testing::TestWithParam<BackoffCase> {};

TEST_P(BackoffDelay, StaysInRangeAndCoversIt) {
    const BackoffCase& c = GetParam();
    std::mt19937_64 rng(7);
    milliseconds smallest = milliseconds::max();
    milliseconds largest = milliseconds::min();
    for (int i = 0; i < 4000; ++i) {
        const milliseconds delay = backoff_delay(c.attempt, c.base, c.ceiling, c.retry_after, rng);
        ASSERT_GE(delay, c.low);
        ASSERT_LE(delay, c.high);
        smallest = std::min(smallest, delay);
        largest = std::max(largest, delay);
    }
    // Full jitter: the draws spread over the whole range.
    const auto spread = (c.high - c.low) / 10;
    EXPECT_LE(smallest, c.low + spread);
    EXPECT_GE(largest, c.high - spread);
}

const BackoffCase k_backoff_cases[] = {
    {"FirstRetryUpToBase", 1, 1000ms, 300'000ms, std::nullopt, 0ms, 1000ms},
    {"SecondRetryDoubles", 2, 1000ms, 300'000ms, std::nullopt, 0ms, 2000ms},
    {"FifthRetry", 5, 1000ms, 300'000ms, std::nullopt, 0ms, 16'000ms},
    {"CappedByCeiling", 12, 1000ms, 300'000ms, std::nullopt, 0ms, 300'000ms},
    {"HugeAttemptDoesNotOverflow", 10'000, 1000ms, 300'000ms, std::nullopt, 0ms, 300'000ms},
    {"BaseAboveCeiling", 1, 10'000ms, 5000ms, std::nullopt, 0ms, 5000ms},
    {"ZeroAttemptActsAsFirst", 0, 100ms, 1000ms, std::nullopt, 0ms, 100ms},
    {"RetryAfterIsAFloor", 1, 1000ms, 300'000ms, 600ms, 600ms, 1000ms},
    {"RetryAfterAboveJitter", 1, 1000ms, 300'000ms, 2000ms, 2000ms, 2000ms},
    {"RetryAfterAboveCeilingIsObeyed", 3, 1000ms, 3000ms, 120'000ms, 120'000ms, 120'000ms},
    {"ZeroRetryAfter", 2, 100ms, 1000ms, 0ms, 0ms, 200ms},
};

INSTANTIATE_TEST_SUITE_P(Table, BackoffDelay, testing::ValuesIn(k_backoff_cases),
                         [](const auto& row) { return std::string(row.param.name); });

TEST(BackoffDelayRng, IsDeterministicForASeed) {
    std::mt19937_64 a(12345);
    std::mt19937_64 b(12345);
    std::vector<milliseconds> first;
    std::vector<milliseconds> second;
    for (int attempt = 1; attempt <= 8; ++attempt) {
        first.push_back(backoff_delay(attempt, 1000ms, 300'000ms, std::nullopt, a));
        second.push_back(backoff_delay(attempt, 1000ms, 300'000ms, std::nullopt, b));
    }
    EXPECT_EQ(first, second);
    EXPECT_NE(std::count(first.begin(), first.end(), first.front()), 8); // not a constant
}

struct RetryAfterCase {
    const char* name;
    const char* value;
    std::optional<milliseconds> expected;
};

// Names the case in ctest's listing (gtest would print the raw bytes).
void PrintTo(const RetryAfterCase& c, std::ostream* os) {
    *os << c.name;
}

class ParseRetryAfter : public testing::TestWithParam<RetryAfterCase> {};

// 60 s before "Wed, 21 Oct 2015 07:28:00 GMT" (1445412480).
const auto k_now = std::chrono::system_clock::from_time_t(1445412420);

TEST_P(ParseRetryAfter, ParsesSecondsAndDates) {
    const RetryAfterCase& c = GetParam();
    const auto parsed = parse_retry_after(c.value, k_now);
    ASSERT_EQ(parsed.has_value(), c.expected.has_value()) << c.value;
    if (c.expected) {
        EXPECT_EQ(parsed->count(), c.expected->count()) << c.value;
    }
}

const RetryAfterCase k_retry_after_cases[] = {
    {"Seconds", "120", 120'000ms},
    {"SecondsWithBlanks", "  5 ", 5000ms},
    {"SecondsWithTab", "\t7", 7000ms},
    {"Zero", "0", 0ms},
    {"ImfFixdate", "Wed, 21 Oct 2015 07:28:00 GMT", 60'000ms},
    {"ImfFixdateWithBlanks", " Wed, 21 Oct 2015 07:29:00 GMT ", 120'000ms},
    {"Rfc850Date", "Wednesday, 21-Oct-15 07:28:30 GMT", 90'000ms},
    {"AsctimeDate", "Wed Oct 21 07:28:00 2015", 60'000ms},
    {"NowIsZero", "Wed, 21 Oct 2015 07:27:00 GMT", 0ms},
    {"PastDateIsZero", "Tue, 20 Oct 2015 07:28:00 GMT", 0ms},
    {"Empty", "", std::nullopt},
    {"Blank", "   ", std::nullopt},
    {"Garbage", "garbage", std::nullopt},
    {"Negative", "-5", std::nullopt},
    {"Plus", "+5", std::nullopt},
    {"Fraction", "1.5", std::nullopt},
    {"Unit", "5s", std::nullopt},
    {"Overflow", "99999999999999999999999", std::nullopt},
    {"DateWithoutTime", "Wed, 21 Oct 2015", std::nullopt},
    {"NotADate", "soon: please", std::nullopt},
};

INSTANTIATE_TEST_SUITE_P(Table, ParseRetryAfter, testing::ValuesIn(k_retry_after_cases),
                         [](const auto& row) { return std::string(row.param.name); });

TEST(StringSink, KeepsBodyAndRefusesMoreThanItsLimit) {
    StringSink sink(10);
    EXPECT_TRUE(sink.write("12345"));
    EXPECT_TRUE(sink.write("67890"));
    EXPECT_EQ(sink.body(), "1234567890");
    EXPECT_FALSE(sink.write("x"));
    EXPECT_EQ(sink.error(), "answer larger than 10 bytes");
    sink.reset();
    EXPECT_EQ(sink.body(), "");
    EXPECT_TRUE(sink.write("abc"));
    EXPECT_TRUE(sink.finish());
}

// ---------------------------------------------------------------------------
// HttpClient against the scripted server of tests/unit/support

using test::json;
using test::Reply;
using test::Request;
using test::status_reply;
using test::TestServer;
using test::with_header;
using test::with_mode;

HttpOptions test_options() {
    HttpOptions options = test_http::fast_http_options(4);
    options.read_error_body = parse_error_body;
    return options;
}

// A sink that counts how often it was reset.
class CountingSink : public StringSink {
public:
    void reset() override {
        ++resets;
        StringSink::reset();
    }
    int resets = 0;
};

// A sink whose finish() rejects the body, like a parser finding bad JSON.
class RejectingSink : public StringSink {
public:
    bool finish() override { return false; }
    std::string error() const override { return "expected '[' at byte 0"; }
};

const std::string k_json = R"({"id": 9, "finished": 1})";

TEST(HttpClient, FetchesJsonWithPoliteHeaders) {
    TestServer server({json(k_json)});
    HttpClient client(test_options());
    CountingSink sink;
    const FetchResult result = client.get_json(server.url("/build/9"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(sink.body(), k_json);
    EXPECT_EQ(result.http_status, 200);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.bytes, k_json.size());
    EXPECT_EQ(result.message, "");
    EXPECT_EQ(sink.resets, 1);
    EXPECT_EQ(client.requests(), 1U);
    EXPECT_EQ(client.bytes(), k_json.size());
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].target, "/build/9");
    EXPECT_EQ(requests[0].headers.at("accept"), "application/json");
    EXPECT_EQ(requests[0].headers.at("user-agent"), test_options().user_agent);
    EXPECT_NE(requests[0].headers.at("accept-encoding").find("gzip"), std::string::npos);
}

TEST(HttpClient, AcceptsJsonWithCharset) {
    Reply reply = json(k_json);
    reply.content_type = "Application/JSON; charset=utf-8";
    TestServer server({reply});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(sink.body(), k_json);
}

TEST(HttpClient, ReusesTheConnection) {
    TestServer server({json("[1]"), json("[2]")});
    HttpClient client(test_options());
    StringSink sink;
    ASSERT_TRUE(client.get_json(server.url("/a"), sink).ok());
    EXPECT_EQ(sink.body(), "[1]");
    ASSERT_TRUE(client.get_json(server.url("/b"), sink).ok());
    EXPECT_EQ(sink.body(), "[2]");
    EXPECT_EQ(client.requests(), 2U);
    EXPECT_EQ(server.requests().size(), 2U);
    EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, PacesRequestStarts) {
    TestServer server({json("[1]"), json("[2]")});
    HttpOptions options = test_options();
    options.min_interval = 200ms;
    HttpClient client(options);
    StringSink sink;
    const auto before = Clock::now();
    ASSERT_TRUE(client.get_json(server.url("/a"), sink).ok());
    ASSERT_TRUE(client.get_json(server.url("/b"), sink).ok());
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_GE(requests[1].arrival - before, 200ms);
}

TEST(HttpClient, PacesRetries) {
    TestServer server({status_reply(503), json("[1]")});
    HttpOptions options = test_options();
    options.min_interval = 200ms;
    HttpClient client(options);
    StringSink sink;
    const auto before = Clock::now();
    const FetchResult result = client.get_json(server.url("/a"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 2);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_GE(requests[1].arrival - before, 200ms);
}

TEST(HttpClient, RetriesUnavailableAndResetsTheSink) {
    TestServer server({status_reply(503), status_reply(503), json(k_json)});
    HttpClient client(test_options());
    CountingSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1/builds"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 3);
    EXPECT_EQ(sink.resets, 3);
    EXPECT_EQ(sink.body(), k_json);
    EXPECT_EQ(client.requests(), 3U);
    EXPECT_EQ(server.requests().size(), 3U);
}

TEST(HttpClient, GivesUpAfterMaxTries) {
    TestServer server({status_reply(502), status_reply(502), status_reply(502), json("[]")});
    HttpOptions options = test_options();
    options.max_tries = 3;
    HttpClient client(options);
    StringSink sink;
    const std::string url = server.url("/eval/1");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::transient);
    EXPECT_EQ(result.http_status, 502);
    EXPECT_EQ(result.tries, 3);
    EXPECT_EQ(result.message,
              "unable to download '" + url + "': HTTP error 502 (gave up after 3 tries)");
    EXPECT_EQ(server.requests().size(), 3U);
}

TEST(HttpClient, ObeysRetryAfter) {
    TestServer server({with_header(status_reply(429), "Retry-After", "1"), json(k_json)});
    HttpClient client(test_options()); // backoff ceiling 50 ms: only Retry-After explains 1 s
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 2);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_GE(requests[1].arrival - requests[0].arrival, 1000ms);
}

TEST(HttpClient, TellsRetryAfterWaitsSecondBySecond) {
    TestServer server({with_header(status_reply(429), "Retry-After", "2"), json(k_json)});
    HttpOptions options = test_options();
    std::vector<RetryWait> waits;
    options.on_retry_wait = [&waits](const RetryWait& wait) { waits.push_back(wait); };
    HttpClient client(options);
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/jobset/p/j/evals"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    ASSERT_EQ(waits.size(), 3U); // 2 s left, 1 s left, over
    for (const auto& wait : waits) {
        EXPECT_EQ(wait.delay, 2000ms);
        EXPECT_TRUE(wait.server_asked);
        EXPECT_EQ(wait.next_try, 2);
        EXPECT_EQ(wait.max_tries, 4);
        EXPECT_EQ(wait.reason, "HTTP error 429");
    }
    EXPECT_EQ(waits[0].remaining, 2000ms);
    EXPECT_EQ(waits[1].remaining, 1000ms);
    EXPECT_EQ(waits[2].remaining, 0ms);
}

TEST(HttpClient, TellsBackoffWaitsWithTheReason) {
    TestServer server({status_reply(503), json(k_json)});
    HttpOptions options = test_options();
    std::vector<RetryWait> waits;
    options.on_retry_wait = [&waits](const RetryWait& wait) { waits.push_back(wait); };
    HttpClient client(options);
    StringSink sink;
    ASSERT_TRUE(client.get_json(server.url("/eval/1"), sink).ok());
    ASSERT_FALSE(waits.empty());
    EXPECT_FALSE(waits.front().server_asked);
    EXPECT_EQ(waits.front().reason.rfind("HTTP error 503", 0), 0U) << waits.front().reason;
    EXPECT_LE(waits.front().delay, 50ms); // the test's backoff ceiling
    EXPECT_EQ(waits.back().remaining, 0ms);
}

TEST(HttpClient, GivesUpOnRetryAfterOverAnHour) {
    TestServer server({with_header(status_reply(503), "Retry-After", "7200"), json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const auto before = Clock::now();
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    EXPECT_LT(Clock::now() - before, 2s);
    EXPECT_EQ(result.failure, Failure::transient);
    EXPECT_EQ(result.tries, 1);
    EXPECT_NE(result.message.find("HTTP error 503"), std::string::npos) << result.message;
    EXPECT_NE(result.message.find("7200 s, longer than 1 hour"), std::string::npos)
        << result.message;
}

TEST(HttpClient, StopFlagCancelsALongWait) {
    TestServer server({with_header(status_reply(503), "Retry-After", "30"), json(k_json)});
    std::atomic<bool> stop{false};
    HttpOptions options = test_options();
    options.stop = &stop;
    HttpClient client(options);
    StringSink sink;
    std::thread stopper([&stop] {
        std::this_thread::sleep_for(100ms);
        stop = true;
    });
    const auto before = Clock::now();
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    const auto elapsed = Clock::now() - before;
    stopper.join();
    EXPECT_EQ(result.failure, Failure::cancelled);
    EXPECT_NE(result.message.find("interrupted"), std::string::npos) << result.message;
    EXPECT_LT(elapsed, 2s);
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpClient, StopFlagAbortsARunningTransfer) {
    TestServer server({with_mode(json("[1,"), Reply::Mode::stall)});
    std::atomic<bool> stop{false};
    HttpOptions options = test_options();
    options.stop = &stop;
    HttpClient client(options);
    StringSink sink;
    std::thread stopper([&stop] {
        std::this_thread::sleep_for(100ms);
        stop = true;
    });
    const auto before = Clock::now();
    const FetchResult result = client.get_json(server.url("/eval/1/builds"), sink);
    const auto elapsed = Clock::now() - before;
    stopper.join();
    EXPECT_EQ(result.failure, Failure::cancelled);
    EXPECT_EQ(result.tries, 1);
    EXPECT_LT(elapsed, 3s);
}

TEST(HttpClient, StopFlagSetBeforehandSendsNothing) {
    TestServer server({json(k_json)});
    std::atomic<bool> stop{true};
    HttpOptions options = test_options();
    options.stop = &stop;
    HttpClient client(options);
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    EXPECT_EQ(result.failure, Failure::cancelled);
    EXPECT_EQ(result.tries, 0);
    EXPECT_EQ(client.requests(), 0U);
}

TEST(HttpClient, HtmlAnswerIsBlocked) {
    Reply reply = json("<!DOCTYPE html><html><body>nonsense</body></html>");
    reply.content_type = "text/html; charset=UTF-8";
    TestServer server({reply, json(k_json)});
    HttpClient client(test_options());
    CountingSink sink;
    const std::string url = server.url("/eval/3");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::blocked);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(sink.body(), "");
    EXPECT_EQ(result.message, "unable to download '" + url +
                                  "': Hydra answered 'text/html; charset=UTF-8' instead of JSON "
                                  "(a bot filter, or a missing Accept: application/json header)");
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpClient, GetHtmlAsksForHtmlOnceAndTheNextRequestForJsonAgain) {
    const std::string page = "<!DOCTYPE html><title>Hydra - Evaluations of jobset p:j</title>";
    Reply reply = json(page);
    reply.content_type = "text/html; charset=UTF-8";
    TestServer server({reply, json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_html(server.url("/jobset/p/j/evals"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(sink.body(), page);
    StringSink second;
    ASSERT_TRUE(client.get_json(server.url("/build/9"), second).ok());
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(requests[0].headers.at("accept"), "text/html");
    EXPECT_EQ(requests[1].headers.at("accept"), "application/json");
}

TEST(HttpClient, GetHtmlRefusesAnotherContentType) {
    TestServer server({json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const std::string url = server.url("/jobset/p/j/evals");
    const FetchResult result = client.get_html(url, sink);
    EXPECT_EQ(result.failure, Failure::blocked);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(sink.body(), "");
    EXPECT_EQ(result.message, "unable to download '" + url +
                                  "': Hydra answered 'application/json' instead of HTML");
}

TEST(HttpClient, HtmlLabelledAsJsonIsBlocked) {
    TestServer server({json(" \n <html>nonsense</html>")});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/3"), sink);
    EXPECT_EQ(result.failure, Failure::blocked);
    EXPECT_EQ(result.tries, 1);
    EXPECT_NE(result.message.find("Hydra answered HTML labelled as JSON"), std::string::npos)
        << result.message;
}

TEST(HttpClient, AnswerWithoutContentTypeIsBlocked) {
    Reply reply = json(k_json);
    reply.content_type = "";
    TestServer server({reply});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/3"), sink);
    EXPECT_EQ(result.failure, Failure::blocked);
    EXPECT_NE(result.message.find("without a Content-Type"), std::string::npos) << result.message;
}

TEST(HttpClient, EmptyHtmlAnswerIsBlocked) {
    Reply reply = json("");
    reply.content_type = "text/html";
    TestServer server({reply});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/3"), sink);
    EXPECT_EQ(result.failure, Failure::blocked);
}

TEST(HttpClient, RetriesAConnectionReset) {
    TestServer server({with_mode(json(""), Reply::Mode::reset), json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 2);
    EXPECT_EQ(sink.body(), k_json);
}

TEST(HttpClient, RetriesAGatewayTimeoutByDefault) {
    TestServer server({status_reply(504), json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1/builds"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 2);
    EXPECT_FALSE(result.gave_up);
}

// Retries::unless_server_gave_up: one try of a request that a 504, a timeout
// or a reset ends; the answer that would follow is never asked for.
FetchResult get_once(TestServer& server, HttpClient& client) {
    StringSink sink;
    return client.get_json(server.url("/eval/1/builds"), sink, {}, Retries::unless_server_gave_up);
}

TEST(HttpClient, GatewayTimeoutIsNotRetriedWhenAsked) {
    TestServer server({status_reply(504), json(k_json)});
    HttpClient client(test_options());
    const FetchResult result = get_once(server, client);
    EXPECT_EQ(result.failure, Failure::transient);
    EXPECT_TRUE(result.gave_up);
    EXPECT_EQ(result.http_status, 504);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.message,
              "unable to download '" + server.url("/eval/1/builds") + "': HTTP error 504");
    EXPECT_EQ(server.requests().size(), 1U);
    EXPECT_EQ(client.requests(), 1U);
}

TEST(HttpClient, ResetIsNotRetriedWhenAsked) {
    TestServer server({with_mode(json(""), Reply::Mode::reset), json(k_json)});
    HttpClient client(test_options());
    const FetchResult result = get_once(server, client);
    EXPECT_EQ(result.failure, Failure::transient);
    EXPECT_TRUE(result.gave_up);
    EXPECT_EQ(result.tries, 1);
    // libcurl itself may send a request again once on a fresh connection
    // that died before any answer; the client never does.
    EXPECT_EQ(client.requests(), 1U);
}

TEST(HttpClient, TruncatedBodyIsNotRetriedWhenAsked) {
    TestServer server(
        {with_mode(json(R"([{"id": 1}, {"id")"), Reply::Mode::truncated), json(k_json)});
    HttpClient client(test_options());
    const FetchResult result = get_once(server, client);
    EXPECT_TRUE(result.gave_up);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpClient, TimeoutIsNotRetriedWhenAsked) {
    TestServer server({with_mode(json("[1,"), Reply::Mode::stall), json(k_json)});
    HttpOptions options = test_options();
    options.total_timeout = 1s;
    HttpClient client(options);
    const FetchResult result = get_once(server, client);
    EXPECT_EQ(result.failure, Failure::transient);
    EXPECT_TRUE(result.gave_up);
    EXPECT_EQ(result.tries, 1);
    EXPECT_NE(result.message.find("timed out"), std::string::npos) << result.message;
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpClient, UnavailableAndTooManyRequestsAreStillRetriedWhenAsked) {
    TestServer server({with_header(status_reply(503), "Retry-After", "1"), status_reply(429),
                       status_reply(502), json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result =
        client.get_json(server.url("/eval/1/builds"), sink, {}, Retries::unless_server_gave_up);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 4);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 4U);
    EXPECT_GE(requests[1].arrival - requests[0].arrival, 1000ms); // Retry-After obeyed
}

TEST(HttpClient, RetriesATruncatedBodyFromScratch) {
    TestServer server(
        {with_mode(json(R"([{"id": 1}, {"id")"), Reply::Mode::truncated), json(k_json)});
    HttpClient client(test_options());
    CountingSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1/builds"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.tries, 2);
    EXPECT_EQ(sink.resets, 2);
    EXPECT_EQ(sink.body(), k_json);
    EXPECT_EQ(client.requests(), 2U);
}

TEST(HttpClient, ConnectionRefusedIsTransient) {
    // A port that was free a moment ago.
    uint16_t port = 0;
    {
        TestServer closed({});
        const std::string url = closed.url("");
        port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    }
    HttpOptions options = test_options();
    options.max_tries = 2;
    HttpClient client(options);
    StringSink sink;
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/eval/1";
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::transient);
    EXPECT_EQ(result.tries, 2);
    EXPECT_EQ(client.requests(), 2U);
    EXPECT_EQ(result.message.rfind("unable to download '" + url + "': ", 0), 0U) << result.message;
    EXPECT_NE(result.message.find("gave up after 2 tries"), std::string::npos) << result.message;
}

// {"compressed": true, "padding": "xxx…"} (200 x), from Python's
// gzip.compress(body, mtime=0).
const unsigned char k_gzip_body[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x4a, 0xce, 0xcf,
    0x2d, 0x28, 0x4a, 0x2d, 0x2e, 0x4e, 0x4d, 0x51, 0xb2, 0x52, 0x28, 0x29, 0x2a, 0x4d, 0xd5,
    0x51, 0x50, 0x2a, 0x48, 0x4c, 0x49, 0xc9, 0xcc, 0x4b, 0x07, 0x0a, 0x28, 0x55, 0x0c, 0x13,
    0xa0, 0x54, 0x0b, 0x00, 0xb6, 0x6b, 0x21, 0xec, 0xeb, 0x00, 0x00, 0x00};

TEST(HttpClient, DecompressesGzip) {
    const std::string compressed(reinterpret_cast<const char*>(k_gzip_body), sizeof k_gzip_body);
    TestServer server({with_header(json(compressed), "Content-Encoding", "gzip")});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1/builds"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    const std::string expected =
        R"({"compressed": true, "padding": ")" + std::string(200, 'x') + R"("})";
    EXPECT_EQ(sink.body(), expected);
    EXPECT_EQ(result.bytes, expected.size());
    EXPECT_EQ(client.bytes(), compressed.size()); // over the wire
}

TEST(HttpClient, SizeLimitCountsDecompressedBytes) {
    const std::string compressed(reinterpret_cast<const char*>(k_gzip_body), sizeof k_gzip_body);
    TestServer server({with_header(json(compressed), "Content-Encoding", "gzip")});
    HttpOptions options = test_options();
    options.max_body_bytes = 100; // more than the 57 compressed bytes, less than 235
    HttpClient client(options);
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1/builds"), sink);
    EXPECT_EQ(result.failure, Failure::malformed);
    EXPECT_NE(result.message.find("answer larger than 100 bytes"), std::string::npos)
        << result.message;
}

TEST(HttpClient, RejectsABodyOverTheLimitWithoutRetry) {
    TestServer server({json("[" + std::string(1000, '1') + "]"), json("[]")});
    HttpOptions options = test_options();
    options.max_body_bytes = 100;
    HttpClient client(options);
    StringSink sink;
    const std::string url = server.url("/eval/1/builds");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::malformed);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.message, "unable to download '" + url + "': answer larger than 100 bytes");
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpClient, SinkRejectionIsMalformedWithoutRetry) {
    TestServer server({json("not json"), json("[]")});
    HttpClient client(test_options());
    RejectingSink sink;
    const std::string url = server.url("/eval/1");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::malformed);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.message, "unable to download '" + url + "': expected '[' at byte 0");
}

TEST(HttpClient, SinkWriteRefusalIsMalformed) {
    TestServer server({json("[" + std::string(100, '1') + "]")});
    HttpClient client(test_options());
    StringSink sink(10);
    const std::string url = server.url("/eval/1");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::malformed);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.message, "unable to download '" + url + "': answer larger than 10 bytes");
}

TEST(HttpClient, FollowsRedirectsKeepingAccept) {
    TestServer server(
        {with_header(status_reply(301, ""), "Location", "/jobset/p/new/evals"), json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/jobset/p/old/evals"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(sink.body(), k_json);
    EXPECT_EQ(result.tries, 1);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(requests[1].target, "/jobset/p/new/evals");
    EXPECT_EQ(requests[1].headers.at("accept"), "application/json");
    EXPECT_EQ(requests[1].headers.at("user-agent"), test_options().user_agent);
}

TEST(HttpClient, StopsARedirectLoop) {
    std::vector<Reply> script(4,
                              with_header(status_reply(302, "redirecting"), "Location", "/loop"));
    script.push_back(json(k_json));
    TestServer server(script);
    HttpOptions options = test_options();
    options.max_redirects = 3;
    HttpClient client(options);
    StringSink sink;
    const std::string url = server.url("/loop");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::other);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.message,
              "unable to download '" + url + "': redirect loop (more than 3 redirects)");
    EXPECT_EQ(server.requests().size(), 4U);
}

TEST(HttpClient, RefusesRedirectsToOtherProtocols) {
    TestServer server({with_header(status_reply(302, ""), "Location", "file:///etc/passwd")});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/x"), sink);
    EXPECT_EQ(result.failure, Failure::other);
    EXPECT_EQ(sink.body(), "");
}

TEST(HttpClient, ReportsHydraErrorMessageWithRedactedUrl) {
    TestServer server(
        {status_reply(404, R"({"error":"Build with ID 9 doesn\u0027t exist."})"), json(k_json)});
    HttpClient client(test_options());
    StringSink sink;
    const std::string url = server.url("/build/9?token=s3cret");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::not_found);
    EXPECT_EQ(result.http_status, 404);
    EXPECT_EQ(result.tries, 1);
    EXPECT_EQ(result.message, "unable to download '" + server.url("/build/9?token=REDACTED") +
                                  "': HTTP error 404 (Build with ID 9 doesn't exist.)");
    EXPECT_EQ(sink.body(), "");
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpClient, ErrorMessageSkipsOtherMembers) {
    TestServer server({status_reply(403, R"({"data": {"a": [1, "}"]}, "n": -1.5e3, "ok": false,)"
                                         R"( "error": "Access denied.\nGo away"})")});
    HttpClient client(test_options());
    StringSink sink;
    const std::string url = server.url("/eval/1");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::unauthorized);
    EXPECT_EQ(result.message,
              "unable to download '" + url + "': HTTP error 403 (Access denied. Go away)");
}

TEST(HttpClient, ErrorMessageEscapesC1Controls) {
    // U+009B is CSI for some terminals; a line break still reads as a blank.
    TestServer server({status_reply(403, "{\"error\": \"no\xc2\x9b"
                                         "2J\\nway\"}")});
    HttpClient client(test_options());
    StringSink sink;
    const std::string url = server.url("/eval/1");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.message,
              "unable to download '" + url + "': HTTP error 403 (no\\xc2\\x9b2J way)");
}

TEST(HttpClient, ErrorBodyIsNotReadWithoutAReader) {
    TestServer server({status_reply(404, R"({"error":"Build with ID 9 doesn't exist."})")});
    HttpOptions options = test_options();
    options.read_error_body = nullptr;
    HttpClient client(options);
    StringSink sink;
    const std::string url = server.url("/build/9");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::not_found);
    EXPECT_EQ(result.message, "unable to download '" + url + "': HTTP error 404");
}

TEST(HttpClient, ErrorWithoutJsonBodyShowsStatusOnly) {
    Reply reply = status_reply(410, "<html>gone</html>");
    reply.content_type = "text/html";
    TestServer server({reply});
    HttpClient client(test_options());
    StringSink sink;
    const std::string url = server.url("/eval/1");
    const FetchResult result = client.get_json(url, sink);
    EXPECT_EQ(result.failure, Failure::not_found);
    EXPECT_EQ(result.message, "unable to download '" + url + "': HTTP error 410");
}

TEST(HttpClient, SpendsTheRequestBudget) {
    TestServer server({json("[1]"), json("[2]"), json("[3]")});
    HttpOptions options = test_options();
    options.max_requests = 2;
    HttpClient client(options);
    StringSink sink;
    EXPECT_TRUE(client.get_json(server.url("/a"), sink).ok());
    EXPECT_FALSE(client.budget_spent());
    EXPECT_TRUE(client.get_json(server.url("/b"), sink).ok());
    EXPECT_TRUE(client.budget_spent());
    const FetchResult result = client.get_json(server.url("/c"), sink);
    EXPECT_EQ(result.failure, Failure::cancelled);
    EXPECT_EQ(result.tries, 0);
    EXPECT_NE(result.message.find("request budget of 2 spent"), std::string::npos)
        << result.message;
    EXPECT_EQ(client.requests(), 2U);
    EXPECT_EQ(server.requests().size(), 2U);
}

TEST(HttpClient, RetriesCountAgainstTheBudget) {
    TestServer server({status_reply(503), status_reply(503), json("[]")});
    HttpOptions options = test_options();
    options.max_requests = 2;
    HttpClient client(options);
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/a"), sink);
    EXPECT_EQ(result.failure, Failure::cancelled);
    EXPECT_EQ(result.tries, 2);
    EXPECT_EQ(client.requests(), 2U);
    EXPECT_EQ(server.requests().size(), 2U);
}

TEST(HttpClient, ReportsValidatorsOfAnAnswer) {
    TestServer server({with_header(with_header(json("[]"), "ETag", "\"v1\""), "Last-Modified",
                                   "Wed, 01 Jan 2025 00:00:00 GMT")});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/jobset/p/j/evals"), sink);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_FALSE(result.not_modified);
    EXPECT_EQ(result.validators.etag, "\"v1\"");
    EXPECT_EQ(result.validators.last_modified, "Wed, 01 Jan 2025 00:00:00 GMT");
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].headers.count("if-none-match"), 0U);
    EXPECT_EQ(requests[0].headers.count("if-modified-since"), 0U);
}

TEST(HttpClient, ConditionalRequestTakesNotModifiedAsSuccess) {
    TestServer server({with_header(status_reply(304, ""), "ETag", "\"v1\""), json("[]")});
    HttpClient client(test_options());
    CountingSink sink;
    const Validators validators{"\"v1\"", "Wed, 01 Jan 2025 00:00:00 GMT"};
    const FetchResult result = client.get_json(server.url("/jobset/p/j/evals"), sink, validators);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_TRUE(result.not_modified);
    EXPECT_EQ(result.http_status, 304);
    EXPECT_EQ(result.validators.etag, "\"v1\"");
    EXPECT_EQ(sink.body(), "");
    EXPECT_EQ(client.requests(), 1U);
    // The next, plain request carries no validators.
    StringSink plain;
    ASSERT_TRUE(client.get_json(server.url("/eval/1"), plain).ok());
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(requests[0].headers.at("if-none-match"), "\"v1\"");
    EXPECT_EQ(requests[0].headers.at("if-modified-since"), "Wed, 01 Jan 2025 00:00:00 GMT");
    EXPECT_EQ(requests[0].headers.at("accept"), "application/json");
    EXPECT_EQ(requests[1].headers.count("if-none-match"), 0U);
    EXPECT_EQ(requests[1].headers.at("accept"), "application/json");
}

TEST(HttpClient, NotModifiedToAPlainRequestIsAnError) {
    TestServer server({status_reply(304, "")});
    HttpClient client(test_options());
    StringSink sink;
    const FetchResult result = client.get_json(server.url("/eval/1"), sink);
    EXPECT_EQ(result.failure, Failure::other);
    EXPECT_FALSE(result.not_modified);
    EXPECT_NE(result.message.find("HTTP error 304"), std::string::npos) << result.message;
}

TEST(HttpClient, ValidatorWithALineBreakIsNotSent) {
    TestServer server({json("[]")});
    HttpClient client(test_options());
    StringSink sink;
    const Validators validators{"\"a\"\r\nX-Injected: 1", ""};
    ASSERT_TRUE(client.get_json(server.url("/a"), sink, validators).ok());
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].headers.count("if-none-match"), 0U);
    EXPECT_EQ(requests[0].headers.count("x-injected"), 0U);
}

// A sink that throws, as code behind a sink may.
class ThrowingSink : public StringSink {
public:
    bool write(std::string_view) override { throw std::runtime_error("index is read-only"); }
};

TEST(HttpClient, SinkExceptionReachesTheCaller) {
    TestServer server({json(k_json), json(k_json)});
    HttpClient client(test_options());
    ThrowingSink sink;
    EXPECT_THROW(client.get_json(server.url("/a"), sink), std::runtime_error);
    StringSink good;
    const FetchResult result = client.get_json(server.url("/b"), good); // still usable
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(good.body(), k_json);
}

TEST(HttpClient, RejectsAnEmptyUserAgent) {
    HttpOptions options = test_options();
    options.user_agent = "";
    EXPECT_THROW(HttpClient client(options), std::exception);
}

} // namespace
} // namespace hs::sync
