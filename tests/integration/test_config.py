"""Integration tests of settings (spec/cli.md: Global options, sync's config key
`jobsets`): precedence command line > environment > config file > default,
config file errors, bad values. The real binary against the fake Hydra.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_config
"""

from __future__ import annotations

import os
import subprocess
import unittest

import hs_testlib
from hs_testlib import TemplateIndexCase, closed_port_url, copy_index, json_lines

HS_BIN = hs_testlib.skip_unless_binary()


class ConfigCase(TemplateIndexCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.failed_key = cls.hydra.expect["failed"]["key"]

    def setUp(self) -> None:
        super().setUp()
        self.hydra.clear_log()
        self.dead = closed_port_url()

    def index_in_use(self, **kw) -> str:
        """The index path `info --json` reports (db=None unless given)."""
        kw.setdefault("db", None)
        proc = self.hs(["info", "--json"], **kw)
        self.assertExit(proc, 0)
        [index] = [o for o in json_lines(proc.stdout) if "index" in o]
        return index["index"]

    def path(self, *parts: str) -> str:
        return os.path.join(self.tmp, *parts)


class DbPrecedenceTest(ConfigCase):

    def test_command_line_env_config_default(self) -> None:
        state = self.path("xdg-state")
        paths = {
            "cli": copy_index(self.template, self.path("cli", "index.sqlite")),
            "env": copy_index(self.template, self.path("env", "index.sqlite")),
            "cfg": copy_index(self.template, self.path("cfg", "index.sqlite")),
            "default": copy_index(self.template, os.path.join(state, "hydra-status", "index.sqlite")),
        }
        self.write_config(f"db = {paths['cfg']}\n")
        env = {"XDG_STATE_HOME": state, "HYDRA_STATUS_DB": paths["env"]}
        self.assertEqual(self.index_in_use(db=paths["cli"], env=env), paths["cli"])
        self.assertEqual(self.index_in_use(env=env), paths["env"])
        self.assertEqual(self.index_in_use(env={"XDG_STATE_HOME": state}), paths["cfg"])
        os.remove(hs_testlib.config_path(self.home))
        self.assertEqual(self.index_in_use(env={"XDG_STATE_HOME": state}), paths["default"])
        # Without XDG_STATE_HOME: ~/.local/state.
        home_default = copy_index(self.template, os.path.join(
            self.home, ".local", "state", "hydra-status", "index.sqlite"))
        self.assertEqual(self.index_in_use(env={"XDG_STATE_HOME": None}), home_default)

    def test_lookup_uses_the_winner_without_fallback(self) -> None:
        real = copy_index(self.template, self.path("real.sqlite"))
        missing = self.path("missing.sqlite")
        cases = [
            # (db option, env, config db, exit code)
            (real, missing, missing, 1),
            (missing, real, real, 5),
            (None, real, missing, 1),
            (None, missing, real, 5),
            (None, None, real, 1),
            (None, None, missing, 5),
        ]
        for db, env_db, cfg_db, code in cases:
            with self.subTest(db=db, env=env_db, cfg=cfg_db):
                self.write_config(f"db = {cfg_db}\n")
                proc = self.hs(["lookup", self.failed_key], db=db,
                               env={"HYDRA_STATUS_DB": env_db})
                self.assertExit(proc, code)
        self.assertFalse(os.path.exists(missing))

    def test_sync_creates_the_default_index(self) -> None:
        state = self.path("state")
        env = {"XDG_STATE_HOME": state}
        proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                        "--min-interval", "0"], db=None, env=env)
        self.assertExit(proc, 0)
        default = os.path.join(state, "hydra-status", "index.sqlite")
        self.assertTrue(os.path.isfile(default))
        self.assertExit(self.hs(["lookup", self.failed_key], db=None, env=env), 1)


class UrlPrecedenceTest(ConfigCase):

    def sync(self, cli: str | None, env: str | None, cfg: str | None) -> subprocess.CompletedProcess:
        lines = ["min-interval = 0", "max-tries = 1", "connect-timeout = 2"]
        if cfg:
            lines.append(f"url = {cfg}")
        self.write_config("\n".join(lines) + "\n")
        args = (["--url", cli] if cli else []) + ["sync", "--jobset", "nixpkgs:trunk"]
        return self.hs(args, env={"HYDRA_STATUS_URL": env})

    def test_precedence(self) -> None:
        fake, dead = self.hydra.url, self.dead
        cases = [
            (fake, dead, dead, 0),
            (dead, fake, fake, 1),
            (None, fake, dead, 0),
            (None, dead, fake, 1),
            (None, None, fake, 0),
        ]
        for cli, env, cfg, code in cases:
            with self.subTest(cli=cli, env=env, cfg=cfg):
                self.hydra.clear_log()
                if os.path.exists(self.db):
                    os.remove(self.db)
                proc = self.sync(cli, env, cfg)
                self.assertExit(proc, code)
                requests = self.hydra.log()
                if code == 0:
                    self.assertTrue(requests)
                    [trunk] = [o for o in json_lines(self.hs(["info", "--json"]).stdout)
                               if o.get("jobset") == "nixpkgs:trunk"]
                    self.assertEqual(trunk["url"], fake)
                else:
                    self.assertEqual(requests, [], "the losing URL was used")

    def test_url_with_trailing_slash(self) -> None:
        proc = self.sync(self.hydra.url + "/", None, None)
        self.assertExit(proc, 0)
        [got] = json_lines(self.hs(["--json", "lookup", self.failed_key]).stdout)
        self.assertTrue(got["build_url"].startswith(self.hydra.url + "/build/"))
        self.assertNotIn("//build", got["build_url"])


class ConfigFilePrecedenceTest(ConfigCase):

    def config_with_db(self, path: str, db: str) -> str:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"# which config\ndb = {db}\n")
        return path

    def test_option_env_default(self) -> None:
        dbs = {n: copy_index(self.template, self.path(n, "index.sqlite"))
               for n in ("opt", "env", "default")}
        opt_cfg = self.config_with_db(self.path("opt.conf"), dbs["opt"])
        env_cfg = self.config_with_db(self.path("env.conf"), dbs["env"])
        self.config_with_db(hs_testlib.config_path(self.home), dbs["default"])
        env = {"HYDRA_STATUS_CONFIG": env_cfg}
        self.assertEqual(self.index_from(["--config", opt_cfg], env), dbs["opt"])
        self.assertEqual(self.index_from([], env), dbs["env"])
        self.assertEqual(self.index_from([], {}), dbs["default"])
        # XDG_CONFIG_HOME moves the default file.
        other = self.path("xdg-config")
        moved = copy_index(self.template, self.path("moved", "index.sqlite"))
        self.config_with_db(os.path.join(other, "hydra-status", "config"), moved)
        self.assertEqual(self.index_from([], {"XDG_CONFIG_HOME": other}), moved)

    def index_from(self, args: list[str], env: dict) -> str:
        proc = self.hs(args + ["info", "--json"], db=None, env=env)
        self.assertExit(proc, 0)
        [index] = [o for o in json_lines(proc.stdout) if "index" in o]
        return index["index"]

    def test_named_config_that_is_missing(self) -> None:
        missing = self.path("nope.conf")
        proc = self.hs(["--config", missing, "info"])
        self.assertExit(proc, 2)
        self.assertIn(missing, proc.stderr)
        proc = self.hs(["info"], env={"HYDRA_STATUS_CONFIG": missing})
        self.assertExit(proc, 2)
        self.assertIn(missing, proc.stderr)

    def test_missing_default_config_is_fine(self) -> None:
        self.assertFalse(os.path.exists(hs_testlib.config_path(self.home)))
        copy_index(self.template, self.db)
        self.assertExit(self.hs(["info"]), 0)
        self.assertExit(self.hs(["lookup", self.failed_key]), 1)


class JobsetsKeyTest(ConfigCase):

    def test_jobsets_from_config_and_command_line_wins(self) -> None:
        self.write_config(f"url = {self.hydra.url}\nmin-interval = 0\n"
                          "jobsets =   nixpkgs:trunk \t nixpkgs:empty  \n")
        self.assertExit(self.hs(["sync"]), 0)
        paths = {r["path"] for r in self.hydra.log()}
        self.assertIn("/jobset/nixpkgs/trunk/evals", paths)
        self.assertIn("/jobset/nixpkgs/empty/evals", paths)
        self.assertNotIn("/jobset/nixpkgs/staging/evals", paths)
        info = {o["jobset"] for o in json_lines(self.hs(["info", "--json"]).stdout) if "jobset" in o}
        self.assertEqual(info, {"nixpkgs:trunk", "nixpkgs:empty"})

        self.hydra.clear_log()
        self.assertExit(self.hs(["sync", "--jobset", "nixpkgs:staging"]), 0)
        listing = {r["path"] for r in self.hydra.log() if r["path"].endswith("/evals")}
        self.assertEqual(listing, {"/jobset/nixpkgs/staging/evals"})

    def test_bad_jobset_in_config(self) -> None:
        self.write_config(f"url = {self.hydra.url}\njobsets = nixpkgs:trunk trunk\n")
        proc = self.hs(["sync"])
        self.assertExit(proc, 2)
        self.assertIn("trunk", proc.stderr)
        self.assertEqual(self.hydra.log(), [])

    def test_empty_jobsets(self) -> None:
        self.write_config(f"url = {self.hydra.url}\njobsets =\n")
        self.assertExit(self.hs(["sync"]), 2)


class LongOptionsInConfigTest(ConfigCase):

    def evals_of_staging(self) -> int:
        for o in json_lines(self.hs(["info", "--json"]).stdout):
            if o.get("jobset") == "nixpkgs:staging":
                return o["evals"]
        self.fail("staging not synced")

    def test_max_evals_from_config_and_option_wins(self) -> None:
        self.write_config(f"url = {self.hydra.url}\nmin-interval = 0\nmax-evals = 3\n")
        self.assertExit(self.hs(["sync", "--jobset", "nixpkgs:staging"]), 0)
        self.assertEqual(self.evals_of_staging(), 3)
        os.remove(self.db)
        self.assertExit(self.hs(["sync", "--jobset", "nixpkgs:staging", "--max-evals", "2"]), 0)
        self.assertEqual(self.evals_of_staging(), 2)


class ConfigErrorsTest(ConfigCase):

    def test_unknown_key_names_file_and_line(self) -> None:
        path = self.write_config("# hydra-status settings\n\nmin-interval = 0\nfrobnicate = 1\n")
        for args in (["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk"],
                     ["lookup", self.failed_key],
                     [self.failed_key],
                     ["info"]):
            with self.subTest(args=args):
                copy_index(self.template, self.db)
                proc = self.hs(args)
                self.assertExit(proc, 2)
                self.assertIn(f"{path}:4", proc.stderr)
                self.assertIn("frobnicate", proc.stderr)
                self.assertEqual(proc.stdout, "")
        self.assertEqual(self.hydra.log(), [])

    def test_line_without_equals(self) -> None:
        path = self.write_config("min-interval = 0\njust some words\n")
        proc = self.hs(["info"])
        self.assertExit(proc, 2)
        self.assertIn(f"{path}:2", proc.stderr)

    def test_bad_values_in_config(self) -> None:
        cases = [
            ("max-evals", "abc"),
            ("max-evals", "0"),
            ("max-evals", "3.5"),
            ("max-requests", "-5"),
            ("min-interval", "soon"),
            ("recheck-interval", "forever"),
            ("url", "ftp://example.invalid"),
            ("url", "hydra.nixos.org"),
            ("insecure", "maybe"),
        ]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                path = self.write_config(f"# line 1\nmin-interval = 0\n{key} = {value}\n")
                proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk"]
                               if key != "url" else ["sync", "--jobset", "nixpkgs:trunk"])
                self.assertExit(proc, 2)
                self.assertIn(f"{path}:3", proc.stderr)
                self.assertIn(key, proc.stderr)
        self.assertEqual(self.hydra.log(), [])

    def test_bad_values_on_command_line(self) -> None:
        for args in (["--max-evals", "abc"], ["--max-evals", "0"], ["--min-interval", "x"],
                     ["--max-requests", "lots"], ["--recheck-interval", "1y"]):
            with self.subTest(args=args):
                proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", "nixpkgs:trunk",
                                *args])
                self.assertExit(proc, 2)
                self.assertIn(args[0].lstrip("-"), proc.stderr)
        self.assertEqual(self.hydra.log(), [])

    def test_bad_url_in_environment(self) -> None:
        proc = self.hs(["sync", "--jobset", "nixpkgs:trunk"],
                       env={"HYDRA_STATUS_URL": "not a url"})
        self.assertExit(proc, 2)
        self.assertIn("HYDRA_STATUS_URL", proc.stderr)

    def test_comments_blank_lines_and_spaces(self) -> None:
        self.write_config(f"\n# comment\n   \n  url   =   {self.hydra.url}  \n"
                          "min-interval=0\n\t# indented comment\njobsets = nixpkgs:trunk\n")
        self.assertExit(self.hs(["sync"]), 0)
        self.assertTrue(self.hydra.log())


if __name__ == "__main__":
    unittest.main()
