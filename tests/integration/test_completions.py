"""Shell completions (contrib/completions): bash, fish and zsh complete
commands, options, option values (jobsets from the index and the config through
`hydra-status jobsets --complete`, gate policies, config keys) and store paths.

bash: the completion function is called with COMP_WORDS/COMP_CWORD set, once
as plain bash and once with the bash-completion package loaded. fish:
`complete -C`. zsh: a zsh in a pseudo-terminal (zsh/zpty) presses TAB with
`compadd` wrapped to record the matches. A shell that is not installed is
skipped (contrib/install-deps installs all three).

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_completions
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, hs_env, run_hs

HS_BIN = hs_testlib.skip_unless_binary()
COMPLETIONS = os.path.join(hs_testlib.SOURCE_DIR, "contrib", "completions")
BASH_FILE = os.path.join(COMPLETIONS, "hydra-status.bash")
ZSH_FILE = os.path.join(COMPLETIONS, "_hydra-status")
FISH_FILE = os.path.join(COMPLETIONS, "hydra-status.fish")
BASH_COMPLETION_PKG = "/usr/share/bash-completion/bash_completion"

BASH = shutil.which("bash")
ZSH = shutil.which("zsh")
FISH = shutil.which("fish")


class Fixture:
    """An index synced from the demo Hydra, a config naming one more jobset,
    a directory with .drv and other files, and PATH leading to $HS_BIN."""

    tmp: str
    home: str
    db: str
    files: str

    @classmethod
    def make(cls) -> "Fixture":
        fx = cls()
        fx.tmp = tempfile.mkdtemp(prefix="hs-test-completions-")
        fx.home = os.path.join(fx.tmp, "home")
        fx.db = os.path.join(fx.tmp, "index.sqlite")
        with FakeHydra(DEMO_DATASET) as hydra:
            proc = run_hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                           "--jobset", "nixpkgs:staging", "--min-interval", "0", "-q"],
                          db=fx.db, home=fx.home)
        if proc.returncode != 0:
            raise RuntimeError(f"sync failed: {proc.stderr}")
        hs_testlib.write_config(fx.home, "jobsets = extra:from-config\n")
        # The index the completion uses: the one named on the command line,
        # or this default one (empty: only the config's jobset).
        fx.files = os.path.join(fx.tmp, "files")
        os.makedirs(os.path.join(fx.files, "subdir"))
        for name in ("aaa-one.drv", "aaa-two.drv", "aaa-notes.txt"):
            with open(os.path.join(fx.files, name), "w", encoding="utf-8") as f:
                f.write("x")
        bindir = os.path.join(fx.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(HS_BIN, os.path.join(bindir, "hydra-status"))
        fx.env = hs_env(fx.home, {"PATH": bindir + os.pathsep + os.environ.get("PATH", "")})
        return fx

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


FX: Fixture


def setUpModule() -> None:  # noqa: N802
    global FX
    FX = Fixture.make()


def tearDownModule() -> None:  # noqa: N802
    FX.cleanup()


def help_options(command: str) -> set[str]:
    """The long options of `hydra-status COMMAND --help` (its own and global)."""
    proc = subprocess.run([HS_BIN, command, "--help"], capture_output=True, text=True,
                          timeout=30, env=FX.env)
    assert proc.returncode == 0, proc.stderr
    out = set()
    for line in proc.stdout.splitlines():
        stripped = line.strip()
        # "  --name ARG   text"; wrapped text is indented further.
        if line.startswith("  -"):
            for word in stripped.replace("[", " ").replace("]", " ").split():
                if word.startswith("--") and len(word) > 2:
                    out.add(word)
                elif not word.startswith("-"):
                    break
    return out


# --------------------------------------------------------------------------
# bash


@unittest.skipUnless(BASH, "bash is not installed")
class BashCompletionTest(unittest.TestCase):
    """Calls _hydra_status with COMP_WORDS/COMP_CWORD as bash would set them."""

    with_package = False

    def complete(self, *words: str, wordbreaks_colon: bool = True) -> list[str]:
        """COMPREPLY for a command line whose last word is the one completed.
        Words are given as bash splits them (':' is a word of its own when it
        is in COMP_WORDBREAKS)."""
        line = words[0]
        for before, word in zip(words, words[1:]):
            line += word if ":" in (before, word) else " " + word
        script = []
        if self.with_package:
            script.append(f"source {shlex.quote(BASH_COMPLETION_PKG)}")
        script += [
            f"source {shlex.quote(BASH_FILE)}",
            "COMP_WORDS=(" + " ".join(shlex.quote(w) for w in words) + ")",
            f"COMP_CWORD={len(words) - 1}",
            f"COMP_LINE={shlex.quote(line)}",
            f"COMP_POINT={len(line)}",
            "COMP_TYPE=9",
            "COMP_KEY=9",
        ]
        if not wordbreaks_colon:
            script.append("COMP_WORDBREAKS=${COMP_WORDBREAKS//:/}")
        script += ["COMPREPLY=()", "_hydra_status", "printf '%s\\n' \"${COMPREPLY[@]}\""]
        proc = subprocess.run([BASH, "--norc", "--noprofile", "-c", "\n".join(script)],
                              capture_output=True, text=True, timeout=30, env=FX.env,
                              cwd=FX.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "", f"completion printed errors for {words}")
        return [w for w in proc.stdout.split("\n") if w]

    def test_commands_at_first_word(self) -> None:
        self.assertEqual(sorted(self.complete("hydra-status", "")),
                         sorted(["lookup", "sync", "gate", "info", "record", "forget", "config",
                                 "history", "bisect", "evals", "report", "snapshot"]))
        self.assertEqual(self.complete("hydra-status", "sy"), ["sync"])
        self.assertEqual(self.complete("hydra-status", "co"), ["config"])

    def test_command_found_after_global_options_with_values(self) -> None:
        got = self.complete("hydra-status", "--db", FX.db, "--url", "http://x", "gate", "--p")
        self.assertEqual(got, ["--policy"])
        self.assertEqual(self.complete("hydra-status", "--json", "-v", "sy"), ["sync"])

    def test_every_option_of_each_command(self) -> None:
        for command in ("lookup", "sync", "gate", "info", "record", "forget", "config",
                        "history", "bisect", "evals", "report", "snapshot"):
            with self.subTest(command=command):
                got = set(self.complete("hydra-status", command, "--"))
                self.assertEqual(got, help_options(command))

    def test_global_options_without_command(self) -> None:
        got = set(self.complete("hydra-status", "--"))
        self.assertEqual(got, help_options("info"))  # info has no options of its own
        self.assertIn("--version", got)

    def test_jobsets_from_index_and_config(self) -> None:
        got = self.complete("hydra-status", "--db", FX.db, "sync", "--jobset", "")
        self.assertEqual(sorted(got), ["extra:from-config", "nixpkgs:staging", "nixpkgs:trunk"])
        # --db after the command counts too; without any, the default (empty)
        # index offers just the config's jobset.
        got = self.complete("hydra-status", "lookup", "--db", FX.db, "--jobset", "nix")
        self.assertEqual(sorted(got), ["nixpkgs:staging", "nixpkgs:trunk"])
        self.assertEqual(self.complete("hydra-status", "sync", "--jobset", ""),
                         ["extra:from-config"])

    def test_jobset_after_colon_completes_the_rest(self) -> None:
        # ':' breaks words: bash replaces only what follows it.
        got = self.complete("hydra-status", "--db", FX.db, "sync", "--jobset", "nixpkgs", ":", "tr")
        self.assertEqual(got, ["trunk"])
        got = self.complete("hydra-status", "--db", FX.db, "sync", "--jobset", "nixpkgs:tr",
                            wordbreaks_colon=False)
        self.assertEqual(got, ["nixpkgs:trunk"])

    def test_option_values(self) -> None:
        self.assertEqual(self.complete("hydra-status", "gate", "--policy", ""), ["fail", "warn"])
        self.assertEqual(self.complete("hydra-status", "gate", "--policy", "w"), ["warn"])
        self.assertEqual(self.complete("hydra-status", "sync", "--max-evals", ""), [])
        self.assertEqual(self.complete("hydra-status", "config", ""), ["show", "get"])
        keys = run_hs(["config", "keys"], db=None, home=FX.home).stdout.split()
        self.assertEqual(self.complete("hydra-status", "config", "get", ""), keys)
        self.assertEqual(self.complete("hydra-status", "config", "get", "stale"), ["stale-after"])

    def test_store_paths(self) -> None:
        self.assertEqual(self.complete("hydra-status", "lookup", ""), ["/nix/store/"])
        self.assertEqual(self.complete("hydra-status", "gate", ""), ["/nix/store/"])
        prefix = os.path.join(FX.files, "aaa-")
        got = sorted(self.complete("hydra-status", "lookup", prefix))
        self.assertEqual(got, [prefix + n for n in ("notes.txt", "one.drv", "two.drv")])
        # drv arguments: only .drv files (and directories to walk into).
        got = sorted(self.complete("hydra-status", "gate", prefix))
        self.assertEqual(got, [prefix + "one.drv", prefix + "two.drv"])
        got = sorted(self.complete("hydra-status", "record", "--failed", prefix))
        self.assertEqual(got, [prefix + "one.drv", prefix + "two.drv"])
        got = self.complete("hydra-status", "forget", os.path.join(FX.files, "sub"))
        self.assertEqual(got, [os.path.join(FX.files, "subdir")])

    def test_store_path_first_is_a_lookup(self) -> None:
        got = self.complete("hydra-status", os.path.join(FX.files, "aaa-o"))
        self.assertEqual(got, [os.path.join(FX.files, "aaa-one.drv")])
        key = "/nix/store/rfqjn5h7sp7bfdgb1ymq2qdnafx9j921-curl-8.7.1.drv"
        got = set(self.complete("hydra-status", key, "--"))
        self.assertEqual(got, help_options("lookup"))


@unittest.skipUnless(BASH and os.path.exists(BASH_COMPLETION_PKG),
                     "bash or the bash-completion package is not installed")
class BashCompletionWithPackageTest(BashCompletionTest):
    """The same, with the bash-completion package's helpers loaded."""

    with_package = True


# --------------------------------------------------------------------------
# fish


@unittest.skipUnless(FISH, "fish is not installed")
class FishCompletionTest(unittest.TestCase):

    def complete(self, line: str) -> list[str]:
        script = f"source {shlex.quote(FISH_FILE)}; complete -C{shlex.quote(line)}"
        proc = subprocess.run([FISH, "--no-config", "-c", script], capture_output=True,
                              text=True, timeout=30, env=FX.env, cwd=FX.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "", f"completion printed errors for {line!r}")
        return [w.split("\t")[0] for w in proc.stdout.splitlines() if w]

    def test_syntax(self) -> None:
        proc = subprocess.run([FISH, "--no-config", "--no-execute", FISH_FILE],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))

    def test_commands(self) -> None:
        self.assertEqual(sorted(self.complete("hydra-status ")),
                         sorted(["lookup", "sync", "gate", "info", "record", "forget", "config",
                                 "history", "bisect", "evals", "report", "snapshot"]))
        self.assertEqual(self.complete(f"hydra-status --db {FX.db} sy"), ["sync"])

    def test_every_option_of_each_command(self) -> None:
        for command in ("lookup", "sync", "gate", "info", "record", "forget", "config",
                        "history", "bisect", "evals", "report", "snapshot"):
            with self.subTest(command=command):
                got = set(self.complete(f"hydra-status {command} --"))
                self.assertEqual(got, help_options(command))

    def test_option_values(self) -> None:
        self.assertEqual(sorted(self.complete(f"hydra-status --db {FX.db} sync --jobset ")),
                         ["extra:from-config", "nixpkgs:staging", "nixpkgs:trunk"])
        self.assertEqual(sorted(self.complete("hydra-status gate --policy ")), ["fail", "warn"])
        self.assertEqual(self.complete("hydra-status config get stale"), ["stale-after"])
        self.assertEqual(sorted(self.complete("hydra-status config ")), ["get", "show"])

    def test_store_paths(self) -> None:
        self.assertIn("/nix/store/", self.complete("hydra-status lookup "))
        prefix = os.path.join(FX.files, "aaa-")
        self.assertEqual(sorted(self.complete(f"hydra-status gate {prefix}")),
                         [prefix + "one.drv", prefix + "two.drv"])
        self.assertEqual(sorted(self.complete(f"hydra-status {prefix}o")), [prefix + "one.drv"])


# --------------------------------------------------------------------------
# zsh

# Runs an interactive zsh in a pseudo-terminal, loads the completion system
# with our function first in $fpath, wraps compadd to append every match it
# is given to OUT, types LINE and presses TAB.
ZSH_DRIVER = textwrap.dedent(r"""
    zmodload zsh/zpty || exit 3
    fp=$1 out=$2 line=$3
    zpty z zsh -f -i
    zpty -w z "PS1=''; fpath=(${(q)fp} \$fpath); autoload -Uz compinit; compinit -u -D"
    zpty -w z "compadd() { local -a __m; builtin compadd -O __m \"\$@\"; (( \$#__m )) && print -rl -- \$__m >> ${(q)out}; builtin compadd \"\$@\" }"
    zpty -w z "zstyle ':completion:*' menu no; LISTMAX=100000; print -r -- ready >> ${(q)out}.ready"
    for i in {1..200}; do [[ -s $out.ready ]] && break; sleep 0.05; done
    [[ -s $out.ready ]] || exit 4
    zpty -w -n z "$line"$'\t'
    # Matches arrive within milliseconds; wait until the file stops growing.
    local size=-1
    for i in {1..100}; do
        sleep 0.1
        [[ -s $out ]] || continue
        local now=$(wc -c < $out)
        (( now == size )) && break
        size=$now
    done
    zpty -d z
""")


@unittest.skipUnless(ZSH, "zsh is not installed")
class ZshCompletionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = tempfile.mkdtemp(prefix="hs-test-zsh-")
        cls.fpath = os.path.join(cls.dir, "fpath")
        os.makedirs(cls.fpath)
        shutil.copy(ZSH_FILE, cls.fpath)
        cls.driver = os.path.join(cls.dir, "driver.zsh")
        with open(cls.driver, "w", encoding="utf-8") as f:
            f.write(ZSH_DRIVER)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.dir, ignore_errors=True)

    def complete(self, line: str) -> set[str]:
        out = tempfile.mktemp(prefix="matches-", dir=self.dir)
        proc = subprocess.run([ZSH, "-f", self.driver, self.fpath, out, line],
                              capture_output=True, text=True, timeout=40, env=FX.env, cwd=FX.tmp)
        self.assertEqual(proc.returncode, 0, f"zsh driver failed: {proc.stdout}{proc.stderr}")
        try:
            with open(out, encoding="utf-8") as f:
                return {w for w in f.read().splitlines() if w}
        except FileNotFoundError:
            return set()

    def test_syntax(self) -> None:
        proc = subprocess.run([ZSH, "-n", ZSH_FILE], capture_output=True, text=True, timeout=30)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))

    def test_commands(self) -> None:
        self.assertEqual(self.complete("hydra-status "),
                         {"lookup", "sync", "gate", "info", "record", "forget", "config",
                          "history", "bisect", "evals", "report", "snapshot"})

    def test_sync_options(self) -> None:
        got = self.complete("hydra-status sync --")
        self.assertEqual(got, help_options("sync"))

    def test_option_values(self) -> None:
        self.assertEqual(self.complete(f"hydra-status --db {FX.db} sync --jobset "),
                         {"extra:from-config", "nixpkgs:staging", "nixpkgs:trunk"})
        self.assertEqual(self.complete("hydra-status gate --policy "), {"fail", "warn"})
        self.assertIn("stale-after", self.complete("hydra-status config get "))

    def test_paths(self) -> None:
        self.assertEqual(self.complete("hydra-status lookup "), {"/nix/store/"})
        # The recorded matches include what _files offers on the way (the
        # directories of the path); the .drv files must be among them.
        got = self.complete(f"hydra-status gate {os.path.join(FX.files, 'aaa-')}")
        self.assertLessEqual({"aaa-one.drv", "aaa-two.drv"}, {os.path.basename(g) for g in got})


if __name__ == "__main__":
    unittest.main()
