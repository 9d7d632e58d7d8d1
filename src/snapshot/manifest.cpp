#include "snapshot/manifest.hpp"

#include "core/error.hpp"
#include "snapshot/json.hpp"

#include <algorithm>

namespace hs::snapshot {

namespace {

std::string render_file(const SnapshotFile& file, bool with_evals) {
    std::string out =
        "{\"file\": " + json_string(file.file) + ", \"size\": " + std::to_string(file.size) +
        ", \"sha256\": " + json_string(file.sha256) +
        ", \"raw_size\": " + std::to_string(file.raw_size) +
        ", \"from\": " + std::to_string(file.from) + ", \"to\": " + std::to_string(file.to);
    if (with_evals) {
        out += ", \"evals\": [";
        for (size_t i = 0; i < file.evals.size(); ++i) {
            out += (i ? ", " : "") + std::to_string(file.evals[i]);
        }
        out += "]";
    }
    return out + "}";
}

Expected<int64_t> int_member(const JsonValue& object, const std::string& key, int64_t min) {
    const auto* value = object.find(key);
    if (!value || !value->is_int() || value->as_int() < min) {
        return Unexpected{"'" + key + "' is missing or not a whole number"};
    }
    return value->as_int();
}

Expected<std::string> string_member(const JsonValue& object, const std::string& key) {
    const auto* value = object.find(key);
    if (!value || value->kind != JsonValue::Kind::string) {
        return Unexpected{"'" + key + "' is missing or not a string"};
    }
    return value->text;
}

Expected<SnapshotFile> parse_file(const JsonValue& value, bool delta) {
    if (value.kind != JsonValue::Kind::object) {
        return Unexpected{"a file entry is not an object"};
    }
    SnapshotFile file;
    auto name = string_member(value, "file");
    auto sha = string_member(value, "sha256");
    auto size = int_member(value, "size", 0);
    auto raw = int_member(value, "raw_size", 0);
    auto from = int_member(value, "from", 0);
    auto to = int_member(value, "to", 0);
    for (const std::string* why :
         {&name.error(), &sha.error(), &size.error(), &raw.error(), &from.error(), &to.error()}) {
        if (!why->empty()) {
            return Unexpected{*why};
        }
    }
    file.file = *name;
    file.sha256 = *sha;
    file.size = static_cast<uint64_t>(*size);
    file.raw_size = static_cast<uint64_t>(*raw);
    file.from = *from;
    file.to = *to;
    if (!valid_file_name(file.file)) {
        return Unexpected{"invalid file name " + quote(file.file)};
    }
    if (file.sha256.size() != 64 ||
        !std::all_of(file.sha256.begin(), file.sha256.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
        return Unexpected{file.file + ": invalid sha256"};
    }
    if (file.to < file.from) {
        return Unexpected{file.file + ": 'to' before 'from'"};
    }
    if (delta) {
        const auto* evals = value.find("evals");
        if (!evals || evals->kind != JsonValue::Kind::array) {
            return Unexpected{file.file + ": 'evals' is missing"};
        }
        for (const auto& id : evals->items) {
            if (!id.is_int() || id.as_int() <= 0) {
                return Unexpected{file.file + ": an eval id is not a whole number"};
            }
            file.evals.push_back(id.as_int());
        }
    }
    return file;
}

} // namespace

bool valid_file_name(std::string_view name) {
    return !name.empty() && name.size() <= 200 && name.front() != '.' &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
           });
}

std::string render_signed(const Manifest& manifest) {
    std::string out = "{\"format\": " + std::to_string(manifest.format) +
                      ", \"schema\": " + std::to_string(manifest.schema) +
                      ", \"created\": " + std::to_string(manifest.created) +
                      ", \"seq\": " + std::to_string(manifest.seq) +
                      ",\n  \"hydra\": " + json_string(manifest.hydra) + ", \"jobsets\": [";
    for (size_t i = 0; i < manifest.jobsets.size(); ++i) {
        out += (i ? ", " : "") + json_string(manifest.jobsets[i]);
    }
    out += "],\n  \"base\": " + render_file(manifest.base, false) + ",\n  \"deltas\": [";
    for (size_t i = 0; i < manifest.deltas.size(); ++i) {
        out += (i ? ",\n    " : "\n    ") + render_file(manifest.deltas[i], true);
    }
    return out + "]}";
}

std::string render_manifest(const Manifest& manifest, const SecretKey& key) {
    const std::string body = render_signed(manifest);
    const std::string signature = sign(key, std::string(k_signature_prefix) + body);
    return "{\"signed\": " + body + ",\n \"signatures\": [" + json_string(signature) + "]}\n";
}

Expected<SignedManifest> parse_manifest(std::string_view text) {
    auto doc = parse_json(text);
    if (!doc) {
        return Unexpected{"not JSON: " + doc.error()};
    }
    const auto* body = doc->find("signed");
    const auto* signatures = doc->find("signatures");
    if (doc->kind != JsonValue::Kind::object || !body || body->kind != JsonValue::Kind::object ||
        !signatures || signatures->kind != JsonValue::Kind::array) {
        return Unexpected{"not a snapshot manifest ('signed' and 'signatures' expected)"};
    }
    SignedManifest out;
    out.signed_text = std::string(body->raw);
    for (const auto& sig : signatures->items) {
        if (sig.kind == JsonValue::Kind::string) {
            out.signatures.push_back(sig.text);
        }
    }
    Manifest& m = out.manifest;
    auto format = int_member(*body, "format", 1);
    if (!format) {
        return Unexpected{format.error()};
    }
    if (*format != k_manifest_format) {
        return Unexpected{"manifest format " + std::to_string(*format) +
                          ", this hydra-status reads " + std::to_string(k_manifest_format) +
                          "; upgrade hydra-status"};
    }
    auto schema = int_member(*body, "schema", 1);
    auto created = int_member(*body, "created", 0);
    auto seq = int_member(*body, "seq", 0);
    auto hydra = string_member(*body, "hydra");
    for (const std::string* why :
         {&schema.error(), &created.error(), &seq.error(), &hydra.error()}) {
        if (!why->empty()) {
            return Unexpected{*why};
        }
    }
    m.schema = static_cast<int>(*schema);
    m.created = *created;
    m.seq = *seq;
    m.hydra = *hydra;
    if (const auto* jobsets = body->find("jobsets");
        jobsets && jobsets->kind == JsonValue::Kind::array) {
        for (const auto& j : jobsets->items) {
            if (j.kind == JsonValue::Kind::string) {
                m.jobsets.push_back(j.text);
            }
        }
    }
    const auto* base = body->find("base");
    if (!base) {
        return Unexpected{"'base' is missing"};
    }
    auto base_file = parse_file(*base, false);
    if (!base_file) {
        return Unexpected{base_file.error()};
    }
    m.base = std::move(*base_file);
    if (m.base.from != 0) {
        return Unexpected{"the base does not start at 0"};
    }
    const auto* deltas = body->find("deltas");
    if (!deltas || deltas->kind != JsonValue::Kind::array) {
        return Unexpected{"'deltas' is missing"};
    }
    for (const auto& item : deltas->items) {
        auto delta = parse_file(item, true);
        if (!delta) {
            return Unexpected{delta.error()};
        }
        if (!m.deltas.empty() && delta->from != m.deltas.back().to) {
            return Unexpected{delta->file + ": does not start where the delta before ends"};
        }
        m.deltas.push_back(std::move(*delta));
    }
    const int64_t end = m.deltas.empty() ? m.base.to : std::max(m.base.to, m.deltas.back().to);
    if (m.seq != end) {
        return Unexpected{"'seq' is not where the newest file ends"};
    }
    if (!m.deltas.empty() &&
        (m.base.to < m.deltas.front().from || m.base.to > m.deltas.back().to)) {
        return Unexpected{"the base is not at the end of a delta"};
    }
    return out;
}

Expected<std::string> verify_manifest(const SignedManifest& manifest,
                                      const std::vector<PublicKey>& trusted) {
    const std::string message = std::string(k_signature_prefix) + manifest.signed_text;
    std::string signers;
    for (const auto& signature : manifest.signatures) {
        const std::string name = signature_key_name(signature);
        signers += (signers.empty() ? "" : ", ") + quote(name);
        for (const auto& key : trusted) {
            if (key.name == name && verify(key, signature, message)) {
                return name;
            }
        }
    }
    if (manifest.signatures.empty()) {
        return Unexpected{"is not signed"};
    }
    for (const auto& signature : manifest.signatures) {
        const std::string name = signature_key_name(signature);
        for (const auto& key : trusted) {
            if (key.name == name) {
                return Unexpected{"has no valid signature by trusted key " + quote(name) +
                                  " (the manifest was changed or signed by another key)"};
            }
        }
    }
    return Unexpected{"is signed by " + signers + ", which trusted-keys does not list"};
}

} // namespace hs::snapshot
