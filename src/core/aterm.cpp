#include "core/aterm.hpp"

#include "core/error.hpp"
#include "core/sha256.hpp"
#include "core/store_path.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace hs::core {

namespace {

constexpr std::string_view k_derive = "Derive(";
constexpr std::string_view k_drv_with_version = "DrvWithVersion(";
constexpr std::string_view k_dyn_drv_version = "xp-dyn-drv";

// The contents of a string literal as written, escapes not yet resolved.
struct RawString {
    std::string_view text;
    size_t offset = 0; // of the opening quote
    bool has_escapes() const { return text.find('\\') != std::string_view::npos; }
};

// Resolves the reader's escapes: \n, \r, \t are LF, CR, TAB; a backslash
// before any other byte yields that byte. The caller guarantees that the
// text does not end in a lone backslash.
std::string unescape(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    size_t i = 0;
    while (i < raw.size()) {
        const size_t slash = raw.find('\\', i);
        if (slash == std::string_view::npos) {
            out.append(raw.substr(i));
            break;
        }
        out.append(raw.substr(i, slash - i));
        const char c = raw[slash + 1];
        if (c == 'n') {
            out += '\n';
        } else if (c == 'r') {
            out += '\r';
        } else if (c == 't') {
            out += '\t';
        } else {
            out += c;
        }
        i = slash + 2;
    }
    return out;
}

// One pass over the text. With k_full the whole derivation is kept; without
// it only the inputDrvs paths are copied and every other string is skipped
// (but still checked against the grammar).
template <bool k_full>
class Parser {
public:
    Parser(std::string_view text, std::string_view origin) : m_text(text), m_origin(origin) {}

    // In full mode drv receives the result; otherwise each input path is
    // given to `each`.
    void parse(Derivation* drv, const InputDrvPathVisitor* each) {
        m_drv = drv != nullptr ? drv : &m_sink;
        m_each = each;
        if (m_text.starts_with(k_derive)) {
            m_pos = k_derive.size();
        } else if (m_text.starts_with(k_drv_with_version)) {
            m_pos = k_drv_with_version.size();
            m_versioned = true;
            const auto version = raw_string();
            const std::string value =
                version.has_escapes() ? unescape(version.text) : std::string(version.text);
            if (value != k_dyn_drv_version) {
                fail("unknown derivation version " + quote(value) + at_byte(version.offset + 1));
            }
            if constexpr (k_full) {
                m_drv->version = value;
            }
            expect(',');
        } else {
            // A file cut short inside the keyword ("Deri") is truncated too.
            const bool cut =
                m_text.size() < k_drv_with_version.size() &&
                (k_derive.starts_with(m_text) || k_drv_with_version.starts_with(m_text));
            m_pos = cut ? m_text.size() : 0;
            fail_at("expected 'Derive(' or 'DrvWithVersion('");
        }
        body();
        expect(')');
        if (m_pos != m_text.size()) {
            fail("unexpected data after the final ')'" + at_byte(m_pos));
        }
    }

private:
    bool peek(char c) const { return m_pos < m_text.size() && m_text[m_pos] == c; }

    void expect(char c) {
        if (!peek(c)) {
            fail_expected(c);
        }
        ++m_pos;
    }

    // Kept out of expect(), which is on the hot path of every file.
    [[noreturn]] void fail_expected(char c) const { fail_at(std::string("expected '") + c + "'"); }

    // "<what> at byte <pos>", or "unexpected end of file at byte <size>" when
    // the text ends there (a truncated file says so, not what it lacks).
    [[noreturn]] void fail_at(const std::string& what) const {
        if (m_pos >= m_text.size()) {
            fail_eof();
        }
        fail(what + at_byte(m_pos));
    }

    [[noreturn]] void fail_eof(const std::string& detail = {}) const {
        fail("unexpected end of file" + at_byte(m_text.size()) +
             (m_text.empty() ? " (the file is empty)" : detail));
    }

    // "[" [ item { "," item } ] "]"
    template <class Item>
    void list(Item&& item) {
        expect('[');
        if (peek(']')) {
            ++m_pos;
            return;
        }
        while (true) {
            item();
            if (peek(',')) {
                ++m_pos;
                continue;
            }
            if (!peek(']')) {
                fail_at("expected ',' or ']'");
            }
            ++m_pos;
            return;
        }
    }

    // Finds the closing quote: the first '"' preceded by an even number of
    // backslashes. memchr keeps skipping long env values cheap.
    RawString raw_string() {
        const size_t open = m_pos;
        expect('"');
        const char* const data = m_text.data();
        const char* const begin = data + m_pos;
        const char* const end = data + m_text.size();
        const char* from = begin;
        while (true) {
            const auto* found =
                static_cast<const char*>(std::memchr(from, '"', static_cast<size_t>(end - from)));
            if (found == nullptr) {
                fail_eof(" in the string that starts" + at_byte(open));
            }
            size_t backslashes = 0;
            for (const char* b = found; b > begin && b[-1] == '\\'; --b) {
                ++backslashes;
            }
            if (backslashes % 2 == 0) {
                m_pos = static_cast<size_t>(found - data) + 1;
                return RawString{std::string_view(begin, static_cast<size_t>(found - begin)), open};
            }
            from = found + 1;
        }
    }

    std::string string() {
        const auto raw = raw_string();
        return raw.has_escapes() ? unescape(raw.text) : std::string(raw.text);
    }

    // A string kept only in full mode.
    void string_into(std::string& out) {
        if constexpr (k_full) {
            out = string();
        } else {
            (void)out;
            raw_string();
        }
    }

    void strings_into(std::vector<std::string>& out) {
        list([&] {
            if constexpr (k_full) {
                out.push_back(string());
            } else {
                raw_string();
            }
        });
    }

    void body() {
        list([&] { output(); });
        expect(',');
        list([&] { input_drv(); });
        expect(',');
        strings_into(m_drv->input_srcs);
        expect(',');
        string_into(m_drv->system);
        expect(',');
        string_into(m_drv->builder);
        expect(',');
        strings_into(m_drv->args);
        expect(',');
        list([&] { env_pair(); });
    }

    // "(" name "," path "," hashAlgo "," hash ")"
    void output() {
        expect('(');
        DerivationOutput out;
        string_into(out.name);
        expect(',');
        string_into(out.path);
        expect(',');
        string_into(out.hash_algo);
        expect(',');
        string_into(out.hash);
        expect(')');
        if constexpr (k_full) {
            m_drv->outputs.push_back(std::move(out));
        }
    }

    // "(" drvPath "," node ")"
    void input_drv() {
        expect('(');
        const auto raw = raw_string();
        // A path needs a copy only when it is written with escapes.
        std::string unescaped;
        if (raw.has_escapes()) {
            unescaped = unescape(raw.text);
        }
        const std::string_view path = raw.has_escapes() ? unescaped : raw.text;
        std::string why;
        if (!is_store_path(path, &why)) {
            fail("inputDrvs path " + quote(path) + at_byte(raw.offset) +
                 " is not a store path: " + why);
        }
        if (!path.ends_with(k_drv_suffix)) {
            fail("inputDrvs path " + quote(path) + at_byte(raw.offset) + " does not end in .drv");
        }
        expect(',');
        InputDrv input;
        input.has_dynamic_outputs = node(0, &input.outputs);
        expect(')');
        if constexpr (k_full) {
            input.path = path;
            m_drv->input_drvs.push_back(std::move(input));
        } else {
            (*m_each)(path);
        }
    }

    // Output names, or in DrvWithVersion the pair (names, children). Returns
    // whether there are children (outputs of derivations this one produces).
    bool node(size_t depth, std::vector<std::string>* outputs) {
        if (!peek('(')) {
            strings_into(*outputs);
            return false;
        }
        if (!m_versioned) {
            fail("dynamic outputs need DrvWithVersion" + at_byte(m_pos));
        }
        if (depth >= k_max_dynamic_output_depth) {
            fail("dynamic outputs nested deeper than " +
                 std::to_string(k_max_dynamic_output_depth) + at_byte(m_pos));
        }
        ++m_pos;
        strings_into(*outputs);
        expect(',');
        bool has_children = false;
        list([&] {
            has_children = true;
            expect('(');
            raw_string();
            expect(',');
            std::vector<std::string> ignored;
            node(depth + 1, &ignored);
            expect(')');
        });
        expect(')');
        return has_children;
    }

    // "(" key "," value ")"
    void env_pair() {
        expect('(');
        if constexpr (k_full) {
            std::string key = string();
            expect(',');
            std::string value = string();
            m_drv->env.emplace_back(std::move(key), std::move(value));
        } else {
            raw_string();
            expect(',');
            raw_string();
        }
        expect(')');
    }

    // Errors name the file (when known) and the byte offset.
    [[noreturn]] void fail(const std::string& message) const {
        throw Error(m_origin.empty() ? message : std::string(m_origin) + ": " + message,
                    ExitCode::usage);
    }

    std::string_view m_text;
    std::string_view m_origin;
    size_t m_pos = 0;
    bool m_versioned = false;
    Derivation* m_drv = nullptr;
    const InputDrvPathVisitor* m_each = nullptr;
    // Stands in for the result in path-only mode (stays empty).
    Derivation m_sink;
};

} // namespace

Derivation parse_derivation(std::string_view text, std::string_view origin) {
    Derivation drv;
    Parser<true>(text, origin).parse(&drv, nullptr);
    return drv;
}

void visit_input_drv_paths(std::string_view text, std::string_view origin,
                           const InputDrvPathVisitor& each) {
    Parser<false>(text, origin).parse(nullptr, &each);
}

std::vector<std::string> parse_input_drv_paths(std::string_view text, std::string_view origin) {
    std::vector<std::string> paths;
    visit_input_drv_paths(text, origin, [&](std::string_view path) { paths.emplace_back(path); });
    return paths;
}

std::optional<std::string> derivation_name(const Derivation& drv) {
    for (const auto& [key, value] : drv.env) {
        if (key == "name") {
            return value;
        }
    }
    for (const auto& output : drv.outputs) {
        const auto parsed = parse_store_path(output.path);
        if (!parsed) {
            continue; // floating, impure or deferred: no path
        }
        if (output.name == "out") {
            return parsed->name;
        }
        const std::string suffix = "-" + output.name;
        if (parsed->name.size() > suffix.size() && parsed->name.ends_with(suffix)) {
            return parsed->name.substr(0, parsed->name.size() - suffix.size());
        }
    }
    return std::nullopt;
}

std::optional<std::string> derivation_store_path(const Derivation& drv, std::string_view text,
                                                 std::string* why) {
    const auto name = derivation_name(drv);
    if (!name) {
        if (why) {
            *why = "its name is neither a \"name\" variable nor in an output path";
        }
        return std::nullopt;
    }
    const std::string file_name = *name + std::string(k_drv_suffix);
    if (!is_valid_name(file_name)) {
        if (why) {
            *why = "its name " + quote(*name) + " is not a valid store path name";
        }
        return std::nullopt;
    }
    // The references, sorted and each once, as Nix's StorePathSet holds them.
    std::vector<std::string> refs = drv.input_srcs;
    for (const auto& input : drv.input_drvs) {
        refs.push_back(input.path);
    }
    std::sort(refs.begin(), refs.end());
    refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
    std::string fingerprint = "text";
    for (const auto& ref : refs) {
        fingerprint += ':';
        fingerprint += ref;
    }
    fingerprint +=
        ":sha256:" + to_hex(sha256(text)) + ":" + std::string(k_store_dir) + ":" + file_name;
    // The store path hash: the fingerprint's SHA-256 folded to 20 bytes.
    const Sha256 full = sha256(fingerprint);
    HashBytes folded{};
    for (size_t i = 0; i < full.size(); ++i) {
        folded[i % folded.size()] ^= full[i];
    }
    return format_store_path(folded, file_name);
}

} // namespace hs::core
