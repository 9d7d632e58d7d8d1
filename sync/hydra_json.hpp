#pragma once

#include "core/records.hpp"

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
// a number") on failure, and then leaves the output in an unspecified state.
class JsonParser {
public:
    JsonParser();
    ~JsonParser();
    JsonParser(const JsonParser&) = delete;
    JsonParser& operator=(const JsonParser&) = delete;

    // One build object (GET /build/<id>, one element of /eval/<id>/builds).
    std::string parse_build(std::string_view json, core::BuildRecord& out);
    // One eval object (GET /eval/<id>).
    std::string parse_eval(std::string_view json, core::EvalRecord& out);
    // One page of GET /jobset/<p>/<j>/evals.
    std::string parse_evals_page(std::string_view json, core::EvalsPage& out);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// The message of a Hydra error body {"error": "..."}, if the text is one.
std::optional<std::string> parse_error_body(std::string_view json);

// Cuts a JSON array arriving in chunks into its top-level elements, so that a
// body of hundreds of MB is never held whole: memory is bounded by the
// largest element. Checks the structure only (brackets, strings, escapes);
// each element is then parsed on its own.
class ArraySplitter {
public:
    using ElementFn = std::function<bool(std::string_view element)>; // false stops

    explicit ArraySplitter(ElementFn on_element, size_t max_element_bytes = 64 << 20);

    // Feeds the next chunk. Returns false on a structural error (see error())
    // or when on_element returned false.
    bool feed(std::string_view chunk);
    // Call after the last chunk: false unless exactly one complete array was seen.
    bool finish();
    void reset();

    const std::string& error() const { return m_error; }
    uint64_t elements() const { return m_elements; }

private:
    ElementFn m_on_element;
    size_t m_max_element_bytes;
    std::string m_element;
    std::string m_error;
    uint64_t m_elements = 0;
    uint64_t m_offset = 0;
    int m_depth = 0; // 0 before '[', 1 inside the array, >1 inside an element
    bool m_in_string = false;
    bool m_escape = false;
    bool m_done = false;
    bool m_expect_element = true;
};

} // namespace hs::sync
