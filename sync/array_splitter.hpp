#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace hs::sync {

// Cuts a JSON array arriving in chunks into its top-level elements, so that a
// body of hundreds of MB is never held whole: memory is bounded by the
// largest element. Checks the structure only (brackets, strings, escapes);
// each element is then parsed on its own.
//
// Elements are handed over without surrounding whitespace; any JSON value
// may be an element. The view is valid only during the call: it points into
// the chunk when the element lies entirely in it, else into an internal
// buffer holding the element's earlier part. Error messages end with
// "at byte N", N counted from the first byte fed since construction or
// reset(). After an error or a stop, feed() and finish() return false until
// reset().
class ArraySplitter {
public:
    using ElementFn = std::function<bool(std::string_view element)>; // false stops

    explicit ArraySplitter(ElementFn on_element, size_t max_element_bytes = 64 << 20);

    // Feeds the next chunk. Returns false on a structural error (see error())
    // or when on_element returned false (error() then says "stopped by the
    // element handler after N elements").
    bool feed(std::string_view chunk);
    // Call after the last chunk: false unless exactly one complete array was seen.
    bool finish();
    void reset();

    const std::string& error() const { return m_error; }
    uint64_t elements() const { return m_elements; }

private:
    enum class State : uint8_t {
        before_array,  // nothing but whitespace seen yet
        first_element, // after '[': an element or ']'
        next_element,  // after ',': an element
        in_element,    // inside an element (m_kind says which)
        after_element, // after an element: ',' or ']'
        done,          // after the closing ']': whitespace only
        failed,        // a structural error, or on_element returned false
    };
    enum class Kind : uint8_t { container, string, scalar };

    bool scan_container(const char* data, size_t size, size_t& pos);
    bool scan_string(const char* data, size_t size, size_t& pos);
    bool scan_scalar(const char* data, size_t size, size_t& pos);
    bool emit(const char* data, size_t start, size_t end);
    bool fail(uint64_t offset, std::string message);

    ElementFn m_on_element;
    size_t m_max_element_bytes;
    std::string m_element; // the part of the current element from earlier chunks
    std::string m_closers; // the closing bracket expected for each open {/[
    std::string m_error;
    uint64_t m_elements = 0;
    uint64_t m_offset = 0;        // bytes fed before the current chunk
    uint64_t m_element_start = 0; // offset of the current element's first byte
    State m_state = State::before_array;
    Kind m_kind = Kind::container;
    bool m_in_string = false; // inside a string within a container element
    bool m_escape = false;    // the previous byte was an unescaped backslash
};

} // namespace hs::sync
