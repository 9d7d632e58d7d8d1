"""`hydra-status config show|get` and the system config layer: every setting
with its value and where it came from (default, FILE:LINE of the system or the
user config file, the environment, the command line), as text and as JSON
Lines; /etc/hydra-status/config (here: $HYDRA_STATUS_SYSTEM_CONFIG) read below
the user's file, so an administrator can point every user's lookups at the
index of hydra-status-sync.service.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_config_show
"""

from __future__ import annotations

import os
import re
import subprocess
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, json_lines

HS_BIN = hs_testlib.skip_unless_binary()


def unwrap(pieces: list[str]) -> str:
    """Joins the lines of a text that `config show` wrapped: after a '/' it
    was cut, at a blank the blank was dropped. (A segment too long for a line
    is cut anywhere: compare such texts without blanks.)"""
    out = ""
    for piece in pieces:
        out += piece if not out or out.endswith("/") else " " + piece
    return out


def human_table(text: str) -> tuple[dict[str, tuple[str, str, str]], dict[str, str]]:
    """The human `config show`: key -> (value, origin, problem), each
    unwrapped, and config file -> its kind ("system" or "user").

    The layout: KEY, VALUE and ORIGIN columns; a value's own further lines
    start in the VALUE column, an origin that did not fit its row's line
    comes on lines indented further, and "! not valid: why" follows."""
    table, files_part = text.split("\n\nconfig files, lowest layer first:\n", 1)
    lines = table.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "ORIGIN"], lines[0]
    value_at, origin_at = lines[0].index("VALUE"), lines[0].index("ORIGIN")
    parts: dict[str, dict[str, list[str]]] = {}
    key = ""
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            key = line[:value_at].strip()
            first = line[value_at:]
            parts[key] = {"value": [], "origin": [], "problem": []}
            if len(first) > origin_at - value_at and first[origin_at - value_at - 2:origin_at -
                                                             value_at] == "  ":
                parts[key]["value"].append(first[:origin_at - value_at].strip())
                parts[key]["origin"].append(first[origin_at - value_at:])
            else:
                parts[key]["value"].append(first)
        elif line.lstrip().startswith("! ") or (parts[key]["problem"] and indent == value_at + 2):
            parts[key]["problem"].append(line.strip().removeprefix("! "))
        elif indent == value_at and not parts[key]["origin"]:
            parts[key]["value"].append(line.strip())
        else:
            parts[key]["origin"].append(line.strip())
    rows = {k: (unwrap(p["value"]), unwrap(p["origin"]), unwrap(p["problem"]))
            for k, p in parts.items()}
    files: dict[str, str] = {}
    kind = ""
    pieces: list[str] = []
    for line in files_part.splitlines() + ["  end"]:
        if not line.startswith("          "):
            if kind:
                files[unwrap(pieces)] = kind
            kind, _, rest = line.strip().partition(" ")
            pieces = [rest.strip()]
        else:
            pieces.append(line.strip())
    return rows, files


def no_blanks(text: str) -> str:
    return re.sub(r"\s", "", text)


class ConfigShowCase(HsTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.system = os.path.join(self.tmp, "system-config")

    def write_system(self, text: str) -> str:
        with open(self.system, "w", encoding="utf-8") as f:
            f.write(text)
        return self.system

    def show(self, *args: str, env: dict | None = None, code: int = 0) -> dict[str, dict]:
        env = {"HYDRA_STATUS_SYSTEM_CONFIG": self.system, **(env or {})}
        proc = self.hs([*args, "config", "show", "--json"], db=None, env=env)
        self.assertExit(proc, code)
        return {o["key"]: o for o in json_lines(proc.stdout)}


class LayersTest(ConfigShowCase):

    def test_defaults_when_no_file_exists(self) -> None:
        rows = self.show()
        keys = self.hs(["config", "keys"], db=None).stdout.split()
        self.assertEqual(list(rows), keys)
        for key, row in rows.items():
            with self.subTest(key=key):
                self.assertEqual((row["origin"], row["file"], row["line"], row["env"]),
                                 ("default", None, None, None))
        self.assertEqual(rows["stale-after"]["value"], "48h")
        self.assertEqual(rows["db"]["value"],
                         os.path.join(self.home, ".local/state/hydra-status/index.sqlite"))

    def test_each_layer_overrides_the_one_below(self) -> None:
        self.write_system("# system\nmax-evals = 2\nmax-tries = 3\nlocal-ttl = 1d\n"
                          "stale-after = 1h\n")
        user = self.write_config("max-tries = 4\n\nlocal-ttl = 2d\nstale-after = 2h\n")
        rows = self.show(env={"HYDRA_STATUS_URL": "http://env"})
        self.assertEqual(rows["max-evals"]["value"], "2")
        self.assertEqual((rows["max-evals"]["origin"], rows["max-evals"]["file"],
                          rows["max-evals"]["line"]), ("system-file", self.system, 2))
        self.assertEqual((rows["max-tries"]["value"], rows["max-tries"]["origin"],
                          rows["max-tries"]["file"], rows["max-tries"]["line"]),
                         ("4", "user-file", user, 1))
        self.assertEqual((rows["local-ttl"]["value"], rows["local-ttl"]["line"]), ("2d", 3))
        self.assertEqual((rows["url"]["value"], rows["url"]["origin"], rows["url"]["env"]),
                         ("http://env", "environment", "HYDRA_STATUS_URL"))
        self.assertEqual((rows["timeout"]["origin"], rows["timeout"]["value"]), ("default", "15m"))

    def test_command_line_wins(self) -> None:
        self.write_system("url = http://system\n")
        self.write_config("url = http://user\n")
        rows = self.show("--url", "http://cli", env={"HYDRA_STATUS_URL": "http://env"})
        self.assertEqual((rows["url"]["value"], rows["url"]["origin"]), ("http://cli", "command-line"))

    def test_human_table_names_origins_and_files(self) -> None:
        self.write_system("jobsets = nixpkgs:trunk\n")
        user = self.write_config("\nmax-evals = 5\n")
        proc = self.hs(["--url", "http://cli", "config", "show"], db=None,
                       env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system,
                            "HYDRA_STATUS_DB": "/env/index.sqlite"})
        self.assertExit(proc, 0)
        rows, files = human_table(proc.stdout)
        self.assertEqual(list(rows), self.hs(["config", "keys"], db=None).stdout.split())
        self.assertEqual(rows["jobsets"][:2], ("nixpkgs:trunk", f"{self.system}:1"))
        self.assertEqual(rows["max-evals"][:2], ("5", f"{user}:2"))
        self.assertEqual(rows["url"], ("http://cli", "command line", ""))
        self.assertEqual(rows["db"], ("/env/index.sqlite", "environment HYDRA_STATUS_DB", ""))
        self.assertEqual(rows["timeout"], ("15m", "default", ""))
        # Aligned: every origin that shares its row's line starts in one column.
        starts = {line.index(origin) for line in proc.stdout.splitlines()
                  for origin in ("command line", "environment HYDRA_STATUS_DB", "default")
                  if line.endswith(origin) and not line.startswith(" ")}
        self.assertEqual(len(starts), 1, proc.stdout)
        self.assertEqual(files, {self.system: "system", user: "user"})
        self.assertEqual([line for line in proc.stdout.splitlines() if len(line) > 80], [])

    def test_human_table_fits_80_columns_with_long_values(self) -> None:
        deep = os.path.join(self.tmp, *["a-rather-long-directory-name"] * 4)
        db = os.path.join(deep, "index.sqlite")
        url = "https://hydra.example.org/a/long/prefix/" + "p" * 70
        config = os.path.join(deep, "config")
        os.makedirs(deep)
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"db = {db}\njobsets = " + " ".join(f"project{i}:jobset{i}" for i in range(9))
                    + "\n")
        proc = self.hs(["--config", config, "--url", url, "config", "show"], db=None,
                       env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 0)
        long_lines = [line for line in proc.stdout.splitlines() if len(line) > 80]
        self.assertEqual(long_lines, [], proc.stdout)
        rows, files = human_table(proc.stdout)
        self.assertEqual(no_blanks(rows["db"][0]), db)
        self.assertEqual(no_blanks(rows["db"][1]), f"{config}:1")
        self.assertEqual((no_blanks(rows["url"][0]), rows["url"][1]), (url, "command line"))
        self.assertEqual(rows["jobsets"][0], " ".join(f"project{i}:jobset{i}" for i in range(9)))
        self.assertEqual({no_blanks(f): k for f, k in files.items()},
                         {no_blanks(f"{self.system} (not present)"): "system", config: "user"})

    def test_missing_system_file_is_fine_and_shown(self) -> None:
        proc = self.hs(["config", "show"], db=None,
                       env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 0)
        self.assertEqual(human_table(proc.stdout)[1][f"{self.system} (not present)"], "system")

    def test_dev_null_reads_no_system_file(self) -> None:
        rows = self.show(env={"HYDRA_STATUS_SYSTEM_CONFIG": "/dev/null"})
        self.assertTrue(all(r["origin"] == "default" for r in rows.values()))

    def test_broken_system_file_is_an_error(self) -> None:
        self.write_system("max-evals = 2\nfrobnicate = 1\n")
        proc = self.hs(["config", "show"], db=None, env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 2)
        self.assertIn(f"{self.system}:2: unknown key 'frobnicate'", proc.stderr)
        os.remove(self.system)
        os.mkdir(self.system)  # exists but cannot be read as a file
        proc = self.hs(["config", "show"], db=None, env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 2)
        self.assertIn(self.system, proc.stderr)

    def test_named_user_file_does_not_replace_the_system_file(self) -> None:
        self.write_system("max-tries = 3\n")
        other = os.path.join(self.tmp, "other.conf")
        with open(other, "w", encoding="utf-8") as f:
            f.write("max-evals = 9\n")
        for args, env in ((["--config", other], {}), ([], {"HYDRA_STATUS_CONFIG": other})):
            with self.subTest(args=args, env=env):
                rows = self.show(*args, env=env)
                self.assertEqual((rows["max-evals"]["value"], rows["max-evals"]["file"]), ("9", other))
                self.assertEqual((rows["max-tries"]["value"], rows["max-tries"]["file"]),
                                 ("3", self.system))


class GetTest(ConfigShowCase):

    def test_get_prints_the_value_in_use(self) -> None:
        self.write_system("stale-after = 5h\n")
        proc = self.hs(["config", "get", "stale-after"], db=None,
                       env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 0)
        self.assertEqual(proc.stdout, "5h\n")
        proc = self.hs(["config", "get", "db"])
        self.assertEqual(proc.stdout, self.db + "\n")

    def test_usage_errors(self) -> None:
        for args in (["config", "get"], ["config", "get", "nope"], ["config", "frob"],
                     ["config", "show", "x"], ["config", "get", "db", "url"]):
            with self.subTest(args=args):
                proc = self.hs(args, db=None)
                self.assertExit(proc, 2)
                self.assertEqual(proc.stdout, "")


class SystemIndexTest(ConfigShowCase):
    """The administrator's set-up: the system file names the shared index."""

    def test_lookups_read_the_index_the_system_file_names(self) -> None:
        with FakeHydra(DEMO_DATASET) as hydra:
            proc = self.hs(["--url", hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                            "--min-interval", "0", "-q"])
            self.assertExit(proc, 0)
            failed = hydra.expect["failed"]["key"]
        self.write_system(f"db = {self.db}\n")
        env = {"HYDRA_STATUS_SYSTEM_CONFIG": self.system}
        proc = self.hs(["--json", failed], db=None, env=env)
        self.assertExit(proc, 1)
        self.assertEqual(json_lines(proc.stdout)[0]["status"], "failed")
        # A user's own file still wins over the system one.
        self.write_config(f"db = {os.path.join(self.tmp, 'mine.sqlite')}\n")
        proc = self.hs([failed], db=None, env=env)
        self.assertExit(proc, 5)
        self.assertIn("mine.sqlite", proc.stderr)



class CommentsAndByteOrderMarkTest(ConfigShowCase):
    """issue 13, points 5 and 11: trailing comments, a BOM."""

    def test_trailing_comments_are_not_part_of_values(self) -> None:
        user = self.write_config("min-interval = 1s   # between request starts\n"
                                 "local-ttl = 7d\t# tab, then a comment\n"
                                 "url = https://h.example/#frag   # '#' inside a value stays\n"
                                 "jobsets = a:b c:d # two\n")
        rows = self.show(code=2)  # the url: no fragment (below)
        self.assertEqual((rows["min-interval"]["value"], rows["min-interval"]["line"]), ("1s", 1))
        self.assertEqual(rows["local-ttl"]["value"], "7d")
        self.assertEqual(rows["url"]["value"], "https://h.example/#frag")
        self.assertEqual(rows["jobsets"]["value"], "a:b c:d")
        self.assertEqual(rows["min-interval"]["file"], user)

    def test_byte_order_mark_is_skipped(self) -> None:
        path = hs_testlib.config_path(self.home)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write("\ufeffmax-evals = 4\r\nmax-tries = 3\r\n".encode("utf-8"))
        rows = self.show()
        self.assertEqual((rows["max-evals"]["value"], rows["max-evals"]["line"]), ("4", 1))
        self.assertEqual((rows["max-tries"]["value"], rows["max-tries"]["line"]), ("3", 2))


class InvalidValueTest(ConfigShowCase):
    """issue 13, point 5: `config show` flags a value it cannot use."""

    # Values each command that reads the key rejects (exit 2): (key, value).
    BAD = [
        ("max-evals", "abc"), ("max-evals", "0"), ("max-evals", "1001"), ("max-evals", "3.5"),
        ("max-requests", "0"), ("max-in-flight", "3"), ("max-in-flight", "0"),
        ("max-tries", "101"), ("by-id-max", "-1"), ("min-interval", "soon"),
        ("timeout", "1y"), ("recheck-interval", "-1h"), ("backoff-ceiling", "5 m"),
        ("connect-timeout", ""), ("local-ttl", "7days"), ("stale-after", "never"),
        ("insecure", "maybe"), ("max-body", "0"), ("max-body", "12parsecs"),
        ("url", "ftp://example.invalid"), ("url", "hydra.nixos.org"),
        ("url", "https://h.example/?x=1"), ("jobsets", "nixpkgs"), ("jobsets", "a:b c:d/e"),
        ("policy", "strict"),
    ]
    # Values at the edges of what is accepted.
    GOOD = [
        ("max-evals", "1000"), ("max-requests", "100000000"), ("max-in-flight", "2"),
        ("max-tries", "1"), ("by-id-max", "0"), ("min-interval", "0"), ("timeout", "1.5h"),
        ("stale-after", "0"), ("insecure", "yes"), ("insecure", "0"), ("max-body", "64kB"),
        ("max-body", "1"), ("url", "http://127.0.0.1:8080/prefix/"), ("jobsets", ""),
        ("jobsets", "a-b.c:d_e x:y"), ("policy", "warn"),
    ]

    def test_invalid_value_is_shown_marked_and_named_exit_2(self) -> None:
        user = self.write_config("# settings\nmax-evals = lots   # a typo\nmax-tries = 4\n")
        proc = self.hs(["config", "show"], db=None, env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 2)
        rows, _ = human_table(proc.stdout)
        self.assertEqual(no_blanks(rows["max-evals"][1]), f"{user}:2")
        self.assertEqual((rows["max-evals"][0], rows["max-evals"][2]),
                         ("lots", "not valid: expected a number from 1 to 1000, got 'lots'"))
        self.assertEqual([k for k, row in rows.items() if row[2]], ["max-evals"])
        self.assertEqual([line for line in proc.stdout.splitlines() if "!" in line],
                         ["                   ! not valid: expected a number from 1 to 1000, "
                          "got 'lots'"])
        self.assertEqual(proc.stderr.strip().splitlines(),
                         [f"hydra-status: error: {user}:2: max-evals: expected a number from 1 "
                          "to 1000, got 'lots'"])
        rows = self.show(code=2)
        self.assertEqual(rows["max-evals"]["value"], "lots")
        self.assertEqual(rows["max-evals"]["problem"],
                         "expected a number from 1 to 1000, got 'lots'")
        self.assertIsNone(rows["max-tries"]["problem"])
        proc = self.hs(["config", "get", "max-evals"], db=None)
        self.assertExit(proc, 2)
        self.assertEqual(proc.stdout, "lots\n")
        self.assertIn("max-evals", proc.stderr)

    def test_flags_what_the_commands_reject_and_only_that(self) -> None:
        # sync (and gate for policy) reject each BAD value before any request:
        # `config show` must agree with them.
        for key, value in self.BAD:
            with self.subTest(key=key, value=value):
                path = self.write_config(f"{key} = {value}\n")
                proc = self.hs(["config", "show"], db=None)
                self.assertExit(proc, 2)
                self.assertIn(f"{path}:1: {key}: ", proc.stderr)
                if key == "policy":
                    command = ["gate", "/nix/store/" + "a" * 32 + "-x.drv"]
                elif key in ("local-ttl", "stale-after"):
                    command = ["lookup", "a" * 32]
                else:
                    command = ["--url", "http://127.0.0.1:9", "sync", "--jobset", "a:b"]
                    if key in ("url", "jobsets"):
                        command = ["sync"] + (["--jobset", "a:b"] if key == "url" else [])
                used = self.hs(command, db=None)
                self.assertExit(used, 2)
                self.assertIn(key if key != "jobsets" else "invalid jobset", used.stderr)
        for key, value in self.GOOD:
            with self.subTest(key=key, value=value):
                self.write_config(f"{key} = {value}\n")
                proc = self.hs(["config", "show"], db=None)
                self.assertExit(proc, 0)
                self.assertEqual(proc.stderr, "")


if __name__ == "__main__":
    unittest.main()
