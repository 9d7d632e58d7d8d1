#include "core/error.hpp"
#include "gate/closure.hpp"
#include "support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace hs::gate {
namespace {

namespace fs = std::filesystem;

const std::string k_real = std::string(HS_TEST_DATA) + "/drv/real/";
const std::string k_top = "/nix/store/jzypq3liijznyjv5k4dx0z66nq14lyv0-top.drv";
const std::string k_mid = "/nix/store/4d6036pbqyd4n0gls08lqa9zxaj3lmqp-mid.drv";
const std::string k_hello = "/nix/store/76w21n1f03fs5kw8fnffphx7qrqffw6r-hello.drv";
const std::string k_bad = "/nix/store/b1s1agq35q9fn6pfd5frvq39vjxcaa5h-bad-leaf.drv";

// A store root holding the real drvs written by Nix 2.8 (top -> mid -> {hello, bad-leaf}).
class StoreRoot {
public:
    StoreRoot() {
        fs::create_directories(m_dir.path() / "nix/store");
        for (const auto& entry : fs::directory_iterator(k_real)) {
            fs::copy_file(entry.path(), m_dir.path() / "nix/store" / entry.path().filename());
        }
    }
    std::string root() const { return m_dir.path().string(); }
    fs::path store() const { return m_dir.path() / "nix/store"; }

private:
    test::TempDir m_dir;
};

std::vector<std::string> paths(const Closure& closure) {
    std::vector<std::string> out;
    for (const auto& node : closure.nodes) {
        out.push_back(node.path);
    }
    return out;
}

TEST(Closure, WalksRealNixDrvsBreadthFirst) {
    StoreRoot store;
    const auto closure = walk_closure({k_top}, store.root());
    const auto got = paths(closure);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], k_top);
    EXPECT_EQ(got[1], k_mid);
    EXPECT_NE(std::find(got.begin(), got.end(), k_bad), got.end());
    EXPECT_NE(std::find(got.begin(), got.end(), k_hello), got.end());
}

TEST(Closure, ChainRunsFromTheRoot) {
    StoreRoot store;
    const auto closure = walk_closure({k_top}, store.root());
    const auto got = paths(closure);
    const auto bad = static_cast<size_t>(std::find(got.begin(), got.end(), k_bad) - got.begin());
    EXPECT_EQ(closure.chain(bad), (std::vector<std::string>{k_top, k_mid, k_bad}));
    EXPECT_EQ(closure.chain(0), std::vector<std::string>{k_top});
}

TEST(Closure, SharedSubClosureIsVisitedOnce) {
    StoreRoot store;
    const auto closure = walk_closure({k_top, k_mid, k_top}, store.root());
    EXPECT_EQ(closure.nodes.size(), 4u);
}

TEST(Closure, RootMayBeAFileOutsideTheStore) {
    const auto closure = walk_closure({k_real + k_hello.substr(11)}, "");
    ASSERT_EQ(closure.nodes.size(), 1u);
    EXPECT_EQ(closure.nodes[0].path, k_hello);
}

TEST(Closure, RootFileWithAnotherNameTakesItsPathFromItsContents) {
    StoreRoot store;
    const auto copy = fs::path(store.root()) / "foo.drv";
    fs::copy_file(store.store() / k_top.substr(11), copy);
    const auto closure = walk_closure({copy.string()}, store.root());
    EXPECT_EQ(paths(closure).size(), 4u);
    EXPECT_EQ(closure.nodes[0].path, k_top);
}

TEST(Closure, RootFileWithAnotherNameMustBeADrv) {
    StoreRoot store;
    const auto notes = fs::path(store.root()) / "notes.txt";
    std::ofstream(notes) << "hello";
    try {
        walk_closure({notes.string()}, store.root());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  notes.string() + ": expected 'Derive(' or 'DrvWithVersion(' at byte 0");
    }
}

TEST(Closure, MissingInputIsAnErrorNamingTheFile) {
    StoreRoot store;
    fs::remove(store.store() / k_bad.substr(11));
    try {
        walk_closure({k_top}, store.root());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        EXPECT_NE(std::string(e.what()).find("bad-leaf.drv"), std::string::npos) << e.what();
    }
}

TEST(Closure, MalformedDrvIsAnErrorWithFileAndByte) {
    StoreRoot store;
    std::ofstream(store.store() / k_mid.substr(11), std::ios::trunc) << "Derive([x";
    try {
        walk_closure({k_top}, store.root());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("mid.drv: "), std::string::npos) << what;
        EXPECT_NE(what.find("at byte"), std::string::npos) << what;
    }
}

TEST(Closure, SymlinkOutOfTheRootIsRefused) {
    StoreRoot store;
    const auto target = store.store() / k_hello.substr(11);
    const auto outside = fs::temp_directory_path() / "hs-closure-outside.drv";
    fs::copy_file(target, outside, fs::copy_options::overwrite_existing);
    fs::remove(target);
    fs::create_symlink(outside, target);
    EXPECT_THROW(walk_closure({k_top}, store.root()), Error);
    fs::remove(outside);
}

TEST(Closure, SymlinkedStoreDirectoryOutOfTheRootIsRefused) {
    StoreRoot store;
    StoreRoot other;
    fs::remove_all(store.store());
    fs::create_directory_symlink(other.store(), store.store());
    try {
        walk_closure({k_top}, store.root());
        ADD_FAILURE() << "read through a symlinked store directory";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("outside the store root"), std::string::npos)
            << e.what();
    }
}

TEST(Closure, SiblingWithTheRootAsPrefixIsOutside) {
    // root "/tmp/x" must not accept "/tmp/x2/...".
    StoreRoot store;
    const std::string sibling = store.root() + "2";
    fs::create_directories(sibling);
    const auto target = store.store() / k_hello.substr(11);
    fs::copy_file(target, fs::path(sibling) / "hello.drv");
    fs::remove(target);
    fs::create_symlink(fs::path(sibling) / "hello.drv", target);
    EXPECT_THROW(walk_closure({k_top}, store.root()), Error);
    fs::remove_all(sibling);
}

TEST(Closure, SymlinkInsideTheRootIsFollowed) {
    StoreRoot store;
    const auto target = store.store() / k_hello.substr(11);
    fs::create_directories(fs::path(store.root()) / "elsewhere");
    fs::rename(target, fs::path(store.root()) / "elsewhere/hello.drv");
    fs::create_symlink("../../elsewhere/hello.drv", target);
    EXPECT_EQ(walk_closure({k_top}, store.root()).nodes.size(), 4u);
}

TEST(Closure, FifoInTheRootIsRefusedWithoutHanging) {
    StoreRoot store;
    const auto target = store.store() / k_hello.substr(11);
    fs::remove(target);
    ASSERT_EQ(::mkfifo(target.c_str(), 0644), 0);
    try {
        walk_closure({k_top}, store.root());
        ADD_FAILURE() << "a FIFO was read as a drv";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
}

// A store path with a made-up hash: "/nix/store/<32 nix32 chars>-<name>".
std::string made_up_path(size_t n, const std::string& name) {
    static constexpr std::string_view k_alphabet = "0123456789abcdfghijklmnpqrsvwxyz";
    std::string hash(32, '0');
    for (size_t i = 0; i < hash.size() && n > 0; ++i, n /= 32) {
        hash[hash.size() - 1 - i] = k_alphabet[n % 32];
    }
    return "/nix/store/" + hash + "-" + name;
}

// A drv with the given inputDrvs, in that order.
std::string drv_text(const std::vector<std::string>& inputs) {
    std::string text =
        R"(Derive([("out","/nix/store/00000000000000000000000000000000-x","","")],[)";
    for (size_t i = 0; i < inputs.size(); ++i) {
        text += (i ? "," : "") + ("(\"" + inputs[i] + "\",[\"out\"])");
    }
    return text + R"(],[],"x86_64-linux","/bin/sh",[],[("name","x")]))";
}

// A root over `width` drvs that each depend on one of `width` leaves, in
// reverse, plus every leaf again from the root: wide enough levels for
// every reading thread, with shared nodes and a known breadth-first order.
struct WideStore : StoreRoot {
    explicit WideStore(size_t width) {
        for (size_t i = 0; i < width; ++i) {
            mids.push_back(made_up_path(1 + i, "mid-" + std::to_string(i) + ".drv"));
            leaves.push_back(made_up_path(1 + width + i, "leaf-" + std::to_string(i) + ".drv"));
        }
        top = made_up_path(1 + 2 * width, "root.drv");
        std::vector<std::string> root_inputs = mids;
        root_inputs.insert(root_inputs.end(), leaves.begin(), leaves.begin() + 3);
        write(top, root_inputs);
        for (size_t i = 0; i < width; ++i) {
            write(mids[i], {leaves[width - 1 - i]});
            write(leaves[i], {});
        }
    }
    void write(const std::string& path, const std::vector<std::string>& inputs) const {
        std::ofstream(store() / path.substr(11)) << drv_text(inputs);
    }
    std::vector<std::string> mids;
    std::vector<std::string> leaves;
    std::string top;
};

TEST(Closure, WideLevelsKeepTheBreadthFirstOrderAndShortestParents) {
    const size_t width = 1000;
    WideStore store(width);
    std::vector<std::string> want{store.top};
    want.insert(want.end(), store.mids.begin(), store.mids.end());
    want.insert(want.end(), store.leaves.begin(), store.leaves.begin() + 3);
    for (size_t i = 0; i < width; ++i) {
        if (width - 1 - i >= 3) {
            want.push_back(store.leaves[width - 1 - i]);
        }
    }
    for (int run = 0; run < 5; ++run) {
        const auto closure = walk_closure({store.top}, store.root());
        ASSERT_EQ(paths(closure), want) << "run " << run;
        // Leaves named by the root hang off it; the others off their mid.
        EXPECT_EQ(closure.nodes[1 + width].parent, 0);
        EXPECT_EQ(
            closure.chain(closure.nodes.size() - 1),
            (std::vector<std::string>{store.top, store.mids[width - 1 - 3], store.leaves[3]}));
    }
}

TEST(Closure, VisitSeesEachLevelOnceInOrder) {
    WideStore store(300);
    std::vector<std::pair<size_t, size_t>> ranges;
    const auto closure =
        walk_closure({store.top}, store.root(), [&](const Closure& seen, size_t begin, size_t end) {
            EXPECT_EQ(seen.nodes.size(), end);
            ranges.emplace_back(begin, end);
        });
    const std::vector<std::pair<size_t, size_t>> levels = {
        {0, 1}, {1, 1 + 300 + 3}, {1 + 300 + 3, closure.nodes.size()}};
    EXPECT_EQ(ranges, levels);
}

TEST(Closure, VisitorErrorWaitsForABadDrvFoundLater) {
    WideStore store(300);
    const auto visit_fails = [](const Closure&, size_t, size_t) {
        throw Error("index broken", ExitCode::no_index);
    };
    try {
        walk_closure({store.top}, store.root(), visit_fails);
        ADD_FAILURE() << "the visitor's error was lost";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::no_index);
    }
    fs::remove(store.store() / store.leaves[150].substr(11));
    try {
        walk_closure({store.top}, store.root(), visit_fails);
        ADD_FAILURE() << "a missing drv was not reported";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        EXPECT_NE(std::string(e.what()).find("leaf-150.drv"), std::string::npos) << e.what();
    }
}

TEST(Closure, FirstBadDrvInWalkOrderIsReported) {
    WideStore store(500);
    for (const size_t i : {400, 100, 300}) {
        std::ofstream(store.store() / store.mids[i].substr(11), std::ios::trunc) << "Derive(";
    }
    for (int run = 0; run < 5; ++run) {
        try {
            walk_closure({store.top}, store.root());
            ADD_FAILURE() << "malformed drvs were read";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("mid-100.drv"), std::string::npos) << e.what();
        }
    }
}

TEST(Closure, CollectsBadDrvsInWalkOrderAndWalksTheRest) {
    WideStore store(300);
    fs::remove(store.store() / store.mids[200].substr(11));
    std::ofstream(store.store() / store.mids[100].substr(11), std::ios::trunc) << "Derive(";
    std::ofstream(store.store() / store.leaves[299 - 50].substr(11), std::ios::trunc) << "x";
    std::vector<Error> errors;
    const auto closure = walk_closure({"not-a-drv", store.top}, store.root(), {}, &errors);
    ASSERT_EQ(errors.size(), 4u);
    EXPECT_EQ(std::string(errors[0].what()),
              "not-a-drv: no such file, and not a store path (/nix/store/<hash>-<name>.drv)");
    EXPECT_NE(std::string(errors[1].what()).find("mid-100.drv: unexpected end of file at byte 7"),
              std::string::npos)
        << errors[1].what();
    EXPECT_NE(std::string(errors[2].what()).find("mid-200.drv: No such file or directory"),
              std::string::npos)
        << errors[2].what();
    EXPECT_NE(std::string(errors[3].what()).find("leaf-249.drv: expected 'Derive("),
              std::string::npos)
        << errors[3].what();
    for (const auto& error : errors) {
        EXPECT_EQ(error.code(), ExitCode::usage);
    }
    // Everything but the leaves of the two bad mids is walked; the bad files'
    // drvs stay in the closure (they can still be looked up).
    EXPECT_EQ(closure.nodes.size(), 1 + 300 + 300 - 2);
    const auto got = paths(closure);
    EXPECT_NE(std::find(got.begin(), got.end(), store.mids[200]), got.end());
    EXPECT_NE(std::find(got.begin(), got.end(), store.leaves[299 - 50]), got.end());
    EXPECT_EQ(std::find(got.begin(), got.end(), store.leaves[299 - 100]), got.end());
}

TEST(Closure, BadRootDoesNotStopTheOtherRoots) {
    StoreRoot store;
    const std::string missing = made_up_path(7, "gone.drv");
    std::vector<Error> errors;
    const auto closure = walk_closure({missing, k_top}, store.root(), {}, &errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(std::string(errors[0].what()),
              store.root() + missing + ": No such file or directory");
    EXPECT_EQ(paths(closure).size(), 5u);
    EXPECT_EQ(closure.nodes[0].path, missing);
}

TEST(Closure, VisitorErrorWaitsForCollectedBadDrvs) {
    WideStore store(10);
    fs::remove(store.store() / store.leaves[5].substr(11));
    std::vector<Error> errors;
    try {
        walk_closure(
            {store.top}, store.root(),
            [](const Closure&, size_t, size_t) { throw Error("index broken", ExitCode::no_index); },
            &errors);
        ADD_FAILURE() << "no error thrown";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        EXPECT_NE(std::string(e.what()).find("leaf-5.drv"), std::string::npos) << e.what();
    }
}

// Whether the real store holds the fixture drvs (then nothing is missing).
bool real_store_has_fixtures() {
    return fs::exists(k_mid) || fs::exists(k_top);
}

TEST(Closure, RootInAChrootStoreSuggestsItsDir) {
    if (real_store_has_fixtures()) {
        GTEST_SKIP() << "/nix/store holds the fixture drvs";
    }
    StoreRoot store;
    std::vector<Error> errors;
    walk_closure({store.root() + k_top}, "", {}, &errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(std::string(errors[0].what()), k_mid + ": No such file or directory (it is in " +
                                                 store.root() + "/nix/store: give --store-root " +
                                                 store.root() + ")");
    // With a store root, no suggestion.
    fs::remove(store.store() / k_mid.substr(11));
    errors.clear();
    walk_closure({k_top}, store.root(), {}, &errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(std::string(errors[0].what()), store.root() + k_mid + ": No such file or directory");
    // The root's store lacks the input too: the root's DIR is still the way.
    errors.clear();
    walk_closure({store.root() + k_top}, "", {}, &errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(std::string(errors[0].what()), k_mid + ": No such file or directory (a root is in " +
                                                 store.root() + "/nix/store: give --store-root " +
                                                 store.root() + " to read its inputs there too)");
}

TEST(Closure, HintRootHoldingAMissingDrvIsSuggested) {
    if (real_store_has_fixtures()) {
        GTEST_SKIP() << "/nix/store holds the fixture drvs";
    }
    StoreRoot store;
    std::vector<Error> errors;
    walk_closure({k_top}, "", {}, &errors, {"/nonexistent-hs-root", store.root()});
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(std::string(errors[0].what()), k_top + ": No such file or directory (it is in " +
                                                 store.root() + "/nix/store: give --store-root " +
                                                 store.root() + ")");
}

TEST(Closure, StoreRootSlashIsTheRealStore) {
    EXPECT_EQ(file_of(k_top, "/"), k_top);
    EXPECT_EQ(file_of(k_top, "//"), k_top);
}

TEST(Closure, OutputPathIsNotADrv) {
    EXPECT_THROW(walk_closure({"/nix/store/mjs27ix6ig2bkbi3s3sm470vrv4lf7ic-hello"}, ""), Error);
    EXPECT_THROW(walk_closure({"not-a-drv"}, ""), Error);
}

TEST(Closure, FlatClosureKeepsOrderAndDropsDuplicates) {
    const auto closure = flat_closure({k_bad, k_hello, k_bad});
    EXPECT_EQ(paths(closure), (std::vector<std::string>{k_bad, k_hello}));
    EXPECT_EQ(closure.chain(1), std::vector<std::string>{k_hello});
}

TEST(Closure, FileOfMapsUnderTheRoot) {
    EXPECT_EQ(file_of(k_top, ""), k_top);
    EXPECT_EQ(file_of(k_top, "/tmp/r/"), "/tmp/r" + k_top);
}

} // namespace
} // namespace hs::gate
