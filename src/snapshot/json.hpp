#pragma once

// A small JSON reader and the escaping of the writer, for the snapshot
// manifest (this layer does not link simdjson, which only sync/ may). The
// reader keeps each value's raw text, so that a signature can be checked
// over exactly the bytes that were signed.

#include "core/expected.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hs::snapshot {

struct JsonValue {
    enum class Kind { null, boolean, number, string, array, object };
    Kind kind = Kind::null;
    bool boolean = false;
    double number = 0;
    std::string text;                         // a string's value
    std::vector<JsonValue> items;             // an array's
    std::map<std::string, JsonValue> members; // an object's (a repeated key: the last)
    std::string_view raw;                     // the value's text in the document parsed

    const JsonValue* find(const std::string& key) const;
    bool is_int() const;
    int64_t as_int() const { return static_cast<int64_t>(number); }
};

// Parses a whole document (at most 64 levels deep); why it is not JSON
// otherwise. The raw views point into `text`, which must outlive the value.
Expected<JsonValue> parse_json(std::string_view text);

// "text" with JSON's escapes.
std::string json_string(std::string_view text);

} // namespace hs::snapshot
