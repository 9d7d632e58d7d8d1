"""No drift between the program and its documentation: every command and
option that `hydra-status [COMMAND] --help` shows is in the man page
(doc/hydra-status.1) and in the bash, zsh and fish completions
(contrib/completions), with the same options per command; every config key
(`hydra-status config keys`) is in the man page and in contrib/config.example,
whose defaults are the program's; every HYDRA_STATUS_* variable the CLI reads
is in the man page; each --help ends with a pointer to the man page.

The options are read from the binary at test time, so options that other
commands add later are covered without changing this test.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_docs_drift
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import hs_testlib
from hs_testlib import hs_env

HS_BIN = hs_testlib.skip_unless_binary()
SOURCE = hs_testlib.SOURCE_DIR
MAN_PAGE = os.path.join(SOURCE, "doc", "hydra-status.1")
BASH_FILE = os.path.join(SOURCE, "contrib", "completions", "hydra-status.bash")
ZSH_FILE = os.path.join(SOURCE, "contrib", "completions", "_hydra-status")
FISH_FILE = os.path.join(SOURCE, "contrib", "completions", "hydra-status.fish")
CONFIG_EXAMPLE = os.path.join(SOURCE, "contrib", "config.example")

HOME = tempfile.mkdtemp(prefix="hs-test-docs-")
ENV = hs_env(HOME, {"HYDRA_STATUS_SYSTEM_CONFIG": "/dev/null"})


def tearDownModule() -> None:  # noqa: N802
    shutil.rmtree(HOME, ignore_errors=True)


def hs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HS_BIN, *args], capture_output=True, text=True, timeout=30,
                          env=ENV, cwd=HOME)


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


class Help:
    """What `hydra-status --help` and `hydra-status COMMAND --help` say."""

    def __init__(self) -> None:
        top = hs("--help")
        assert top.returncode == 0, top.stderr
        self.top = top.stdout
        section = self.top.split("Commands:", 1)[1].split("\n\n", 1)[0]
        self.commands = [line.split()[0] for line in section.splitlines() if line.strip()]
        self.global_options = self.options_in(self.top.split("Global options:", 1)[1])
        self.command_help: dict[str, str] = {}
        self.own_options: dict[str, dict[str, bool]] = {}
        for command in self.commands:
            proc = hs(command, "--help")
            assert proc.returncode == 0, proc.stderr
            self.command_help[command] = proc.stdout
            marker = f"{command} options:"
            own = proc.stdout.split(marker, 1)[1].split("Global options:")[0] \
                if marker in proc.stdout else ""
            self.own_options[command] = self.options_in(own)

    @staticmethod
    def options_in(text: str) -> dict[str, bool]:
        """Option name (--long, or -x for a short-only one) -> takes a value.
        Boost lists them as "  -x [ --long ] ARG   text" or "  --long ARG   text"."""
        out: dict[str, bool] = {}
        for line in text.splitlines():
            if not line.startswith("  -"):
                continue  # wrapped description text is indented further
            # The value name: upper case (FILE, PROJECT:JOBSET) or choices
            # (warn|fail); the description may follow after one space.
            m = re.match(r"\s+(-\w)?(?: \[ )?(--[\w-]+)?(?: \])?( [A-Z][A-Z:|_-]*\S*| \S+\|\S+)?\s",
                         line + " ")
            if not m:
                continue
            short, long, value = m.groups()
            if long:
                out[long] = bool(value)
            if short:
                out[short] = bool(value)
        return out

    def all_options(self, command: str) -> dict[str, bool]:
        return {**self.global_options, **self.own_options[command]}


HELP: Help


def setUpModule() -> None:  # noqa: N802
    global HELP
    HELP = Help()


def man_text() -> str:
    """The man page source with roff escapes for '-' and fonts undone."""
    text = read(MAN_PAGE)
    text = text.replace("\\-", "-").replace("\\&", "")
    text = re.sub(r"\\f[BIRP]", "", text)
    return text


OPTION_ARG = re.compile(r'^"?(--?[A-Za-z][\w-]*)"?$')


def man_options_by_command() -> dict[str, dict[str, set[str]]]:
    """The options the man page lists per command: {"SYNOPSIS": {command:
    options}, "COMMANDS": {...}}. Listed means: an argument of a font macro
    line (.B, .BI, .BR, .RB) in the command's part that is an option name
    alone, e.g. `.BR \\-q ", " \\-\\-quiet` or `.RB [ \\-\\-all ]`; prose
    mentions of other tools' options (`.B nix-build --dry-run`) are not."""
    text = man_text()
    out: dict[str, dict[str, set[str]]] = {"SYNOPSIS": {}, "COMMANDS": {}}

    def options_of(lines: list[str]) -> set[str]:
        found: set[str] = set()
        for line in lines:
            m = re.match(r"^\.(?:B|BI|BR|RB|IR|RI)\s+(.*)$", line)
            if not m:
                continue
            args = re.findall(r'"[^"]*"|\S+', m.group(1))
            for arg in args:
                om = OPTION_ARG.match(arg)
                if om:
                    found.add(om.group(1))
                elif not re.match(r'^"?[\[\]|.,;:)(]*"?$|^" *[^-]', arg):
                    break  # the first word is no option: prose (".B nix-build --dry-run")
        return found

    synopsis = text.split(".SH SYNOPSIS", 1)[1].split(".SH ", 1)[0]
    for part in synopsis.split(".br"):
        lines = part.strip().splitlines()
        words = [l.split()[1] for l in lines if l.startswith(".B ") and len(l.split()) > 1]
        if len(words) > 1 and words[0] == "hydra-status" and words[1] in HELP.commands:
            out["SYNOPSIS"][words[1]] = options_of(lines)

    commands = text.split(".SH COMMANDS", 1)[1].split(".SH ", 1)[0]
    # A command's entry: a .TP whose tag names it (".B sync", ".BI gate ...",
    # '.BI "record --failed" ...', '.BI "config get" ...'), to the next one.
    entries = re.split(r'^\.TP\n(?=\.B[IR]? "?(?:%s)\b)' % "|".join(HELP.commands),
                       commands, flags=re.M)
    for entry in entries[1:]:
        command = re.match(r'^\.B[IR]? "?(\w+)', entry).group(1)
        out["COMMANDS"].setdefault(command, set()).update(options_of(entry.splitlines()))
    return out


class HelpTest(unittest.TestCase):

    def test_help_found_commands_and_options(self) -> None:
        # Guards the parsing below: a test that sees nothing checks nothing.
        self.assertLessEqual({"lookup", "sync", "gate", "info", "record", "forget", "config"},
                             set(HELP.commands))
        self.assertLessEqual({"--db", "--url", "--config", "--json", "--verbose", "-v",
                              "--help", "-h", "--version"}, set(HELP.global_options))
        self.assertTrue(HELP.global_options["--db"])
        self.assertFalse(HELP.global_options["--json"])
        self.assertIn("--all", HELP.own_options["lookup"])
        self.assertTrue(HELP.own_options["gate"]["--policy"])

    def test_every_help_fits_80_columns(self) -> None:
        for command, text in [("", HELP.top), *HELP.command_help.items()]:
            with self.subTest(command=command):
                self.assertEqual([l for l in text.splitlines() if len(l) > 80], [])

    def test_each_help_ends_with_pointer_to_man_page(self) -> None:
        for command, text in [("", HELP.top), *HELP.command_help.items()]:
            with self.subTest(command=command):
                self.assertIn("man hydra-status", text.rstrip().splitlines()[-1])

    def test_each_command_help_is_grouped(self) -> None:
        for command, text in HELP.command_help.items():
            with self.subTest(command=command):
                self.assertTrue(text.startswith(f"usage: hydra-status {command}"), text)
                self.assertIn("Global options:", text)
                if HELP.own_options[command]:
                    self.assertLess(text.index(f"{command} options:"),
                                    text.index("Global options:"))


class ManPageTest(unittest.TestCase):

    def test_every_command_and_option_is_in_the_man_page(self) -> None:
        man = man_text()
        missing = []
        for command in HELP.commands:
            if not re.search(rf"^\.B[IR]* {command}\b", man, re.M):
                missing.append(f"command {command}")
            for option in HELP.all_options(command):
                if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", man):
                    missing.append(f"{command} {option}")
        self.assertEqual(missing, [], "add these to doc/hydra-status.1")

    def test_options_are_listed_under_their_own_command(self) -> None:
        """Under COMMANDS, and in the SYNOPSIS, each command lists its own
        options (and may name global ones), never another command's."""
        listed = man_options_by_command()
        self.assertLessEqual({"lookup", "sync", "gate", "record", "forget"},
                             set(listed["COMMANDS"]))
        self.assertIn("--stdin", listed["COMMANDS"]["lookup"])
        self.assertIn("--max-evals", listed["COMMANDS"]["sync"])
        self.assertIn("--max-evals", listed["SYNOPSIS"]["sync"])
        problems = []
        for section, commands in listed.items():
            for command, options in commands.items():
                own = set(HELP.own_options.get(command, {}))
                allowed = own | set(HELP.global_options)
                for option in sorted(options - allowed):
                    owners = [c for c in HELP.commands if option in HELP.own_options[c]]
                    problems.append(f"{section}: {option} under {command}"
                                    f" (an option of {owners or 'no command'})")
                if section == "COMMANDS":
                    for option in sorted(own - options):
                        problems.append(f"{section}: {command} does not list its {option}")
        self.assertEqual(problems, [], "fix doc/hydra-status.1")

    def test_every_config_key_is_in_the_man_page(self) -> None:
        man = man_text()
        keys = hs("config", "keys").stdout.split()
        self.assertIn("stale-after", keys)
        configuration = man.split(".SH CONFIGURATION", 1)[1].split(".SH ", 1)[0]
        missing = [k for k in keys if not re.search(rf"^\.BR {re.escape(k)} \"", configuration, re.M)]
        self.assertEqual(missing, [], "describe these keys under CONFIGURATION")

    def test_every_environment_variable_is_in_the_man_page(self) -> None:
        sources = "".join(read(p) for p in glob.glob(os.path.join(SOURCE, "src", "cli", "*.?pp")))
        names = set(re.findall(r"\bHYDRA_STATUS_[A-Z_]+\b", sources)) | {"NO_COLOR"}
        self.assertIn("HYDRA_STATUS_SYSTEM_CONFIG", names)
        environment = man_text().split(".SH ENVIRONMENT", 1)[1].split(".SH ", 1)[0]
        missing = sorted(n for n in names if n not in environment)
        self.assertEqual(missing, [], "describe these under ENVIRONMENT")

    def test_sections_examples_first_and_exit_codes(self) -> None:
        sections = re.findall(r"^\.SH (.+)$", read(MAN_PAGE), re.M)
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "COMMANDS", "GLOBAL OPTIONS",
                     "CONFIGURATION", "ENVIRONMENT", "FILES", "EXIT STATUS", "SEE ALSO"):
            self.assertIn(name, sections)
        self.assertEqual(sections.index("EXAMPLES"), 3, "EXAMPLES come right after DESCRIPTION")
        exits = man_text().split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
        for code in ("0", "1", "2", "3", "4", "5", "75"):
            self.assertRegex(exits, rf"(^\.B {code}$|\b{code}\b)")

    def test_title_names_the_programs_version(self) -> None:
        version = hs("--version").stdout.split()[-1]
        title = re.search(r"^\.TH .*$", read(MAN_PAGE), re.M).group(0)
        self.assertIn(f'"hydra-status {version}"', title)

    @unittest.skipUnless(shutil.which("groff"), "groff is not installed")
    def test_man_page_renders_without_warnings(self) -> None:
        proc = subprocess.run(["groff", "-t", "-man", "-Tutf8", "-ww", "-z", MAN_PAGE],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))


def bash_list(text: str, name: str) -> set[str]:
    m = re.search(rf'^{name}="([^"]*)"', text, re.M)
    assert m, f"{name} not found in {BASH_FILE}"
    return set(m.group(1).split())


def zsh_array(text: str, name: str) -> str:
    m = re.search(rf"^\s*{name}=\(\n(.*?)^\s*\)\s*$", text, re.M | re.S)
    assert m, f"array {name} not found in {ZSH_FILE}"
    return m.group(1)


def zsh_options(spec_block: str) -> set[str]:
    """Option names that zsh _arguments specs in the block define (not those
    merely mentioned in exclusion lists or descriptions)."""
    out: set[str] = set()
    for line in spec_block.splitlines():
        line = line.strip()
        braces = re.match(r"'(?:\([^)]*\))?\*?'?\{([^}]*)\}'\[", line)
        if braces:
            out.update(braces.group(1).split(","))
            continue
        single = re.match(r"'(?:\([^)]*\))?\*?(--?[\w-]+)\[", line)
        if single:
            out.add(single.group(1))
    return out


def fish_options(text: str, condition: str | None) -> set[str]:
    """Options of `complete -c hydra-status` lines with this -n condition
    (None: lines without -n, the global ones)."""
    out: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("complete -c hydra-status"):
            continue
        m = re.search(r" -n ('[^']*'|\"[^\"]*\"|\S+)", line)
        cond = m.group(1).strip("'\"") if m else None
        if cond != condition:
            continue
        out.update("--" + x for x in re.findall(r" -l ([\w-]+)", line))
        out.update("-" + x for x in re.findall(r" -s (\w)\b", line))
    return out


class CompletionDriftTest(unittest.TestCase):
    """The completions offer exactly the options of each command."""

    def check(self, shell: str, got_global: set[str], got: dict[str, set[str]]) -> None:
        problems = []
        want_global = set(HELP.global_options)
        if got_global != want_global:
            problems.append(f"global: missing {sorted(want_global - got_global)}, "
                            f"unknown {sorted(got_global - want_global)}")
        for command in HELP.commands:
            want = set(HELP.own_options[command])
            have = got.get(command, set())
            if have != want:
                problems.append(f"{command}: missing {sorted(want - have)}, "
                                f"unknown {sorted(have - want)}")
        self.assertEqual(problems, [], f"update the {shell} completion")

    def test_bash(self) -> None:
        text = read(BASH_FILE)
        self.assertEqual(bash_list(text, "_hydra_status_commands"), set(HELP.commands))
        got = {c: bash_list(text, f"_hydra_status_{c}_opts") for c in HELP.commands}
        self.check("bash", bash_list(text, "_hydra_status_global_opts"), got)
        # The completion skips the value of an option to find the command word.
        want_values = {o for c in HELP.commands for o, v in HELP.all_options(c).items() if v}
        self.assertEqual(bash_list(text, "_hydra_status_value_opts"), want_values)

    def test_zsh(self) -> None:
        text = read(ZSH_FILE)
        commands = {line.strip().strip("'").split(":")[0]
                    for line in zsh_array(text, "commands").splitlines() if line.strip()}
        self.assertEqual(commands, set(HELP.commands))
        got = {c: zsh_options(zsh_array(text, f"{c}_opts")) for c in HELP.commands}
        self.check("zsh", zsh_options(zsh_array(text, "global_opts")), got)
        for command in HELP.commands:
            self.assertRegex(text, rf"\n\s*\({command}\)\n", f"zsh: no case for {command}")

    def test_fish(self) -> None:
        text = read(FISH_FILE)
        commands = set(re.findall(r"-n __hydra_status_no_command -a (\w+)", text))
        self.assertEqual(commands, set(HELP.commands))
        got = {c: fish_options(text, f"__hydra_status_using {c}") for c in HELP.commands}
        self.check("fish", fish_options(text, None), got)


CONFIG_LINE = re.compile(r"^\s*(#.*)?$|^\s*[a-z][a-z0-9-]*\s*=")
README = os.path.join(SOURCE, "README.md")


def config_blocks(text: str, blocks: list[str]) -> list[str]:
    """The config files among code blocks: some 'key = value' line, and every
    line a setting, a comment or blank; plus the one-line configs that shell
    examples write (echo '...' >> .../config, printf '...' | tee .../config)."""
    out = [b for b in blocks
           if any(re.match(r"^\s*[a-z][a-z0-9-]*\s*=", l) for l in b.splitlines())
           and all(CONFIG_LINE.match(l) for l in b.splitlines())]
    for command, quoted in re.findall(r"\b(echo|printf) '([^']*)'[^\n]*hydra-status/config",
                                      text):
        out.append(quoted.replace("\\n", "\n") if command == "printf" else quoted + "\n")
    return out


def readme_config_blocks() -> list[str]:
    text = read(README)
    return config_blocks(text, re.findall(r"^```[\w-]*\n(.*?)^```", text, re.M | re.S))


def man_config_blocks() -> list[str]:
    text = man_text().replace("\\(aq", "'")
    return config_blocks(text, re.findall(r"^\.EX\n(.*?)^\.EE", text, re.M | re.S))


class DocumentedConfigTest(unittest.TestCase):
    """Every config file that the README, the man page and config.example
    show is read by `config show` as meant: no error, no value flagged, no
    comment taken for part of a value."""

    def check(self, name: str, block: str) -> None:
        config = os.path.join(HOME, "documented.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(block)
        proc = hs("--config", config, "config", "show", "--json")
        self.assertEqual(proc.returncode, 0, f"{name}:\n{block}\n{proc.stderr}")
        rows = {o["key"]: o for o in hs_testlib.json_lines(proc.stdout)}
        keys = re.findall(r"^\s*([a-z][a-z0-9-]*)\s*=", block, re.M)
        for key in keys:
            self.assertEqual(rows[key]["origin"], "user-file", f"{name}: {key}")
        for row in rows.values():
            self.assertIsNone(row.get("problem"), f"{name}: {row}")
            self.assertNotRegex(row["value"], r"\s#", f"{name}: a comment in {row}")

    def test_readme(self) -> None:
        blocks = readme_config_blocks()
        # The user file example, and the user and system one-liners.
        self.assertGreaterEqual(len(blocks), 3, blocks)
        self.assertTrue(any("#" in b.split("\n", 1)[1] for b in blocks), "a trailing comment")
        for i, block in enumerate(blocks):
            with self.subTest(block=i):
                self.check(f"README.md block {i}", block)

    def test_man_page(self) -> None:
        blocks = man_config_blocks()
        self.assertGreaterEqual(len(blocks), 2, blocks)  # the system file, the echo line
        for i, block in enumerate(blocks):
            with self.subTest(block=i):
                self.check(f"hydra-status.1 block {i}", block)

    def test_config_example_as_is_and_uncommented(self) -> None:
        example = read(CONFIG_EXAMPLE)
        self.check("config.example", example)
        self.check("config.example uncommented",
                   re.sub(r"^#([a-z][a-z0-9-]* = )", r"\1", example, flags=re.M))


class ConfigExampleTest(unittest.TestCase):

    def test_every_key_with_the_programs_default(self) -> None:
        example = read(CONFIG_EXAMPLE)
        keys = hs("config", "keys").stdout.split()
        listed = dict(re.findall(r"^#?([a-z][a-z0-9-]*) = (.*)$", example, re.M))
        self.assertEqual(sorted(set(keys) - set(listed)), [], "add these to config.example")
        self.assertEqual(sorted(set(listed) - set(keys)), [], "config.example names unknown keys")
        # Uncommented, the example is a valid config; every value it shows
        # is the default, but for the examples of jobsets and the shared db.
        config = os.path.join(HOME, "example.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(re.sub(r"^#([a-z][a-z0-9-]* = )", r"\1", example, flags=re.M))
        proc = hs("--config", config, "config", "show", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        defaults = {o["key"]: o["value"] for o in hs_testlib.json_lines(
            hs("--config", "/dev/null", "config", "show", "--json").stdout)}
        for line in hs_testlib.json_lines(proc.stdout):
            with self.subTest(key=line["key"]):
                self.assertEqual(line["origin"], "user-file")
                if line["key"] not in ("jobsets", "db"):
                    self.assertEqual(line["value"], defaults[line["key"]])


if __name__ == "__main__":
    unittest.main()
