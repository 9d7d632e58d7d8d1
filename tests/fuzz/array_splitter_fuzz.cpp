// libFuzzer target for sync::ArraySplitter. The first input byte seeds the
// chunk sizes, the second picks an element size limit; the rest is the body.
// The body is split once whole and once in chunks of 0 to 64 bytes (empty
// chunks included). Checks:
// - chunking changes nothing: same result, same elements, and (without a
//   size limit, where an element may be refused at a chunk edge before a
//   later structural error) the same message;
// - a body that simdjson accepts as an array of N values splits into N
//   elements; a split whose elements simdjson accepts one by one is a body
//   simdjson accepts;
// - messages are printable and elements carry no surrounding whitespace.
#include "fuzz_check.hpp"
#include "sync/array_splitter.hpp"

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using hs::fuzz::check;
using hs::fuzz::check_message;

struct Split {
    bool ok = false;
    std::string error;
    std::vector<std::string> elements;
};

bool is_json_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

Split split(hs::sync::ArraySplitter& splitter, std::vector<std::string>& sink,
            std::string_view body, uint8_t seed, bool chunked) {
    splitter.reset();
    sink.clear();
    Split result;
    bool ok = true;
    if (!chunked) {
        ok = splitter.feed(body);
    } else {
        uint32_t state = seed * 2654435761u + 1;
        size_t pos = 0;
        while (ok && pos <= body.size()) {
            state = state * 1103515245u + 12345u;
            const size_t len = (state >> 16) % 65;
            const std::string chunk(body.substr(pos, len)); // heap copy: ASan sees its end
            ok = splitter.feed(chunk);
            if (pos == body.size()) {
                break; // one empty chunk at the end
            }
            pos += std::min(len, body.size() - pos);
        }
    }
    if (ok) {
        ok = splitter.finish();
    }
    result.ok = ok;
    result.error = splitter.error();
    result.elements = sink;
    check(ok == result.error.empty(), "an error message exactly when the split fails",
          result.error);
    check(splitter.elements() == sink.size(), "elements() counts the elements handed over");
    return result;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) {
        return 0;
    }
    const uint8_t seed = data[0];
    const size_t limit = data[1] & 0x80 ? (data[1] & 0x7f) + 1 : size_t{64} << 20;
    const std::string body(reinterpret_cast<const char*>(data + 2), size - 2);

    std::vector<std::string> sink;
    hs::sync::ArraySplitter splitter(
        [&](std::string_view element) {
            check(!element.empty(), "an element is not empty");
            check(!is_json_space(element.front()) && !is_json_space(element.back()),
                  "an element has no surrounding whitespace", element);
            check(element.size() <= limit, "an element is within the limit");
            sink.emplace_back(element);
            return true;
        },
        limit);

    const Split whole = split(splitter, sink, body, seed, false);
    const Split chunked = split(splitter, sink, body, seed, true);
    check_message(whole.error, "splitter message is printable");
    check_message(chunked.error, "splitter message is printable");
    check(whole.ok == chunked.ok, "chunking does not change the result", whole.error);
    if (whole.ok) {
        check(whole.elements == chunked.elements, "chunking does not change the elements");
    } else if (!(data[1] & 0x80)) {
        check(whole.error == chunked.error, "chunking does not change the message",
              whole.error + " / " + chunked.error);
    }

    // Against simdjson's DOM parser (a validating parser).
    static simdjson::dom::parser dom;
    simdjson::dom::element root;
    const simdjson::padded_string padded(body);
    const bool valid = dom.parse(padded).get(root) == simdjson::SUCCESS;
    if (valid && root.is_array() && !(data[1] & 0x80)) {
        check(whole.ok, "a valid json array splits", whole.error);
        size_t count = 0;
        for (auto element : root.get_array()) {
            (void)element;
            ++count;
        }
        check(count == whole.elements.size(), "as many elements as simdjson counts");
    }
    if (whole.ok) {
        bool elements_valid = true;
        for (const auto& element : whole.elements) {
            simdjson::dom::element parsed;
            const simdjson::padded_string element_padded(element);
            if (dom.parse(element_padded).get(parsed) != simdjson::SUCCESS) {
                elements_valid = false;
                break;
            }
        }
        // The array adds one level of nesting over its elements.
        if (elements_valid && !valid) {
            const auto error = dom.parse(padded).error();
            check(error == simdjson::DEPTH_ERROR, "a split of valid elements is valid json",
                  simdjson::error_message(error));
        }
    }
    return 0;
}
