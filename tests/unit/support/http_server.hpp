#pragma once

// A scripted HTTP/1.1 server on 127.0.0.1 for the tests of the sync layer's
// HTTP clients (HttpClient, HttpFetcher): it answers the requests it gets, in
// order, with the replies of its script, and records them.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace hs::test {

struct Reply {
    enum class Mode {
        normal,    // a complete answer; the connection stays open
        reset,     // the connection is reset (RST) without an answer
        truncated, // Content-Length promises 100 bytes more than are sent, then close
        stall,     // headers and part of the body, then nothing
    };
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    Mode mode = Mode::normal;
};

// A 200 application/json answer.
Reply json(std::string body);
Reply status_reply(int status, std::string body = "{}");
Reply with_header(Reply reply, std::string name, std::string value);
Reply with_mode(Reply reply, Reply::Mode mode);

struct Request {
    std::string target;
    std::map<std::string, std::string> headers; // lowercase names
    std::chrono::steady_clock::time_point arrival;
};

// Past the end of its script it answers 500.
class TestServer {
public:
    explicit TestServer(std::vector<Reply> script);
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    std::string url(std::string_view target) const;
    std::vector<Request> requests() const;
    int connections() const { return m_accepted; }

private:
    struct Connection {
        int fd;
        std::string buffer;
    };

    // Answers one request; false when the connection is to be closed.
    bool answer(int fd);
    void run();

    std::vector<Reply> m_script;
    size_t m_next = 0;
    int m_listener = -1;
    uint16_t m_port = 0;
    std::atomic<bool> m_done{false};
    std::atomic<int> m_accepted{0};
    std::vector<Connection> m_connections;
    mutable std::mutex m_mutex;
    std::vector<Request> m_requests;
    std::thread m_thread;
};

} // namespace hs::test
