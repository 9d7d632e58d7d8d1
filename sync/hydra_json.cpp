#include "sync/hydra_json.hpp"

#include "core/error.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace hs::sync {

namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// ---------------------------------------------------------------------------
// Messages

// A short lowercase reason for a simdjson error code.
std::string describe(error_code error) {
    switch (error) {
    case simdjson::EMPTY:
        return "empty document";
    case simdjson::UTF8_ERROR:
        return "invalid utf-8";
    case simdjson::UNCLOSED_STRING:
        return "unterminated string";
    case simdjson::UNESCAPED_CHARS:
        return "unescaped control character in a string";
    case simdjson::STRING_ERROR:
        return "invalid string or escape";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
        return "invalid literal";
    case simdjson::NUMBER_ERROR:
        return "invalid number";
    case simdjson::NUMBER_OUT_OF_RANGE:
        return "number out of range";
    case simdjson::DEPTH_ERROR:
        return "nesting too deep";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
        return "truncated or unbalanced brackets";
    case simdjson::TAPE_ERROR:
        return "malformed structure";
    case simdjson::TRAILING_CONTENT:
        return "trailing content";
    case simdjson::CAPACITY:
        return "document too large";
    case simdjson::MEMALLOC:
        return "out of memory";
    case simdjson::INCORRECT_TYPE:
        return "unexpected type";
    default:
        break;
    }
    return "simdjson error " + std::to_string(static_cast<int>(error));
}

std::string json_error(error_code error) {
    return "invalid json: " + describe(error);
}

// The field name comes from the document (unknown keys are named too), so
// it is quoted: a key holding terminal escapes must not reach a terminal.
std::string field_error(std::string_view field, std::string_view reason) {
    std::string message = "field ";
    message += quote(field);
    message += ": ";
    message += reason;
    return message;
}

// The reason for a failed get: "expected <what>" for a type mismatch,
// otherwise what simdjson found wrong.
std::string get_reason(error_code error, std::string_view expected) {
    if (error == simdjson::INCORRECT_TYPE) {
        return "expected " + std::string(expected);
    }
    return describe(error);
}

// Whether a number token is written as an integer (so a failed get_int64
// means it is out of range rather than fractional).
bool is_integer_token(std::string_view token) {
    while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                              token.back() == '\t')) {
        token.remove_suffix(1);
    }
    if (!token.empty() && token.front() == '-') {
        token.remove_prefix(1);
    }
    return !token.empty() &&
           std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---------------------------------------------------------------------------
// Value readers. Each returns an empty string on success or a reason without
// the field name; the caller adds the context.

// Consumes a null literal after type() said null.
std::string read_null(od::value& value) {
    bool is_null = false;
    if (const auto error = value.is_null().get(is_null)) {
        return describe(error);
    }
    return is_null ? std::string() : std::string("invalid literal");
}

// An integer within [min, max], or null when nullable.
std::string read_integer(od::value& value, bool nullable, int64_t min, int64_t max, int64_t& out,
                         bool& null) {
    const std::string_view expected = nullable ? "an integer or null" : "an integer";
    od::json_type type{};
    if (const auto error = value.type().get(type)) {
        return get_reason(error, expected);
    }
    if (type == od::json_type::null && nullable) {
        null = true;
        return read_null(value);
    }
    if (type != od::json_type::number) {
        return "expected " + std::string(expected);
    }
    const auto error = value.get_int64().get(out);
    if (error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_OUT_OF_RANGE) {
        return is_integer_token(value.raw_json_token()) ? "number out of range"
                                                        : "expected " + std::string(expected);
    }
    if (error) {
        return describe(error);
    }
    if (out < min || out > max) {
        return "number out of range";
    }
    null = false;
    return {};
}

std::string read_int64(od::value& value, int64_t& out) {
    bool null = false;
    return read_integer(value, false, INT64_MIN, INT64_MAX, out, null);
}

// A Hydra flag: the number 0 or 1 (what Hydra sends), or a JSON boolean.
std::string read_flag(od::value& value, bool& out) {
    constexpr std::string_view k_expected = "expected 0, 1 or a boolean";
    od::json_type type{};
    if (const auto error = value.type().get(type)) {
        return describe(error);
    }
    if (type == od::json_type::boolean) {
        if (const auto error = value.get_bool().get(out)) {
            return error == simdjson::INCORRECT_TYPE ? "invalid literal" : describe(error);
        }
        return {};
    }
    if (type != od::json_type::number) {
        return std::string(k_expected);
    }
    int64_t number = 0;
    const auto error = value.get_int64().get(number);
    if (error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_OUT_OF_RANGE) {
        return std::string(k_expected);
    }
    if (error) {
        return describe(error);
    }
    if (number != 0 && number != 1) {
        return std::string(k_expected);
    }
    out = number == 1;
    return {};
}

// A string. The view points into the parser and lives as long as the document.
std::string read_string(od::value& value, std::string_view& out) {
    if (const auto error = value.get_string().get(out)) {
        return get_reason(error, "a string");
    }
    return {};
}

std::string read_string(od::value& value, std::string& out) {
    std::string_view text;
    std::string reason = read_string(value, text);
    if (reason.empty()) {
        out.assign(text.data(), text.size());
    }
    return reason;
}

// A string or null; null leaves `null` set and `out` untouched.
std::string read_nullable_string(od::value& value, std::string_view& out, bool& null) {
    od::json_type type{};
    if (const auto error = value.type().get(type)) {
        return get_reason(error, "a string or null");
    }
    if (type == od::json_type::null) {
        null = true;
        return read_null(value);
    }
    null = false;
    if (const auto error = value.get_string().get(out)) {
        return get_reason(error, "a string or null");
    }
    return {};
}

// Reads the next field of an object: its unescaped key and its value.
std::string next_field(simdjson::simdjson_result<od::field> result, std::string_view& key,
                       od::field& field) {
    if (const auto error = std::move(result).get(field)) {
        return json_error(error);
    }
    // A key without escapes (every key Hydra sends) is used in place; stage 1
    // has already found its closing quote and checked its bytes.
    const char* const raw = field.key().raw();
    size_t length = 0;
    while (raw[length] != '"' && raw[length] != '\\') {
        ++length;
    }
    if (raw[length] == '"') {
        key = std::string_view(raw, length);
        return {};
    }
    if (const auto error = field.unescaped_key().get(key)) {
        return json_error(error);
    }
    return {};
}

// How deep a value that is not kept may nest. Hydra's deepest value
// (buildproducts) has three levels; the limit also bounds the recursion.
constexpr int k_max_skip_depth = 64;

// Reads and checks a value whose content is not kept (jobsetevals,
// buildproducts, ...). On Demand skips an unread value by counting brackets
// only, which would let malformed JSON through; walking it makes every
// accepted document valid JSON.
std::string skip_value(od::value& value, int depth = 0) {
    if (depth > k_max_skip_depth) {
        return "nesting too deep";
    }
    od::json_type type{};
    if (const auto error = value.type().get(type)) {
        return describe(error);
    }
    switch (type) {
    case od::json_type::object: {
        od::object object;
        if (const auto error = value.get_object().get(object)) {
            return describe(error);
        }
        for (auto result : object) {
            std::string_view key;
            od::field field;
            if (std::string reason = next_field(std::move(result), key, field); !reason.empty()) {
                return reason;
            }
            if (std::string reason = skip_value(field.value(), depth + 1); !reason.empty()) {
                return reason;
            }
        }
        return {};
    }
    case od::json_type::array: {
        od::array array;
        if (const auto error = value.get_array().get(array)) {
            return describe(error);
        }
        for (auto result : array) {
            od::value element;
            if (const auto error = result.get(element)) {
                return describe(error);
            }
            if (std::string reason = skip_value(element, depth + 1); !reason.empty()) {
                return reason;
            }
        }
        return {};
    }
    case od::json_type::string: {
        std::string_view text;
        if (const auto error = value.get_string().get(text)) {
            return describe(error);
        }
        return {};
    }
    case od::json_type::number: {
        double number = 0;
        if (const auto error = value.get_double().get(number)) {
            // The type was seen, so a mismatch means a malformed token.
            return error == simdjson::INCORRECT_TYPE ? "invalid number" : describe(error);
        }
        return {};
    }
    case od::json_type::boolean: {
        bool flag = false;
        if (const auto error = value.get_bool().get(flag)) {
            return error == simdjson::INCORRECT_TYPE ? "invalid literal" : describe(error);
        }
        return {};
    }
    case od::json_type::null:
        return read_null(value);
    }
    return "unexpected type";
}

// Index of `key` in `keys`, or -1.
template <size_t N>
int find_key(const std::array<std::string_view, N>& keys, std::string_view key) {
    for (size_t i = 0; i < N; ++i) {
        if (keys[i].size() == key.size() && keys[i][0] == key[0] && keys[i] == key) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

// Marks key `index` as seen; false if it was seen before.
bool mark_seen(uint32_t& seen, int index) {
    const uint32_t bit = uint32_t{1} << index;
    if ((seen & bit) != 0) {
        return false;
    }
    seen |= bit;
    return true;
}

std::string duplicate_field(std::string_view field) {
    return "duplicate field " + quote(field);
}

// Reads the fields of a record's object: a field named in `keys` goes to
// `read(index, key, value)`, which returns a message (empty if good); any
// other field is checked and skipped. A known field may come once. `seen`
// gets bit i for keys[i].
template <size_t N, typename Read>
std::string read_fields(od::object& object, const std::array<std::string_view, N>& keys,
                        uint32_t& seen, Read&& read) {
    for (auto result : object) {
        std::string_view key;
        od::field field;
        if (std::string reason = next_field(std::move(result), key, field); !reason.empty()) {
            return reason;
        }
        const int index = find_key(keys, key);
        if (index < 0) {
            if (std::string reason = skip_value(field.value()); !reason.empty()) {
                return field_error(key, reason);
            }
            continue;
        }
        if (!mark_seen(seen, index)) {
            return duplicate_field(key);
        }
        if (std::string message = read(index, key, field.value()); !message.empty()) {
            return message;
        }
    }
    return {};
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Elements cut from the callers' vectors, kept (with their strings'
// capacity) for later documents, so a warm parser does not allocate.
struct Spares {
    Pairs pairs;
    std::vector<core::EvalRecord> evals;
};

// The slot for element `used` of a vector that is reused across documents:
// an existing element, else a spare one, else a new one.
template <typename T>
T& next_slot(std::vector<T>& items, size_t used, std::vector<T>& spares) {
    if (used < items.size()) {
        return items[used];
    }
    if (!spares.empty()) {
        items.push_back(std::move(spares.back()));
        spares.pop_back();
        return items.back();
    }
    return items.emplace_back();
}

// Shrinks `items` to `used` elements, moving the rest to `spares`.
template <typename T>
void truncate(std::vector<T>& items, size_t used, std::vector<T>& spares) {
    while (items.size() > used) {
        spares.push_back(std::move(items.back()));
        items.pop_back();
    }
}

// ---------------------------------------------------------------------------
// Named entries: an object whose values are objects, each read into one pair
// (buildoutputs, jobsetevalinputs)

// A known field of one entry: whether it came, and its text (nullopt if null).
struct EntryText {
    bool seen = false;
    std::optional<std::string_view> text;
};
template <size_t N>
using EntryTexts = std::array<EntryText, N>;

// Reads `field`, an object of entries (name -> object), into `items` in
// document order: each entry's fields named in `keys` are strings or null,
// others are checked and skipped. `make(texts, second)` then sets the pair's
// second part from them, or returns a reason. A repeated entry name or a
// repeated known field is an error. Messages: "field 'F': <entry> 'N': ...".
template <size_t N, typename Make>
std::string read_entries(od::value& value, std::string_view field, std::string_view entry,
                         const std::array<std::string_view, N>& keys, Pairs& items, Pairs& spares,
                         Make&& make) {
    od::object object;
    if (const auto error = value.get_object().get(object)) {
        return field_error(field, get_reason(error, "an object"));
    }
    size_t used = 0;
    for (auto result : object) {
        std::string_view name;
        od::field member;
        if (std::string reason = next_field(std::move(result), name, member); !reason.empty()) {
            return reason;
        }
        // Built only for a message: no allocation on the good path.
        const auto context = [entry, name] { return std::string(entry) + " " + quote(name); };
        for (size_t i = 0; i < used; ++i) {
            if (items[i].first == name) {
                return field_error(field, "duplicate " + context());
            }
        }
        auto& slot = next_slot(items, used, spares);
        slot.first.assign(name.data(), name.size());
        od::object inner;
        if (const auto error = member.value().get_object().get(inner)) {
            return field_error(field, context() + ": " + get_reason(error, "an object"));
        }
        EntryTexts<N> texts{};
        for (auto inner_result : inner) {
            std::string_view key;
            od::field inner_field;
            if (std::string reason = next_field(std::move(inner_result), key, inner_field);
                !reason.empty()) {
                return reason;
            }
            const int index = find_key(keys, key);
            if (index < 0) {
                if (std::string reason = skip_value(inner_field.value()); !reason.empty()) {
                    return field_error(field, context() + ": " + field_error(key, reason));
                }
                continue;
            }
            EntryText& text = texts[static_cast<size_t>(index)];
            if (text.seen) {
                return field_error(field, context() + ": " + duplicate_field(key));
            }
            text.seen = true;
            std::string_view read;
            bool null = false;
            if (std::string reason = read_nullable_string(inner_field.value(), read, null);
                !reason.empty()) {
                return field_error(field, context() + ": " + field_error(key, reason));
            }
            if (!null) {
                text.text = read;
            }
        }
        if (const std::string_view reason = make(std::as_const(texts), slot.second);
            !reason.empty()) {
            return field_error(field, context() + ": " + std::string(reason));
        }
        ++used;
    }
    truncate(items, used, spares);
    return {};
}

// ---------------------------------------------------------------------------
// Builds

enum BuildKey : int {
    bk_id,
    bk_finished,
    bk_buildstatus,
    bk_starttime,
    bk_stoptime,
    bk_drvpath,
    bk_project,
    bk_jobset,
    bk_job,
    bk_system,
    bk_buildoutputs,
};
constexpr std::array<std::string_view, 11> k_build_keys = {
    "id",      "finished", "buildstatus", "starttime", "stoptime",    "drvpath",
    "project", "jobset",   "job",         "system",    "buildoutputs"};
constexpr std::array<BuildKey, 7> k_build_required = {
    bk_id, bk_finished, bk_drvpath, bk_project, bk_jobset, bk_job, bk_system};

// buildoutputs: output name -> {"path": string or null}.
constexpr std::array<std::string_view, 1> k_output_keys = {"path"};

std::string read_outputs(od::value& value, Pairs& outputs, Pairs& spares) {
    return read_entries(value, "buildoutputs", "output", k_output_keys, outputs, spares,
                        [](const EntryTexts<1>& texts, std::string& path) {
                            if (!texts[0].seen) {
                                return std::string_view("missing field 'path'");
                            }
                            path.assign(texts[0].text.value_or(std::string_view()));
                            return std::string_view();
                        });
}

std::string read_build(od::object& object, core::BuildRecord& out, Spares& spares) {
    out.buildstatus.reset();
    out.starttime.reset();
    out.stoptime.reset();
    uint32_t seen = 0;
    const auto read = [&](int index, std::string_view key, od::value& value) {
        std::string reason;
        bool null = false;
        int64_t number = 0;
        switch (static_cast<BuildKey>(index)) {
        case bk_id:
            reason = read_int64(value, out.id);
            break;
        case bk_finished:
            reason = read_flag(value, out.finished);
            break;
        case bk_buildstatus:
            reason = read_integer(value, true, INT_MIN, INT_MAX, number, null);
            if (reason.empty() && !null) {
                out.buildstatus = static_cast<int>(number);
            }
            break;
        case bk_starttime:
        case bk_stoptime:
            reason = read_integer(value, true, INT64_MIN, INT64_MAX, number, null);
            if (reason.empty() && !null) {
                (index == bk_starttime ? out.starttime : out.stoptime) = number;
            }
            break;
        case bk_drvpath:
            reason = read_string(value, out.drvpath);
            break;
        case bk_project:
            reason = read_string(value, out.project);
            break;
        case bk_jobset:
            reason = read_string(value, out.jobset);
            break;
        case bk_job:
            reason = read_string(value, out.job);
            break;
        case bk_system:
            reason = read_string(value, out.system);
            break;
        case bk_buildoutputs:
            return read_outputs(value, out.outputs, spares.pairs); // names the field itself
        }
        return reason.empty() ? reason : field_error(key, reason);
    };
    if (std::string message = read_fields(object, k_build_keys, seen, read); !message.empty()) {
        return message;
    }
    if ((seen & (uint32_t{1} << bk_buildoutputs)) == 0) {
        truncate(out.outputs, 0, spares.pairs);
    }
    for (const BuildKey key : k_build_required) {
        if ((seen & (uint32_t{1} << key)) == 0) {
            return "missing field '" + std::string(k_build_keys[key]) + "'";
        }
    }
    return {};
}

// ---------------------------------------------------------------------------
// Evals

enum EvalKey : int { ek_id, ek_timestamp, ek_hasnewbuilds, ek_builds, ek_jobsetevalinputs };
constexpr std::array<std::string_view, 5> k_eval_keys = {"id", "timestamp", "hasnewbuilds",
                                                         "builds", "jobsetevalinputs"};

std::string read_builds(od::value& value, std::vector<int64_t>& builds) {
    constexpr std::string_view k_field = "builds";
    builds.clear();
    od::array array;
    if (const auto error = value.get_array().get(array)) {
        return field_error(k_field, get_reason(error, "an array"));
    }
    for (auto result : array) {
        od::value element;
        if (const auto error = result.get(element)) {
            return field_error(k_field, describe(error));
        }
        int64_t id = 0;
        if (std::string reason = read_int64(element, id); !reason.empty()) {
            return field_error(k_field, "element " + std::to_string(builds.size()) + ": " + reason);
        }
        builds.push_back(id);
    }
    return {};
}

// jobsetevalinputs: input name -> {revision, value, ...}; keeps the revision,
// else the value, else "".
constexpr std::array<std::string_view, 2> k_input_keys = {"revision", "value"};

std::string read_inputs(od::value& value, Pairs& inputs, Pairs& spares) {
    return read_entries(value, "jobsetevalinputs", "input", k_input_keys, inputs, spares,
                        [](const EntryTexts<2>& texts, std::string& text) {
                            text.assign(
                                texts[0].text.value_or(texts[1].text.value_or(std::string_view())));
                            return std::string_view();
                        });
}

std::string read_eval(od::object& object, core::EvalRecord& out, Spares& spares) {
    out.timestamp = 0;
    out.hasnewbuilds = true;
    out.builds.clear();
    uint32_t seen = 0;
    const auto read = [&](int index, std::string_view key, od::value& value) {
        std::string reason;
        switch (static_cast<EvalKey>(index)) {
        case ek_id:
            reason = read_int64(value, out.id);
            break;
        case ek_timestamp:
            reason = read_int64(value, out.timestamp);
            break;
        case ek_hasnewbuilds:
            reason = read_flag(value, out.hasnewbuilds);
            break;
        case ek_builds: // these two name the field themselves
            return read_builds(value, out.builds);
        case ek_jobsetevalinputs:
            return read_inputs(value, out.inputs, spares.pairs);
        }
        return reason.empty() ? reason : field_error(key, reason);
    };
    if (std::string message = read_fields(object, k_eval_keys, seen, read); !message.empty()) {
        return message;
    }
    if ((seen & (uint32_t{1} << ek_jobsetevalinputs)) == 0) {
        truncate(out.inputs, 0, spares.pairs);
    }
    for (const EvalKey key : {ek_id, ek_builds}) {
        if ((seen & (uint32_t{1} << key)) == 0) {
            return "missing field '" + std::string(k_eval_keys[key]) + "'";
        }
    }
    return {};
}

std::string read_evals_page(od::object& object, core::EvalsPage& out, Spares& spares) {
    out.next.reset();
    bool has_evals = false;
    bool has_next = false;
    size_t used = 0;
    for (auto result : object) {
        std::string_view key;
        od::field field;
        if (std::string reason = next_field(std::move(result), key, field); !reason.empty()) {
            return reason;
        }
        if (key == "next") {
            if (has_next) {
                return duplicate_field(key);
            }
            has_next = true;
            std::string_view next;
            bool null = false;
            if (std::string reason = read_nullable_string(field.value(), next, null);
                !reason.empty()) {
                return field_error(key, reason);
            }
            if (!null) {
                out.next.emplace(next);
            }
            continue;
        }
        if (key != "evals") { // first, last, previous
            if (std::string reason = skip_value(field.value()); !reason.empty()) {
                return field_error(key, reason);
            }
            continue;
        }
        if (has_evals) {
            return duplicate_field(key);
        }
        has_evals = true;
        od::array array;
        if (const auto error = field.value().get_array().get(array)) {
            return field_error(key, get_reason(error, "an array"));
        }
        for (auto element : array) {
            const auto context = [used] { return "evals[" + std::to_string(used) + "]: "; };
            od::object eval;
            if (const auto error = element.get_object().get(eval)) {
                return context() + get_reason(error, "an object");
            }
            if (std::string reason =
                    read_eval(eval, next_slot(out.evals, used, spares.evals), spares);
                !reason.empty()) {
                return context() + reason;
            }
            ++used;
        }
    }
    if (!has_evals) {
        return "missing field 'evals'";
    }
    truncate(out.evals, used, spares.evals);
    return {};
}

// ---------------------------------------------------------------------------
// Latest builds (GET /api/latestbuilds: short objects)

enum LatestKey : int { lk_id, lk_finished, lk_buildstatus };
constexpr std::array<std::string_view, 3> k_latest_keys = {"id", "finished", "buildstatus"};

std::string read_latest_build(od::object& object, LatestBuild& out) {
    out = LatestBuild{};
    uint32_t seen = 0;
    const auto read = [&](int index, std::string_view key, od::value& value) {
        std::string reason;
        bool null = false;
        int64_t number = 0;
        switch (static_cast<LatestKey>(index)) {
        case lk_id:
            reason = read_int64(value, out.id);
            break;
        case lk_finished:
            reason = read_flag(value, out.finished);
            break;
        case lk_buildstatus:
            reason = read_integer(value, true, INT_MIN, INT_MAX, number, null);
            if (reason.empty() && !null) {
                out.buildstatus = static_cast<int>(number);
            }
            break;
        }
        return reason.empty() ? reason : field_error(key, reason);
    };
    if (std::string message = read_fields(object, k_latest_keys, seen, read); !message.empty()) {
        return message;
    }
    for (const LatestKey key : {lk_id, lk_finished}) {
        if ((seen & (uint32_t{1} << key)) == 0) {
            return "missing field '" + std::string(k_latest_keys[key]) + "'";
        }
    }
    return {};
}

std::string read_latest_builds(od::array& array, std::vector<LatestBuild>& out) {
    out.clear();
    for (auto element : array) {
        od::object object;
        if (const auto error = element.get_object().get(object)) {
            return "element " + std::to_string(out.size()) + ": " + get_reason(error, "an object");
        }
        LatestBuild build;
        if (std::string reason = read_latest_build(object, build); !reason.empty()) {
            return "element " + std::to_string(out.size()) + ": " + reason;
        }
        out.push_back(build);
    }
    return {};
}

// After the root value was read to its end: anything but whitespace left?
std::string check_end(od::document& doc, const char* base) {
    const char* location = nullptr;
    if (doc.current_location().get(location) == simdjson::SUCCESS) {
        return "invalid json: trailing content at byte " + std::to_string(location - base);
    }
    return {};
}

} // namespace

// ---------------------------------------------------------------------------
// JsonParser

struct JsonParser::Impl {
    od::parser parser;
    // A copy of the input followed by SIMDJSON_PADDING bytes; grows, never
    // shrinks, so a warm parser does not allocate per document.
    std::vector<char> buffer;
    Spares spares;

    // Parses `json` as one object and hands it to `read`.
    template <typename Read>
    std::string parse_object(std::string_view json, Read&& read) {
        return parse_document(json, [&](od::document& doc) -> std::string {
            od::object object;
            if (const auto error = doc.get_object().get(object)) {
                return error == simdjson::INCORRECT_TYPE ? "expected a json object"
                                                         : json_error(error);
            }
            return read(object);
        });
    }

    // Parses `json` as one array and hands it to `read`.
    template <typename Read>
    std::string parse_array(std::string_view json, Read&& read) {
        return parse_document(json, [&](od::document& doc) -> std::string {
            od::array array;
            if (const auto error = doc.get_array().get(array)) {
                return error == simdjson::INCORRECT_TYPE ? "expected a json array"
                                                         : json_error(error);
            }
            return read(array);
        });
    }

    // Parses `json` as one document and hands its root to `read`.
    template <typename Read>
    std::string parse_document(std::string_view json, Read&& read) {
        const size_t capacity = json.size() + simdjson::SIMDJSON_PADDING;
        if (buffer.size() < capacity) {
            buffer.resize(std::max(capacity, buffer.size() * 2));
        }
        if (!json.empty()) {
            std::memcpy(buffer.data(), json.data(), json.size());
        }
        std::memset(buffer.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);

        std::string reason = parse_in_buffer(json.size(), read);
        if (capacity > k_kept_capacity) {
            // A large document (the evals listing: ~4 B per byte of JSON in
            // the parser, 40 MB for an eval of 1,000,000 builds) does not
            // keep its memory for the small ones that follow.
            parser = od::parser();
            std::vector<char>().swap(buffer);
        }
        return reason;
    }

    template <typename Read>
    std::string parse_in_buffer(size_t size, Read&& read) {
        od::document doc;
        if (const auto error = parser.iterate(buffer.data(), size, buffer.size()).get(doc)) {
            return json_error(error);
        }
        if (std::string reason = read(doc); !reason.empty()) {
            return reason;
        }
        return check_end(doc, buffer.data());
    }

    static constexpr size_t k_kept_capacity = size_t{1} << 20;
};

JsonParser::JsonParser() : m_impl(std::make_unique<Impl>()) {}

JsonParser::~JsonParser() = default;

std::string JsonParser::parse_build(std::string_view json, core::BuildRecord& out) {
    Impl& impl = *m_impl;
    return impl.parse_object(
        json, [&](od::object& object) { return read_build(object, out, impl.spares); });
}

std::string JsonParser::parse_eval(std::string_view json, core::EvalRecord& out) {
    Impl& impl = *m_impl;
    return impl.parse_object(
        json, [&](od::object& object) { return read_eval(object, out, impl.spares); });
}

std::string JsonParser::parse_evals_page(std::string_view json, core::EvalsPage& out) {
    Impl& impl = *m_impl;
    return impl.parse_object(
        json, [&](od::object& object) { return read_evals_page(object, out, impl.spares); });
}

std::string JsonParser::parse_latest_builds(std::string_view json, std::vector<LatestBuild>& out) {
    return m_impl->parse_array(json,
                               [&](od::array& array) { return read_latest_builds(array, out); });
}

std::optional<std::string> parse_error_body(std::string_view json) {
    const simdjson::padded_string padded(json);
    od::parser parser;
    od::document doc;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    od::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    std::optional<std::string> message;
    for (auto result : object) {
        std::string_view key;
        od::field field;
        if (!next_field(std::move(result), key, field).empty()) {
            return std::nullopt;
        }
        if (key != "error") {
            if (!skip_value(field.value()).empty()) {
                return std::nullopt;
            }
            continue;
        }
        std::string_view text;
        if (!read_string(field.value(), text).empty()) {
            return std::nullopt;
        }
        message.emplace(text);
    }
    if (!check_end(doc, padded.data()).empty()) {
        return std::nullopt;
    }
    return message;
}

} // namespace hs::sync
