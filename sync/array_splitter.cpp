#include "sync/array_splitter.hpp"

#include "core/text.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

namespace hs::sync {

namespace {

size_t skip_space(const char* data, size_t size, size_t pos) {
    while (pos < size && is_blank(data[pos])) {
        ++pos;
    }
    return pos;
}

// Bytes that end a run inside a string: the quote and the backslash.
constexpr std::array<bool, 256> k_string_stops = [] {
    std::array<bool, 256> table{};
    table['"'] = true;
    table['\\'] = true;
    return table;
}();

// Bytes that matter outside strings inside a container.
constexpr std::array<bool, 256> k_container_stops = [] {
    std::array<bool, 256> table{};
    for (const char c : {'"', '{', '}', '[', ']'}) {
        table[static_cast<unsigned char>(c)] = true;
    }
    return table;
}();

bool is_stop(const std::array<bool, 256>& table, char c) {
    return table[static_cast<unsigned char>(c)];
}

// Moves i through the inside of a string to just past its closing quote and
// returns true; or, when the chunk ends first, to size and returns false.
// `escape` says whether the previous byte was an unfinished backslash, and
// carries that over to the next chunk.
bool skip_string(const char* data, size_t size, size_t& i, bool& escape) {
    while (i < size) {
        if (escape) {
            escape = false;
            ++i;
            continue;
        }
        while (i < size && !is_stop(k_string_stops, data[i])) {
            ++i;
        }
        if (i == size) {
            break;
        }
        escape = data[i] == '\\';
        ++i;
        if (!escape) {
            return true; // the closing quote
        }
    }
    return false;
}

// "'x'" for a printable byte, "byte 0xNN" otherwise.
std::string show(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
        return std::string("'") + c + "'";
    }
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "byte 0x%02x", byte);
    return buffer;
}

} // namespace

ArraySplitter::ArraySplitter(ElementFn on_element, size_t max_element_bytes)
    : m_on_element(std::move(on_element)), m_max_element_bytes(max_element_bytes) {}

bool ArraySplitter::fail(uint64_t offset, std::string message) {
    m_error = std::move(message);
    m_error += at_byte(offset);
    m_state = State::failed;
    return false;
}

bool ArraySplitter::feed(std::string_view chunk) {
    const char* const data = chunk.data();
    const size_t size = chunk.size();
    size_t pos = 0;
    size_t start = 0; // where the current element begins in this chunk
    while (pos < size) {
        switch (m_state) {
        case State::before_array:
            pos = skip_space(data, size, pos);
            if (pos == size) {
                break;
            }
            if (data[pos] != '[') {
                return fail(m_offset + pos, "expected '[' but found " + show(data[pos]));
            }
            ++pos;
            m_state = State::first_element;
            break;
        case State::first_element:
        case State::next_element: {
            pos = skip_space(data, size, pos);
            if (pos == size) {
                break;
            }
            const char c = data[pos];
            if (c == ']') {
                if (m_state == State::next_element) {
                    return fail(m_offset + pos, "expected an element after ',' but found ']'");
                }
                ++pos;
                m_state = State::done;
                break;
            }
            if (c == '{' || c == '[') {
                m_kind = Kind::container;
                m_closers.assign(1, c == '{' ? '}' : ']');
                m_in_string = false;
            } else if (c == '"') {
                m_kind = Kind::string;
            } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
                m_kind = Kind::scalar;
            } else {
                return fail(m_offset + pos, "expected an element but found " + show(c));
            }
            m_escape = false;
            m_element.clear();
            m_element_start = m_offset + pos;
            start = pos;
            ++pos;
            m_state = State::in_element;
            break;
        }
        case State::in_element: {
            bool complete = false;
            switch (m_kind) {
            case Kind::container:
                complete = scan_container(data, size, pos);
                break;
            case Kind::string:
                complete = scan_string(data, size, pos);
                break;
            case Kind::scalar:
                complete = scan_scalar(data, size, pos);
                break;
            }
            if (m_state == State::failed) {
                return false;
            }
            if (complete && !emit(data, start, pos)) {
                return false;
            }
            break;
        }
        case State::after_element:
            pos = skip_space(data, size, pos);
            if (pos == size) {
                break;
            }
            if (data[pos] == ',') {
                m_state = State::next_element;
            } else if (data[pos] == ']') {
                m_state = State::done;
            } else {
                return fail(m_offset + pos, "expected ',' or ']' but found " + show(data[pos]));
            }
            ++pos;
            break;
        case State::done:
            pos = skip_space(data, size, pos);
            if (pos < size) {
                return fail(m_offset + pos,
                            "unexpected " + show(data[pos]) + " after the closing ']'");
            }
            break;
        case State::failed:
            return false;
        }
    }
    if (m_state == State::in_element) {
        // Keep the part of the element that this chunk holds.
        const size_t part = size - start;
        if (m_element.size() + part > m_max_element_bytes) {
            return fail(m_element_start, "element " + std::to_string(m_elements + 1) +
                                             " is larger than " +
                                             std::to_string(m_max_element_bytes) + " bytes");
        }
        m_element.append(data + start, part);
    }
    m_offset += size;
    return true;
}

// Scans a container element from `pos`. Returns true with `pos` just past the
// closing bracket when the element is complete; false when the chunk ran out
// (pos == size) or on a mismatched bracket (state failed).
bool ArraySplitter::scan_container(const char* data, size_t size, size_t& pos) {
    bool in_string = m_in_string;
    bool escape = m_escape;
    size_t i = pos;
    while (i < size) {
        if (in_string) {
            if (!skip_string(data, size, i, escape)) {
                break;
            }
            in_string = false;
            continue;
        }
        while (i < size && !is_stop(k_container_stops, data[i])) {
            ++i;
        }
        if (i == size) {
            break;
        }
        const char c = data[i];
        if (c == '"') {
            in_string = true;
        } else if (c == '{') {
            m_closers.push_back('}');
        } else if (c == '[') {
            m_closers.push_back(']');
        } else {
            if (m_closers.back() != c) {
                fail(m_offset + i, "mismatched " + show(c) + " where " + show(m_closers.back()) +
                                       " was expected");
                return false;
            }
            m_closers.pop_back();
            if (m_closers.empty()) {
                pos = i + 1;
                m_in_string = false;
                m_escape = false;
                return true;
            }
        }
        ++i;
    }
    pos = size;
    m_in_string = in_string;
    m_escape = escape;
    return false;
}

// Scans a string element (after its opening quote).
bool ArraySplitter::scan_string(const char* data, size_t size, size_t& pos) {
    size_t i = pos;
    bool escape = m_escape;
    if (skip_string(data, size, i, escape)) {
        pos = i;
        m_escape = false;
        return true;
    }
    pos = size;
    m_escape = escape;
    return false;
}

// Scans a number or literal element; it ends before whitespace, ',' or ']'.
bool ArraySplitter::scan_scalar(const char* data, size_t size, size_t& pos) {
    for (size_t i = pos; i < size; ++i) {
        const char c = data[i];
        if (is_blank(c) || c == ',' || c == ']') {
            pos = i;
            return true;
        }
        if (c == '{' || c == '}' || c == '[' || c == '"' || c == ':') {
            fail(m_offset + i, "unexpected " + show(c) + " in a number or literal");
            return false;
        }
    }
    pos = size;
    return false;
}

// Hands the element [start, end) of this chunk, prefixed by what earlier
// chunks held, to the callback.
bool ArraySplitter::emit(const char* data, size_t start, size_t end) {
    const size_t part = end - start;
    std::string_view element;
    if (m_element.empty()) {
        element = std::string_view(data + start, part); // entirely in this chunk: no copy
    } else {
        m_element.append(data + start, part);
        element = m_element;
    }
    if (element.size() > m_max_element_bytes) {
        return fail(m_element_start, "element " + std::to_string(m_elements + 1) +
                                         " is larger than " + std::to_string(m_max_element_bytes) +
                                         " bytes");
    }
    ++m_elements;
    m_state = State::after_element;
    if (!m_on_element(element)) {
        m_error =
            "stopped by the element handler after " + std::to_string(m_elements) + " elements";
        m_state = State::failed;
        return false;
    }
    m_element.clear();
    return true;
}

bool ArraySplitter::finish() {
    switch (m_state) {
    case State::done:
        return true;
    case State::failed:
        return false;
    case State::before_array:
        return fail(m_offset, m_offset == 0 ? "empty input: expected a json array"
                                            : "truncated: expected a json array");
    default:
        return fail(m_offset, "truncated: array not closed after " + std::to_string(m_elements) +
                                  " elements");
    }
}

void ArraySplitter::reset() {
    m_element.clear();
    m_closers.clear();
    m_error.clear();
    m_elements = 0;
    m_offset = 0;
    m_state = State::before_array;
    m_kind = Kind::container;
    m_in_string = false;
    m_escape = false;
}

} // namespace hs::sync
