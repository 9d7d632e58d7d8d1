#include "snapshot/json.hpp"

#include "core/text.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace hs::snapshot {

namespace {

constexpr int k_max_depth = 64;

class Parser {
public:
    explicit Parser(std::string_view text) : m_text(text) {}

    Expected<JsonValue> document() {
        JsonValue value;
        if (!parse(value, 0)) {
            return Unexpected{m_error};
        }
        skip_blank();
        if (m_at != m_text.size()) {
            return Unexpected{"unexpected text after the value at byte " + std::to_string(m_at)};
        }
        return value;
    }

private:
    bool fail(const std::string& why) {
        if (m_error.empty()) {
            m_error = why + " at byte " + std::to_string(m_at);
        }
        return false;
    }

    void skip_blank() {
        while (m_at < m_text.size() && (m_text[m_at] == ' ' || m_text[m_at] == '\n' ||
                                        m_text[m_at] == '\r' || m_text[m_at] == '\t')) {
            ++m_at;
        }
    }

    bool literal(std::string_view word) {
        if (m_text.substr(m_at, word.size()) != word) {
            return fail("invalid literal");
        }
        m_at += word.size();
        return true;
    }

    bool parse(JsonValue& out, int depth) {
        if (depth > k_max_depth) {
            return fail("nested too deeply");
        }
        skip_blank();
        if (m_at >= m_text.size()) {
            return fail("unexpected end");
        }
        const size_t start = m_at;
        bool ok = false;
        switch (m_text[m_at]) {
        case '{':
            ok = object(out, depth);
            break;
        case '[':
            ok = array(out, depth);
            break;
        case '"':
            out.kind = JsonValue::Kind::string;
            ok = string(out.text);
            break;
        case 't':
            out.kind = JsonValue::Kind::boolean;
            out.boolean = true;
            ok = literal("true");
            break;
        case 'f':
            out.kind = JsonValue::Kind::boolean;
            ok = literal("false");
            break;
        case 'n':
            ok = literal("null");
            break;
        default:
            ok = number(out);
        }
        if (ok) {
            out.raw = m_text.substr(start, m_at - start);
        }
        return ok;
    }

    bool object(JsonValue& out, int depth) {
        out.kind = JsonValue::Kind::object;
        ++m_at;
        skip_blank();
        if (m_at < m_text.size() && m_text[m_at] == '}') {
            ++m_at;
            return true;
        }
        while (true) {
            skip_blank();
            if (m_at >= m_text.size() || m_text[m_at] != '"') {
                return fail("expected a key");
            }
            std::string key;
            if (!string(key)) {
                return false;
            }
            skip_blank();
            if (m_at >= m_text.size() || m_text[m_at] != ':') {
                return fail("expected ':'");
            }
            ++m_at;
            JsonValue value;
            if (!parse(value, depth + 1)) {
                return false;
            }
            out.members[key] = std::move(value);
            skip_blank();
            if (m_at < m_text.size() && m_text[m_at] == ',') {
                ++m_at;
                continue;
            }
            if (m_at < m_text.size() && m_text[m_at] == '}') {
                ++m_at;
                return true;
            }
            return fail("expected ',' or '}'");
        }
    }

    bool array(JsonValue& out, int depth) {
        out.kind = JsonValue::Kind::array;
        ++m_at;
        skip_blank();
        if (m_at < m_text.size() && m_text[m_at] == ']') {
            ++m_at;
            return true;
        }
        while (true) {
            JsonValue value;
            if (!parse(value, depth + 1)) {
                return false;
            }
            out.items.push_back(std::move(value));
            skip_blank();
            if (m_at < m_text.size() && m_text[m_at] == ',') {
                ++m_at;
                continue;
            }
            if (m_at < m_text.size() && m_text[m_at] == ']') {
                ++m_at;
                return true;
            }
            return fail("expected ',' or ']'");
        }
    }

    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    bool hex4(uint32_t& out) {
        if (m_at + 4 > m_text.size()) {
            return fail("short \\u escape");
        }
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_text[m_at++];
            out <<= 4;
            if (c >= '0' && c <= '9') {
                out |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                out |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                out |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                return fail("invalid \\u escape");
            }
        }
        return true;
    }

    bool string(std::string& out) {
        ++m_at; // the opening quote
        while (m_at < m_text.size()) {
            const char c = m_text[m_at++];
            if (c == '"') {
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return fail("control character in a string");
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_at >= m_text.size()) {
                break;
            }
            const char e = m_text[m_at++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out += e;
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                uint32_t cp = 0;
                if (!hex4(cp)) {
                    return false;
                }
                if (cp >= 0xd800 && cp < 0xdc00 && m_text.substr(m_at, 2) == "\\u") {
                    m_at += 2;
                    uint32_t low = 0;
                    if (!hex4(low) || low < 0xdc00 || low >= 0xe000) {
                        return fail("invalid surrogate pair");
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                }
                put_utf8(out, cp);
                break;
            }
            default:
                return fail("invalid escape");
            }
        }
        return fail("unterminated string");
    }

    bool number(JsonValue& out) {
        const size_t start = m_at;
        if (m_at < m_text.size() && m_text[m_at] == '-') {
            ++m_at;
        }
        const auto digits = [&] {
            const size_t from = m_at;
            while (m_at < m_text.size() && m_text[m_at] >= '0' && m_text[m_at] <= '9') {
                ++m_at;
            }
            return m_at > from;
        };
        if (!digits()) {
            return fail("invalid value");
        }
        if (m_at < m_text.size() && m_text[m_at] == '.') {
            ++m_at;
            if (!digits()) {
                return fail("invalid number");
            }
        }
        if (m_at < m_text.size() && (m_text[m_at] == 'e' || m_text[m_at] == 'E')) {
            ++m_at;
            if (m_at < m_text.size() && (m_text[m_at] == '+' || m_text[m_at] == '-')) {
                ++m_at;
            }
            if (!digits()) {
                return fail("invalid number");
            }
        }
        out.kind = JsonValue::Kind::number;
        out.number = std::strtod(std::string(m_text.substr(start, m_at - start)).c_str(), nullptr);
        return true;
    }

    std::string_view m_text;
    size_t m_at = 0;
    std::string m_error;
};

} // namespace

const JsonValue* JsonValue::find(const std::string& key) const {
    const auto it = members.find(key);
    return it == members.end() ? nullptr : &it->second;
}

bool JsonValue::is_int() const {
    return kind == Kind::number && std::nearbyint(number) == number && std::fabs(number) < 9e15;
}

Expected<JsonValue> parse_json(std::string_view text) {
    return Parser(text).document();
}

std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

} // namespace hs::snapshot
