"""What the command line says when it is used wrongly (issue 13, point 6):
each option error names what is wrong, a mistyped command gets the nearest
one, an option of another command names that command, `--` and lookup's
options without the word `lookup` make a lookup, and every usage error exits
2 and points to the --help that explains it.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_cli_errors
"""

from __future__ import annotations

import subprocess
import unittest

import hs_testlib
from hs_testlib import HsTestCase, json_lines

HS_BIN = hs_testlib.skip_unless_binary()

KEY = "/nix/store/rfqjn5h7sp7bfdgb1ymq2qdnafx9j921-curl-8.7.1.drv"
ERROR = "hydra-status: error: "


class CliErrorCase(HsTestCase):

    def usage_error(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        """Runs args, expects exit 2, nothing on stdout; returns the process."""
        proc = self.hs(args, env={"HYDRA_STATUS_SYSTEM_CONFIG": "/dev/null"}, **kw)
        self.assertExit(proc, 2)
        self.assertEqual(proc.stdout, "")
        return proc

    def first_line(self, proc: subprocess.CompletedProcess) -> str:
        line = proc.stderr.splitlines()[0]
        self.assertTrue(line.startswith(ERROR), proc.stderr)
        return line[len(ERROR):]


class OptionErrorTest(CliErrorCase):

    def test_option_without_its_value(self) -> None:
        for args, option, command in ((["--db"], "--db", None),
                                      (["--url"], "--url", None),
                                      (["--config"], "--config", None),
                                      (["gate", "--policy"], "--policy", "gate"),
                                      (["lookup", KEY, "--job"], "--job", "lookup"),
                                      ([KEY, "--db"], "--db", "lookup"),
                                      (["config", "show", "--config"], "--config", "config")):
            with self.subTest(args=args):
                proc = self.usage_error(args, db=None)
                self.assertEqual(self.first_line(proc), f"{option} requires a value")
                help_of = f"hydra-status {command} --help" if command else "hydra-status --help"
                self.assertIn(f"Try '{help_of}'", proc.stderr)

    def test_unrecognised_option(self) -> None:
        for args, message in (
                (["--bogus"], "unrecognised option '--bogus'"),
                (["-V"], "unrecognised option '-V'"),
                (["--jsno", "info"], "unrecognised option '--jsno' (did you mean '--json'?)"),
                (["lookup", "--stdn"], "unrecognised option '--stdn' (did you mean '--stdin'?)"),
                (["gate", "--bogus", KEY], "unrecognised option '--bogus'"),
                (["gate", "--polcy", "warn", KEY],
                 "unrecognised option '--polcy' (did you mean '--policy'?)")):
            with self.subTest(args=args):
                proc = self.usage_error(args)
                self.assertEqual(self.first_line(proc), message)
                self.assertNotIn("no command or key given", proc.stderr)

    def test_option_of_another_command_names_it(self) -> None:
        proc = self.usage_error(["-q"])
        self.assertEqual(self.first_line(proc),
                         "option '-q' goes after its command: hydra-status sync -q")
        proc = self.usage_error(["--policy", "warn"])
        self.assertIn("hydra-status gate --policy", self.first_line(proc))
        proc = self.usage_error(["lookup", "-q", KEY])
        self.assertEqual(self.first_line(proc), "unrecognised option '-q' (an option of 'sync')")
        self.assertIn("Try 'hydra-status lookup --help'", proc.stderr)
        proc = self.usage_error(["info", "--local-ttl", "1d"])
        self.assertEqual(self.first_line(proc),
                         "unrecognised option '--local-ttl' (an option of 'lookup', 'gate')")
        self.assertIn("Try 'hydra-status info --help'", proc.stderr)

    def test_errors_inside_a_command_point_to_its_help(self) -> None:
        for args, command in ((["lookup"], "lookup"),
                              (["lookup", "--job", "x", KEY], "lookup"),
                              (["config", "get"], "config"),
                              (["config", "frob"], "config"),
                              (["gate"], "gate"),
                              (["record"], "record"),
                              (["info", "extra"], "info")):
            with self.subTest(args=args):
                proc = self.usage_error(args)
                self.assertIn(f"Try 'hydra-status {command} --help' for more information.",
                              proc.stderr)

    def test_no_command(self) -> None:
        proc = self.usage_error([], db=None)
        self.assertEqual(self.first_line(proc), "no command given")
        self.assertIn("usage: hydra-status", proc.stderr)
        proc = self.usage_error(["--json"])
        self.assertEqual(self.first_line(proc), "no command or key given")


class CommandTypoTest(CliErrorCase):

    def test_nearest_command_is_suggested(self) -> None:
        for typo, meant in (("synk", "sync"), ("lokup", "lookup"), ("gaet", "gate"),
                            ("conifg", "config"), ("froget", "forget"), ("inof", "info")):
            with self.subTest(typo=typo):
                proc = self.usage_error([typo])
                self.assertEqual(self.first_line(proc),
                                 f"unknown command '{typo}' (did you mean '{meant}'?)")
                self.assertIn("usage: hydra-status", proc.stderr)

    def test_far_word_gets_no_suggestion(self) -> None:
        proc = self.usage_error(["xyzzy"])
        self.assertEqual(self.first_line(proc), "unknown command 'xyzzy'")
        # The hidden command for completions is no suggestion either.
        proc = self.usage_error(["jobset"])
        self.assertNotIn("did you mean", proc.stderr)


class ImplicitLookupTest(CliErrorCase):
    """Without an index every valid key is answered unknown, exit 5: enough
    to see that the arguments were taken as keys."""

    def test_keys_after_double_dash(self) -> None:
        for args in (["--json", "--", KEY], ["--json", "lookup", "--", KEY],
                     ["--", KEY, "--json"]):
            with self.subTest(args=args):
                proc = self.hs(args)
                if args[-1] == "--json":
                    # After "--" even "--json" is a key: a malformed one.
                    self.assertExit(proc, 2)
                    self.assertIn("malformed key '--json'", proc.stderr)
                    self.assertIn("unknown", proc.stdout)
                    continue
                self.assertExit(proc, 5)
                self.assertEqual([a["query"] for a in json_lines(proc.stdout)], [KEY])
        proc = self.hs(["--", "-x"])
        self.assertExit(proc, 2)
        self.assertIn("malformed key '-x'", proc.stderr)

    def test_lookup_options_without_the_word_lookup(self) -> None:
        proc = self.hs(["--json", "--stdin"], input=KEY + "\n")
        self.assertExit(proc, 5)
        self.assertEqual([a["query"] for a in json_lines(proc.stdout)], [KEY])
        proc = self.hs(["--all", "--json", KEY])
        self.assertExit(proc, 5)
        self.assertEqual(len(json_lines(proc.stdout)), 1)

    def test_value_of_an_option_before_the_command_is_skipped(self) -> None:
        # --jobset's value is not taken for the command word.
        proc = self.usage_error(["--jobset", "nixpkgs:trunk", "--job"])
        self.assertEqual(self.first_line(proc), "--job requires a value")


if __name__ == "__main__":
    unittest.main()
