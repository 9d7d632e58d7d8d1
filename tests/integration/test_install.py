"""Installation: `cmake --install` puts every file in its FHS place, cpack
builds a .deb whose Depends: come from dpkg-shlibdeps, and the installed
binary works, its `sync` through the helper in libexec/hydra-status/. The
systemd units pass `systemd-analyze verify` and keep their sandbox; the
crontab example syncs once and skips a run while one is going.

As root with dpkg (and no hydra-status installed already), the .deb is
installed into this machine with `dpkg -i`, used, and purged again (with the
system user its postinst created), so the machine is left as it was;
otherwise it is installed into a DESTDIR.

Needs the build tree of $HS_BIN (CPackConfig.cmake and hydra-status-sync
beside it); builds nothing.

Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_install
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import DEMO_DATASET, FakeHydra, hs_env

HS_BIN = hs_testlib.skip_unless_binary()
BUILD_DIR = os.path.dirname(os.path.abspath(HS_BIN))
SOURCE = hs_testlib.SOURCE_DIR
hs_testlib.skip_unless(os.path.exists(os.path.join(BUILD_DIR, "CPackConfig.cmake")),
                       f"no CPackConfig.cmake in {BUILD_DIR}")
CMAKE = hs_testlib.skip_unless_executable("cmake")
CPACK = hs_testlib.skip_unless_executable("cpack")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

UNITS = ("hydra-status-sync.service", "hydra-status-sync.timer")
# Where `hydra-status sync` finds the executable that holds sync (and libcurl).
HELPER = "libexec/hydra-status/hydra-status-sync"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


def version() -> str:
    return run([HS_BIN, "--version"]).stdout.strip()


def cmake_install(prefix: str, destdir: str | None = None) -> str:
    """Installs the build tree; returns the root the files went to."""
    env = dict(os.environ)
    if destdir:
        env["DESTDIR"] = destdir
    proc = run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix], env=env)
    if proc.returncode != 0:
        raise AssertionError(f"cmake --install failed:\n{proc.stdout}\n{proc.stderr}")
    return (destdir or "") + prefix


class DemoMixin:
    """A sync from the demo Hydra and lookups with a given (installed) binary."""

    def check_sync_helper(self, binary: str) -> None:
        """`sync` runs the installed libexec helper; the lookup binary has no libcurl."""
        proc = run([binary, "sync", "--help"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("--max-evals", proc.stdout)
        if shutil.which("ldd"):
            libs = run(["ldd", binary]).stdout
            self.assertNotIn("libcurl", libs)

    def demo_lookup(self, binary: str, tmp: str) -> None:
        self.check_sync_helper(binary)
        home = os.path.join(tmp, "demo-home")
        os.makedirs(home, exist_ok=True)
        env = hs_env(home, {"HYDRA_STATUS_SYSTEM_CONFIG": "/dev/null"})
        db = os.path.join(tmp, "demo.sqlite")
        with FakeHydra(DEMO_DATASET) as hydra:
            proc = run([binary, "--db", db, "--url", hydra.url, "sync", "--jobset",
                        "nixpkgs:trunk", "--min-interval", "0", "-q"], env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            failed = hydra.expect["failed"]["key"]
            succeeded = hydra.expect["succeeded"]["key"]
        proc = run([binary, "--db", db, "--json", failed], env=env)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        [answer] = hs_testlib.json_lines(proc.stdout)
        self.assertEqual((answer["status"], answer["class"]), ("failed", "permanent"))
        proc = run([binary, "--db", db, succeeded], env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("succeeded", proc.stdout)


def verify_units(test: unittest.TestCase, unit_dir: str, user: bool, man_dir: str | None) -> None:
    """systemd-analyze verify; with man_dir, the man: links are checked there."""
    env = dict(os.environ)
    cmd = [SYSTEMD_ANALYZE]
    if user:
        runtime = tempfile.mkdtemp(prefix="hs-runtime-")
        test.addCleanup(shutil.rmtree, runtime, True)
        env["XDG_RUNTIME_DIR"] = runtime
        cmd.append("--user")
    if man_dir:
        env["MANPATH"] = man_dir
    cmd += ["verify"] + [os.path.join(unit_dir, u) for u in UNITS]
    proc = run(cmd, env=env)
    test.assertEqual((proc.returncode, proc.stdout + proc.stderr), (0, ""),
                     f"systemd-analyze verify {unit_dir}")


def exposure(unit_path: str, user: bool) -> float | None:
    """The overall exposure of `systemd-analyze security --offline` (None if
    this systemd-analyze cannot assess a unit file offline)."""
    env = dict(os.environ)
    cmd = [SYSTEMD_ANALYZE]
    if user:
        runtime = tempfile.mkdtemp(prefix="hs-runtime-")
        env["XDG_RUNTIME_DIR"] = runtime
        cmd.append("--user")
    proc = run(cmd + ["security", "--offline=true", "--no-pager", unit_path], env=env)
    if user:
        shutil.rmtree(runtime, ignore_errors=True)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    return float(m.group(1)) if m else None


def unit_settings(path: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                key, value = line.split("=", 1)
                out.setdefault(key, []).append(value)
    return out


class CmakeInstallTest(DemoMixin, unittest.TestCase):
    """`cmake --install` into a prefix (real paths: the units name the
    binary that is really there) and into a DESTDIR with prefix /usr."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="hs-test-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        cmake_install(cls.prefix)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_fhs_layout(self) -> None:
        p = self.prefix
        for path in ("bin/hydra-status", "bin/nix-build-gated", HELPER):
            self.assertTrue(os.access(os.path.join(p, path), os.X_OK), path)
        for path in ("share/man/man1/hydra-status.1",
                     "share/bash-completion/completions/hydra-status",
                     "share/zsh/site-functions/_hydra-status",
                     "share/fish/vendor_completions.d/hydra-status.fish",
                     "lib/systemd/system/hydra-status-sync.service",
                     "lib/systemd/system/hydra-status-sync.timer",
                     "lib/systemd/user/hydra-status-sync.service",
                     "lib/systemd/user/hydra-status-sync.timer",
                     "lib/sysusers.d/hydra-status.conf",
                     "share/doc/hydra-status/config.example",
                     "share/doc/hydra-status/crontab.example"):
            self.assertTrue(os.path.isfile(os.path.join(p, path)), path)
        for kind in ("system", "user"):
            unit = unit_settings(os.path.join(p, "lib/systemd", kind, "hydra-status-sync.service"))
            self.assertEqual(unit["ExecStart"], [os.path.join(p, "bin/hydra-status") + " sync"])

    def test_installed_binary_runs(self) -> None:
        binary = os.path.join(self.prefix, "bin", "hydra-status")
        self.assertEqual(run([binary, "--version"]).stdout.strip(), version())
        self.demo_lookup(binary, self.tmp)

    def test_debian_layout_under_usr(self) -> None:
        root = cmake_install("/usr", os.path.join(self.tmp, "destdir"))
        unit = unit_settings(os.path.join(root, "lib/systemd/system/hydra-status-sync.service"))
        self.assertEqual(unit["ExecStart"], ["/usr/bin/hydra-status sync"])
        # Debian's zsh searches vendor-completions, not site-functions.
        zsh_dir = "vendor-completions" if os.path.exists("/etc/debian_version") else "site-functions"
        self.assertTrue(os.path.isfile(os.path.join(root, "share/zsh", zsh_dir, "_hydra-status")))
        if shutil.which("zsh"):
            fpath = run(["zsh", "-fc", "print -l $fpath"]).stdout.split()
            self.assertIn(os.path.join("/usr/share/zsh", zsh_dir), fpath)

    @unittest.skipUnless(SYSTEMD_ANALYZE, "systemd-analyze is not installed (package systemd)")
    def test_units_verify(self) -> None:
        man = os.path.join(self.prefix, "share", "man")
        verify_units(self, os.path.join(self.prefix, "lib/systemd/system"), False, man)
        verify_units(self, os.path.join(self.prefix, "lib/systemd/user"), True, man)

    def test_units_settings(self) -> None:
        system = unit_settings(os.path.join(self.prefix, "lib/systemd/system", UNITS[0]))
        for key, value in {"Type": "oneshot", "StateDirectory": "hydra-status",
                           "ProtectSystem": "strict", "PrivateTmp": "yes",
                           "NoNewPrivileges": "yes", "ProtectHome": "yes",
                           "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
                           "User": "hydra-status", "CapabilityBoundingSet": "",
                           "Environment": "HYDRA_STATUS_DB=/var/lib/hydra-status/index.sqlite",
                           "SuccessExitStatus": "75"}.items():
            self.assertEqual(system.get(key), [value], key)
        user = unit_settings(os.path.join(self.prefix, "lib/systemd/user", UNITS[0]))
        self.assertEqual(user["Type"], ["oneshot"])
        self.assertNotIn("User", user)
        for kind in ("system", "user"):
            timer = unit_settings(os.path.join(self.prefix, "lib/systemd", kind, UNITS[1]))
            self.assertEqual(timer["OnCalendar"], ["hourly"])
            self.assertEqual(timer["Persistent"], ["true"])
            self.assertIn("RandomizedDelaySec", timer)
            self.assertEqual(timer["WantedBy"], ["timers.target"])

    @unittest.skipUnless(SYSTEMD_ANALYZE, "systemd-analyze is not installed (package systemd)")
    def test_system_unit_exposure_is_low(self) -> None:
        # README: "systemd-analyze security" scores (lower is safer).
        score = exposure(os.path.join(self.prefix, "lib/systemd/system", UNITS[0]), False)
        if score is None:
            self.skipTest("systemd-analyze security --offline is not supported here")
        self.assertLessEqual(score, 1.5)


class CrontabExampleTest(unittest.TestCase):
    """The line of contrib/crontab.example, run as cron would (/bin/sh)."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="hs-test-cron-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        with open(os.path.join(SOURCE, "contrib", "crontab.example"), encoding="utf-8") as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        [path_line] = [l for l in lines if l.startswith("PATH=")]
        [entry] = [l for l in lines if not l.startswith("PATH=")]
        fields = entry.split(None, 5)
        self.assertEqual(fields[:5], ["17", "*", "*", "*", "*"])
        self.assertNotIn("%", fields[5], "cron turns % into a newline")
        self.command = fields[5]
        # A stub sleep records its argument instead of sleeping up to 30 min.
        stubs = os.path.join(self.tmp, "stubs")
        os.makedirs(stubs)
        self.slept = os.path.join(self.tmp, "slept")
        with open(os.path.join(stubs, "sleep"), "w", encoding="utf-8") as f:
            f.write(f"#!/bin/sh\necho \"$@\" >> {shlex.quote(self.slept)}\n")
        os.chmod(os.path.join(stubs, "sleep"), 0o755)
        os.symlink(HS_BIN, os.path.join(stubs, "hydra-status"))
        self.env = hs_env(self.home, {"PATH": stubs + ":" + path_line.split("=", 1)[1],
                                      "HYDRA_STATUS_SYSTEM_CONFIG": "/dev/null"})
        self.state = os.path.join(self.home, ".local", "state", "hydra-status")

    def test_syncs_once_and_skips_while_a_run_holds_the_lock(self) -> None:
        with FakeHydra(DEMO_DATASET) as hydra:
            hs_testlib.write_config(self.home, f"jobsets = nixpkgs:trunk\nurl = {hydra.url}\n"
                                               "min-interval = 0\n")
            proc = run(["/bin/sh", "-c", self.command], env=self.env, cwd=self.home)
            self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, "", ""),
                             "--quiet: cron mails any output")
            with open(self.slept, encoding="utf-8") as f:
                delay = int(f.read().split()[0])
            self.assertTrue(0 <= delay <= 1800, delay)
            self.assertTrue(os.path.exists(os.path.join(self.state, "index.sqlite")))
            lookup = run([HS_BIN, "--json", hydra.expect["failed"]["key"]], env=self.env)
            self.assertEqual(lookup.returncode, 1, lookup.stderr)

            # The previous run still holds the flock: this one does nothing.
            hydra.clear_log()
            with open(os.path.join(self.state, "cron.lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                proc = run(["/bin/sh", "-c", self.command], env=self.env, cwd=self.home)
            self.assertNotEqual(proc.returncode, 0)
            self.assertEqual(hydra.log(), [])


def dpkg_install_possible() -> str | None:
    """Why the .deb cannot be installed into this machine, or None."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("dpkg"):
        return "no dpkg"
    status = run(["dpkg-query", "-W", "-f=${Status}", "hydra-status"]).stdout
    if "installed" in status and "not-installed" not in status:
        return "hydra-status is installed already; not touching it"
    for path in ("/usr/bin/hydra-status", "/usr/bin/nix-build-gated", "/usr/" + HELPER):
        if os.path.exists(path):
            return f"{path} exists; not overwriting it"
    return None


class DebPackageTest(DemoMixin, unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="hs-test-deb-")
        proc = run([CPACK, "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
                    "-G", "DEB", "-B", cls.tmp])
        if proc.returncode != 0:
            raise AssertionError(f"cpack failed:\n{proc.stdout}\n{proc.stderr}")
        [cls.deb] = [os.path.join(cls.tmp, f) for f in os.listdir(cls.tmp) if f.endswith(".deb")]

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name: str) -> str:
        proc = run(["dpkg-deb", "-f", self.deb, name])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout.strip()

    @unittest.skipUnless(shutil.which("dpkg-deb"), "dpkg-deb is not installed")
    def test_depends_from_shlibdeps(self) -> None:
        depends = [d.strip().split()[0] for d in self.field("Depends").split(",")]
        for prefix in ("libcurl", "libsqlite3", "libsimdjson", "libboost-program-options",
                       "libc6", "libstdc++"):
            self.assertTrue(any(d.startswith(prefix) for d in depends), (prefix, depends))
        self.assertEqual(self.field("Package"), "hydra-status")
        self.assertEqual(self.field("Version"), version().split()[-1])

    @unittest.skipUnless(shutil.which("dpkg-deb"), "dpkg-deb is not installed")
    def test_contents(self) -> None:
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        for path in ("./usr/bin/hydra-status", "./usr/bin/nix-build-gated", "./usr/" + HELPER,
                     "./usr/share/man/man1/hydra-status.1",
                     "./usr/share/bash-completion/completions/hydra-status",
                     "./usr/share/fish/vendor_completions.d/hydra-status.fish",
                     "./usr/lib/systemd/system/hydra-status-sync.service",
                     "./usr/lib/systemd/user/hydra-status-sync.timer",
                     "./usr/share/doc/hydra-status/config.example"):
            self.assertIn(path, listing)
        self.assertRegex(listing, r"\./usr/share/zsh/(vendor-completions|site-functions)/_hydra-status")
        self.assertNotIn("./etc/", listing, "the package ships no config file")

    def test_install_and_run(self) -> None:
        why_not = dpkg_install_possible()
        if why_not is None:
            self.install_with_dpkg()
        else:
            print(f"(installing into a DESTDIR: {why_not})")
            root = cmake_install("/usr", os.path.join(self.tmp, "destdir"))
            binary = os.path.join(root, "bin", "hydra-status")
            self.assertEqual(run([binary, "--version"]).stdout.strip(), version())
            self.demo_lookup(binary, self.tmp)

    def install_with_dpkg(self) -> None:
        user_existed = run(["getent", "passwd", "hydra-status"]).returncode == 0
        group_existed = run(["getent", "group", "hydra-status"]).returncode == 0
        self.addCleanup(self.purge, user_existed, group_existed)
        deadline = time.monotonic() + 30
        while True:
            proc = run(["dpkg", "-i", self.deb], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            if proc.returncode == 0 or "lock" not in proc.stderr or time.monotonic() > deadline:
                break
            time.sleep(1)  # another dpkg is running
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

        self.assertEqual(run(["/usr/bin/hydra-status", "--version"]).stdout.strip(), version())
        self.assertTrue(os.access("/usr/" + HELPER, os.X_OK))
        self.demo_lookup("/usr/bin/hydra-status", self.tmp)
        self.assertTrue(os.access("/usr/bin/nix-build-gated", os.X_OK))
        self.assertEqual(run(["getent", "passwd", "hydra-status"]).returncode, 0,
                         "postinst creates the user of hydra-status-sync.service")
        if shutil.which("man"):
            self.assertEqual(run(["man", "-w", "hydra-status"]).stdout.strip(),
                             "/usr/share/man/man1/hydra-status.1")
        if SYSTEMD_ANALYZE:
            verify_units(self, "/usr/lib/systemd/system", False, None)
        if os.path.exists("/usr/share/bash-completion/bash_completion"):
            proc = run(["bash", "--norc", "-c", "source /usr/share/bash-completion/bash_completion;"
                        " _completion_loader hydra-status; complete -p hydra-status"])
            self.assertIn("-F _hydra_status hydra-status", proc.stdout)

    def purge(self, user_existed: bool, group_existed: bool) -> None:
        proc = run(["dpkg", "--purge", "hydra-status"])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertFalse(os.path.exists("/usr/bin/hydra-status"))
        self.assertFalse(os.path.exists("/usr/" + HELPER))
        # Debian keeps system users on removal; this test leaves no trace.
        if not user_existed:
            run(["userdel", "hydra-status"])
        if not group_existed and run(["getent", "group", "hydra-status"]).returncode == 0:
            run(["groupdel", "hydra-status"])
        self.assertEqual(run(["getent", "passwd", "hydra-status"]).returncode == 0, user_existed)


if __name__ == "__main__":
    unittest.main()
