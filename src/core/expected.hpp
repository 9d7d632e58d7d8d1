#pragma once

#include <optional>
#include <string>
#include <utility>

namespace hs {

// Why a recoverable step failed: a lowercase reason for a message, and a
// code for callers that act on the kind of failure (an errno for system
// calls; 0 when there is none).
struct Unexpected {
    std::string why;
    int code = 0;
};

// A value or why there is none, for failures the caller recovers from (bad
// input it reports, a line it skips); errors that end the command throw
// hs::Error instead. Reads forwards, like C++23's std::expected:
//
//     const auto millis = parse_duration(text);
//     if (!millis) {
//         return Unexpected{"min-interval: " + millis.error()};
//     }
//     use(*millis);
template <class T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : m_value(std::move(value)) {} // NOLINT(google-explicit-constructor)
    Expected(Unexpected failure)                     // NOLINT(google-explicit-constructor)
        : m_error(std::move(failure.why)), m_code(failure.code) {}

    bool has_value() const { return m_value.has_value(); }
    explicit operator bool() const { return has_value(); }
    const T& operator*() const& { return *m_value; }
    T& operator*() & { return *m_value; }
    T&& operator*() && { return std::move(*m_value); }
    const T* operator->() const { return &*m_value; }
    T* operator->() { return &*m_value; }
    // The reason; "" when there is a value.
    const std::string& error() const { return m_error; }
    // Unexpected::code; 0 when there is a value.
    int error_code() const { return m_code; }

private:
    std::optional<T> m_value;
    std::string m_error;
    int m_code = 0;
};

// A step with nothing to return: success, or why it failed.
template <>
class [[nodiscard]] Expected<void> {
public:
    Expected() = default;
    Expected(Unexpected failure) // NOLINT(google-explicit-constructor)
        : m_error(std::move(failure.why)), m_code(failure.code), m_failed(true) {}

    bool has_value() const { return !m_failed; }
    explicit operator bool() const { return has_value(); }
    const std::string& error() const { return m_error; }
    int error_code() const { return m_code; }

private:
    std::string m_error;
    int m_code = 0;
    bool m_failed = false;
};

} // namespace hs
