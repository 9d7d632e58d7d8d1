"""Snapshots served by a real web server (issue 17): a publisher syncs from the
fake Hydra and publishes (`sync --publish DIR`); nginx from Debian serves DIR
on 127.0.0.1 with its own config and prefix in a temp dir (no root); a client
pulls with `sync --from http://...` and never contacts Hydra.

Checks: the first pull is the base; after the publisher ingests two more
evals the client downloads exactly those two deltas (counted in nginx's
access log); every lookup answer of the client equals the publisher's; a
tampered delta and a manifest signed by an untrusted key are rejected (exit
1, the key named) with nothing changed; a pull with nothing new is exactly 1
request, answered 304.

nginx missing: skipped, except in CI (CI=true), where it fails.
Run: cd tests/integration && HS_BIN=.../hydra-status python3 -m unittest -v test_snapshot_nginx
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import hs_testlib
from hs_testlib import FakeHydra, HsTestCase, index_dump, make_dataset

HS_BIN = hs_testlib.skip_unless_binary()


def find_nginx() -> str | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


NGINX = find_nginx()
if NGINX is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("nginx is missing, and CI must run this test: install nginx-light "
                           "(contrib/install-deps)")
    hs_testlib.skip_process("nginx not installed (apt-get install nginx-light)")

JOBSET = "nixpkgs:snap"
TRUNK_JOBS = 40


def dataset() -> dict:
    """Phase 1: eval 1 of 40 builds. Phase 2: evals 2 and 3 (new builds,
    one restarted build re-checked). Phase 3: eval 4."""
    b = make_dataset.DatasetBuilder(seed=17)
    ids = [b.add_build(JOBSET, f"pkg{i}.x86_64-linux", f"pkg{i}-1.0",
                       status=0 if i % 7 else 1, timestamp=1000 + i)["id"]
           for i in range(TRUNK_JOBS)]
    b.add_eval(JOBSET, ids, timestamp=2000)
    b.new_phase()
    new2 = [b.add_build(JOBSET, f"pkg{i}.x86_64-linux", f"pkg{i}-2.0", status=0,
                        timestamp=3000 + i)["id"] for i in range(3)]
    b.add_eval(JOBSET, ids[3:] + new2, timestamp=3100)
    new3 = [b.add_build(JOBSET, f"pkg{i}.x86_64-linux", f"pkg{i}-3.0", status=1,
                        timestamp=3200 + i)["id"] for i in range(3, 5)]
    b.add_eval(JOBSET, ids[5:] + new2 + new3, timestamp=3300)
    b.new_phase()
    new4 = [b.add_build(JOBSET, "pkg9.x86_64-linux", "pkg9-4.0", status=0,
                        timestamp=4000)["id"]]
    b.add_eval(JOBSET, ids[5:] + new2 + new3 + new4, timestamp=4100)
    return b.to_json("snapshot test")


class Nginx:
    """nginx serving `root` on a free port of 127.0.0.1, from a prefix of its own."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.prefix = tempfile.mkdtemp(prefix="hs-nginx-")
        self.access_log = os.path.join(self.prefix, "access.log")
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "Nginx":
        for _ in range(5):  # a port taken between the probe and nginx's bind: again
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            conf = os.path.join(self.prefix, "nginx.conf")
            temp = {k: os.path.join(self.prefix, k) for k in
                    ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
            with open(conf, "w", encoding="utf-8") as f:
                f.write(f"""
daemon off;
master_process off;
pid {self.prefix}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    log_format counted '$request_method $uri $status $body_bytes_sent';
    access_log {self.access_log} counted;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
""")
            self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-c", conf, "-e", "stderr"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
            if self._wait_ready():
                return self
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            if "Address already in use" not in err:
                raise RuntimeError(f"nginx did not start: {err}")
        raise RuntimeError("nginx found no free port")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.02)  # polling for the listening socket, no event to wait on
        return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> list[tuple[str, str, int]]:
        """(method, uri, status) of every request since clear_log(). nginx
        writes a log line before it closes the connection; the client has
        exited by the time this is read."""
        with open(self.access_log, encoding="utf-8") as f:
            return [(m, u, int(s)) for m, u, s, _ in (line.split() for line in f)]

    def clear_log(self) -> None:
        open(self.access_log, "w").close()  # nginx appends (O_APPEND)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


class SnapshotOverNginxTest(HsTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.data = dataset()
        self.hydra = FakeHydra(self.data).start()
        self.addCleanup(self.hydra.stop)
        self.publish_dir = os.path.join(self.tmp, "www")
        os.makedirs(self.publish_dir)
        self.nginx = Nginx(self.publish_dir).start()
        self.addCleanup(self.nginx.cleanup)
        self.publisher = os.path.join(self.tmp, "publisher", "index.sqlite")
        os.makedirs(os.path.dirname(self.publisher))
        self.secret = os.path.join(self.tmp, "publisher", "key.secret")
        proc = self.hs(["snapshot", "keygen", "ci.example.org-1", "--secret-key-file",
                        self.secret], db=self.publisher)
        self.assertExit(proc, 0)
        self.public = proc.stdout.strip()
        self.client_home = os.path.join(self.tmp, "client-home")
        os.makedirs(self.client_home)
        # The client's config: the documented set-up, nothing else.
        hs_testlib.write_config(self.client_home,
                                f"from = {self.nginx.url}\ntrusted-keys = {self.public}\n"
                                "min-interval = 0\n")

    def publish_sync(self) -> None:
        proc = self.hs(["--url", self.hydra.url, "sync", "--jobset", JOBSET, "--max-evals", "1",
                        "--min-interval", "0", "--publish", self.publish_dir,
                        "--secret-key-file", self.secret], db=self.publisher)
        self.assertExit(proc, 0)

    def pull(self, *extra: str) -> subprocess.CompletedProcess:
        return self.hs(["sync", *extra], home=self.client_home)

    def answers(self, db: str) -> list[str]:
        drvs = make_dataset.drv_paths(self.data)
        proc = self.hs(["--json", "lookup", "--stdin"], db=db, input="\n".join(drvs) + "\n")
        self.assertIn(proc.returncode, (0, 1, 3, 4), proc.stderr)
        return proc.stdout.splitlines()

    def delta_requests(self) -> list[tuple[str, str, int]]:
        return [r for r in self.nginx.log() if r[1].startswith("/delta-")]

    def test_pulls_from_nginx(self) -> None:
        self.publish_sync()
        # First pull: the manifest and the base.
        self.nginx.clear_log()
        proc = self.pull()
        self.assertExit(proc, 0)
        self.assertIn("pulled a base", proc.stderr)
        log = self.nginx.log()
        self.assertEqual([(u.split("-")[0], s) for _, u, s in log],
                         [("/manifest.json", 200), ("/base", 200)], log)
        self.assertEqual(self.answers(self.db), self.answers(self.publisher))

        # Two more evals: exactly those two deltas.
        self.hydra.set_phase(2)
        self.publish_sync()
        hydra_requests = len(self.hydra.log())
        self.nginx.clear_log()
        proc = self.pull()
        self.assertExit(proc, 0)
        self.assertIn("pulled 2 deltas (evals 2, 3)", proc.stderr)
        self.assertEqual(len(self.delta_requests()), 2, self.nginx.log())
        self.assertEqual([r for r in self.nginx.log() if not r[1].startswith("/delta-")],
                         [("GET", "/manifest.json", 200)])
        self.assertEqual(self.answers(self.db), self.answers(self.publisher))
        self.assertEqual(index_dump(self.db), index_dump(self.publisher))
        # The client never asked Hydra anything.
        self.assertEqual(len(self.hydra.log()), hydra_requests)

        # Nothing new: one request, answered 304.
        self.nginx.clear_log()
        proc = self.pull()
        self.assertExit(proc, 0)
        self.assertIn("nothing new", proc.stderr)
        self.assertEqual(self.nginx.log(), [("GET", "/manifest.json", 304)])

        # A tampered delta (same size, one byte changed): rejected, nothing changed.
        self.hydra.set_phase(3)
        self.publish_sync()
        before = index_dump(self.db)
        answers_before = self.answers(self.db)
        newest = self.manifest()["signed"]["deltas"][-1]["file"]
        path = os.path.join(self.publish_dir, newest)
        with open(path, "rb") as f:
            original = f.read()
        with open(path, "wb") as f:
            f.write(original[:-5] + bytes([original[-5] ^ 0xFF]) + original[-4:])
        proc = self.pull()
        self.assertExit(proc, 1)
        self.assertIn("sha256", proc.stderr)
        self.assertIn("nothing was changed", proc.stderr)
        self.assertEqual(index_dump(self.db), before)
        self.assertEqual(self.answers(self.db), answers_before)
        with open(path, "wb") as f:
            f.write(original)

        # A manifest signed by a key the client does not trust.
        other = os.path.join(self.tmp, "other")
        secret2 = os.path.join(self.tmp, "other.secret")
        self.assertExit(self.hs(["snapshot", "keygen", "mallory-1", "--secret-key-file",
                                 secret2], db=self.publisher), 0)
        self.assertExit(self.hs(["snapshot", "publish", other, "--secret-key-file", secret2],
                                db=self.publisher), 0)
        good_manifest = os.path.join(self.tmp, "good-manifest.json")
        shutil.copy(os.path.join(self.publish_dir, "manifest.json"), good_manifest)
        for name in os.listdir(other):
            if not name.startswith("."):
                shutil.copy(os.path.join(other, name), os.path.join(self.publish_dir, name))
        proc = self.pull()
        self.assertExit(proc, 1)
        self.assertIn("'mallory-1'", proc.stderr)
        self.assertIn("trusted-keys", proc.stderr)
        self.assertEqual(index_dump(self.db), before)

        # The good manifest back: the client catches up with the one delta.
        shutil.copy(good_manifest, os.path.join(self.publish_dir, "manifest.json"))
        self.nginx.clear_log()
        proc = self.pull()
        self.assertExit(proc, 0)
        self.assertIn("pulled 1 delta (eval 4)", proc.stderr)
        self.assertEqual(len(self.delta_requests()), 1)
        self.assertEqual(self.answers(self.db), self.answers(self.publisher))
        info = self.hs(["info"])
        self.assertIn(f"pulled from    {self.nginx.url}", info.stdout)
        self.assertIn("signed by      ci.example.org-1", info.stdout)

    def manifest(self) -> dict:
        import json
        with open(os.path.join(self.publish_dir, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)


if __name__ == "__main__":
    unittest.main()
