#pragma once

#include "core/records.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hs::sync {

// Hydra JSON -> plain records (core/records.hpp). simdjson stays inside this
// file's implementation. Keys may come in any order; unknown keys are
// ignored; a wrong type for a known key is an error. Every function returns
// an empty string on success or a lowercase reason ("field 'finished': expected
// 0, 1 or a boolean") on failure, and then leaves the output in an unspecified
// state.
//
// The whole text must be one valid JSON object (values of unknown keys are
// checked too, to a nesting depth of 64) followed only by whitespace. A known
// key that appears twice in one object is an error ("duplicate field 'id'"),
// as is a repeated output or input name. Numbers that do not fit the record's
// type are errors. Flags (finished, hasnewbuilds) are 0, 1, true or false.
//
// One parser is meant to be reused: it keeps its simdjson parser, a padded
// copy of the input, and spare record elements, so that parsing into the same
// output again does not allocate once warm. Not thread-safe.
class JsonParser {
public:
    JsonParser();
    ~JsonParser();
    JsonParser(const JsonParser&) = delete;
    JsonParser& operator=(const JsonParser&) = delete;

    // One build object (GET /build/<id>, one element of /eval/<id>/builds).
    // Required: id, finished, drvpath, project, jobset, job, system.
    // buildstatus, starttime, stoptime: integer or null (absent = null);
    // buildoutputs absent = no outputs; a null output path = "".
    std::string parse_build(std::string_view json, core::BuildRecord& out);
    // One eval object (GET /eval/<id>). Required: id, builds. timestamp
    // absent (Hydra before 2021-10) = 0; hasnewbuilds absent = true.
    std::string parse_eval(std::string_view json, core::EvalRecord& out);
    // One page of GET /jobset/<p>/<j>/evals. Required: evals. next is kept as
    // sent ("?page=2"); absent or null = last page.
    std::string parse_evals_page(std::string_view json, core::EvalsPage& out);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// The message of a Hydra error body {"error": "..."}, if the text is one: a
// valid JSON object with a string "error" (other keys are ignored). Anything
// else, including invalid JSON, gives nullopt; never throws on any input.
std::optional<std::string> parse_error_body(std::string_view json);

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
