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
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, HsTestCase, json_lines

HS_BIN = hs_testlib.skip_unless_binary()


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
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["KEY", "VALUE", "ORIGIN"])
        rows = {l.split()[0]: l for l in lines[1:] if l and not l.startswith(" ")}
        self.assertTrue(rows["jobsets"].endswith(f"{self.system}:1"), rows["jobsets"])
        self.assertTrue(rows["max-evals"].endswith(f"{user}:2"))
        self.assertTrue(rows["url"].endswith("command line"))
        self.assertTrue(rows["db"].endswith("environment HYDRA_STATUS_DB"))
        self.assertTrue(rows["timeout"].endswith("default"))
        # Aligned: every origin starts in the same column.
        starts = {l.index(o) for l, o in ((rows["url"], "command line"),
                                          (rows["timeout"], "default"),
                                          (rows["max-evals"], user))}
        self.assertEqual(len(starts), 1, proc.stdout)
        self.assertRegex(proc.stdout, rf"{self.system}\s+system\n")
        self.assertRegex(proc.stdout, rf"{user}\s+user\n")

    def test_missing_system_file_is_fine_and_shown(self) -> None:
        proc = self.hs(["config", "show"], db=None,
                       env={"HYDRA_STATUS_SYSTEM_CONFIG": self.system})
        self.assertExit(proc, 0)
        self.assertRegex(proc.stdout, rf"{self.system}\s+system, not present")

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


if __name__ == "__main__":
    unittest.main()
