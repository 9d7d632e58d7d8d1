#include "http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace hs::test {

Reply json(std::string body) {
    Reply reply;
    reply.body = std::move(body);
    return reply;
}

Reply status_reply(int status, std::string body) {
    Reply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
}

Reply with_header(Reply reply, std::string name, std::string value) {
    reply.headers.emplace_back(std::move(name), std::move(value));
    return reply;
}

Reply with_mode(Reply reply, Reply::Mode mode) {
    reply.mode = mode;
    return reply;
}

namespace {

void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (sent <= 0) {
            return; // the client went away
        }
        data.remove_prefix(static_cast<size_t>(sent));
    }
}

std::string reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

Request parse_request(std::string_view head) {
    Request request;
    request.arrival = std::chrono::steady_clock::now();
    size_t line_end = head.find("\r\n");
    const std::string_view first = head.substr(0, line_end);
    const size_t space = first.find(' ');
    request.target = std::string(first.substr(space + 1, first.rfind(' ') - space - 1));
    while (line_end != std::string_view::npos && line_end + 2 < head.size()) {
        const size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        const std::string_view line = head.substr(start, line_end - start);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        request.headers[name] = std::string(value);
    }
    return request;
}

} // namespace

TestServer::TestServer(std::vector<Reply> script) : m_script(std::move(script)) {
    m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
    if (m_listener < 0) {
        throw std::runtime_error("socket failed");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(m_listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(m_listener, 16) != 0 ||
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(m_listener);
        throw std::runtime_error("bind/listen failed");
    }
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this] { run(); });
}

TestServer::~TestServer() {
    m_done = true;
    m_thread.join();
    for (const auto& connection : m_connections) {
        ::close(connection.fd);
    }
    ::close(m_listener);
}

std::string TestServer::url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(m_port) + std::string(target);
}

std::vector<Request> TestServer::requests() const {
    const std::lock_guard lock(m_mutex);
    return m_requests;
}

bool TestServer::answer(int fd) {
    Reply reply;
    if (m_next < m_script.size()) {
        reply = m_script[m_next++];
    } else {
        reply = status_reply(500, R"({"error": "the test script is exhausted"})");
    }
    if (reply.mode == Reply::Mode::reset) {
        const linger hard{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        return false;
    }
    std::string out =
        "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
    if (!reply.content_type.empty()) {
        out += "Content-Type: " + reply.content_type + "\r\n";
    }
    for (const auto& [name, value] : reply.headers) {
        out += name + ": " + value + "\r\n";
    }
    size_t promised = reply.body.size();
    if (reply.mode == Reply::Mode::truncated || reply.mode == Reply::Mode::stall) {
        promised += 100;
    }
    out += "Content-Length: " + std::to_string(promised) + "\r\n\r\n" + reply.body;
    send_all(fd, out);
    return reply.mode != Reply::Mode::truncated;
}

void TestServer::run() {
    while (!m_done) {
        std::vector<pollfd> fds{{m_listener, POLLIN, 0}};
        for (const auto& connection : m_connections) {
            fds.push_back({connection.fd, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), 20) <= 0) {
            continue;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            const int fd = ::accept(m_listener, nullptr, nullptr);
            if (fd >= 0) {
                ++m_accepted;
                m_connections.push_back({fd, {}});
            }
        }
        for (size_t i = 1; i < fds.size(); ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            Connection& connection = m_connections[i - 1];
            char chunk[4096];
            const ssize_t got = ::recv(connection.fd, chunk, sizeof chunk, 0);
            bool keep = got > 0;
            if (keep) {
                connection.buffer.append(chunk, static_cast<size_t>(got));
            }
            size_t end = 0;
            while (keep && (end = connection.buffer.find("\r\n\r\n")) != std::string::npos) {
                Request request = parse_request(connection.buffer.substr(0, end));
                connection.buffer.erase(0, end + 4);
                {
                    const std::lock_guard lock(m_mutex);
                    m_requests.push_back(std::move(request));
                }
                keep = answer(connection.fd);
            }
            if (!keep) {
                ::close(connection.fd);
                connection.fd = -1;
            }
        }
        std::erase_if(m_connections, [](const Connection& c) { return c.fd < 0; });
    }
}

} // namespace hs::test
