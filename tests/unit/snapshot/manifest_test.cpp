#include "snapshot/manifest.hpp"

#include <gtest/gtest.h>

namespace hs::snapshot {
namespace {

Manifest sample() {
    Manifest m;
    m.schema = 6;
    m.created = 1700000000;
    m.hydra = "https://hydra.example.org";
    m.jobsets = {"nixpkgs:trunk"};
    m.base = {"base-aa.sqlite.zst", 10, std::string(64, 'a'), 20, 0, 3, {}};
    m.deltas = {{"delta-bb.sqlite.zst", 5, std::string(64, 'b'), 8, 1, 3, {7}},
                {"delta-cc.sqlite.zst", 5, std::string(64, 'c'), 8, 3, 4, {8, 9}}};
    m.seq = 4;
    return m;
}

TEST(Manifest, RendersParsesAndVerifies) {
    const auto pair = generate_key_pair("k-1");
    const auto text = render_manifest(sample(), *parse_secret_key(pair.secret));
    auto parsed = parse_manifest(text);
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->manifest.deltas.size(), 2u);
    EXPECT_EQ(parsed->manifest.deltas[1].evals, (std::vector<int64_t>{8, 9}));
    EXPECT_EQ(parsed->manifest.hydra, "https://hydra.example.org");
    auto signer = verify_manifest(*parsed, {*parse_public_key(pair.public_key)});
    ASSERT_TRUE(signer) << signer.error();
    EXPECT_EQ(*signer, "k-1");
}

TEST(Manifest, VerificationNamesTheKeys) {
    const auto pair = generate_key_pair("k-1");
    const auto other = generate_key_pair("other-1");
    auto text = render_manifest(sample(), *parse_secret_key(pair.secret));
    auto parsed = parse_manifest(text);
    auto untrusted = verify_manifest(*parsed, {*parse_public_key(other.public_key)});
    ASSERT_FALSE(untrusted);
    EXPECT_NE(untrusted.error().find("'k-1'"), std::string::npos) << untrusted.error();
    // One changed byte of the signed part: no valid signature by k-1.
    text.replace(text.find("1700000000"), 10, "1700000001");
    auto changed = parse_manifest(text);
    ASSERT_TRUE(changed);
    auto bad = verify_manifest(*changed, {*parse_public_key(pair.public_key)});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("no valid signature by trusted key 'k-1'"), std::string::npos);
    changed->signatures.clear();
    EXPECT_EQ(verify_manifest(*changed, {}).error(), "is not signed");
}

TEST(Manifest, RefusesBadShapes) {
    const auto key = *parse_secret_key(generate_key_pair("k").secret);
    auto gap = sample();
    gap.deltas[1].from = 2;
    EXPECT_FALSE(parse_manifest(render_manifest(gap, key)));
    auto path = sample();
    path.deltas[0].file = "../etc/passwd";
    EXPECT_FALSE(parse_manifest(render_manifest(path, key)));
    auto seq = sample();
    seq.seq = 9;
    EXPECT_FALSE(parse_manifest(render_manifest(seq, key)));
    auto format = sample();
    format.format = 2;
    EXPECT_NE(parse_manifest(render_manifest(format, key)).error().find("upgrade"),
              std::string::npos);
    EXPECT_FALSE(parse_manifest("{}"));
    EXPECT_FALSE(valid_file_name(".hidden"));
    EXPECT_TRUE(valid_file_name("delta-0a.sqlite.zst"));
}

} // namespace
} // namespace hs::snapshot
