"""A real authoritative DNS server (Knot DNS, Debian package `knot`) on 127.0.0.1, for tests
and the bench, plus a UDP port that never answers.

`KnotServer(zones)` writes a config and zone files into a short temporary folder,
starts `knotd` in the foreground on a free port of 127.0.0.1 (UDP and TCP), waits
until every zone answers, and stops it on `close()`. `mod-stats` counts what the
server received, so a test can check that a second run sent nothing. No traffic
leaves the loopback: the server listens on 127.0.0.1 only and answers only for
its own zones (REFUSED for anything else; it never recurses).

`tests/setup_dns_server.sh` installs the package (`make test` calls it). When
`knotd` is missing anyway, `knotd_path()` fails the test with what to run: the
DNS tests must never be skipped silently.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HOST = "127.0.0.1"

SETUP_HINT = (
    "knotd (Debian package 'knot') is not installed: run `sh tests/setup_dns_server.sh` "
    "as root (make test does), or `apt-get install -y --no-install-recommends knot`."
)


class DnsServerError(RuntimeError):
    pass


def knotd_path() -> str:
    """The knotd binary; fails the calling test (not a skip) when it is missing."""
    found = shutil.which("knotd") or next(
        (p for p in ("/usr/sbin/knotd", "/usr/local/sbin/knotd") if os.access(p, os.X_OK)), None
    )
    if found is None:
        import pytest  # only when used from a test; the bench reports the same sentence

        pytest.fail(SETUP_HINT, pytrace=False)
    return found


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise DnsServerError("No free port on 127.0.0.1 for the test DNS server.")


@contextlib.contextmanager
def blackhole_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that receives queries and never answers (for timeouts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


def zone_text(origin: str, body: str, *, ttl: int = 3600, negative_ttl: int = 60) -> str:
    """A zone file: SOA (whose minimum is the negative TTL) and NS, then ``body``."""
    return (
        f"$ORIGIN {origin.rstrip('.')}.\n$TTL {ttl}\n"
        f"@ SOA ns1 hostmaster 1 3600 600 86400 {negative_ttl}\n"
        "@ NS ns1\nns1 A 127.0.0.1\n" + body.strip() + "\n"
    )


class KnotServer:
    """knotd serving ``zones`` ({origin: zone file text, or None for a zone that fails
    to load and so answers SERVFAIL}) on 127.0.0.1:``port``."""

    def __init__(
        self, zones: Mapping[str, str | None], *, udp_workers: int = 2, start_timeout: float = 20
    ):
        self.binary = knotd_path()
        self.zones = dict(zones)
        self.dir = Path(tempfile.mkdtemp(prefix="lhknot-"))  # short: holds a unix socket
        self.port = free_port()
        self.log_path = self.dir / "knotd.log"
        self._write_config(udp_workers)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.dir / "knot.conf")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.close()
            raise

    def _write_config(self, udp_workers: int) -> None:
        d = self.dir
        lines = [
            "server:",
            f'    rundir: "{d}"',
            f"    listen: {HOST}@{self.port}",
            f"    udp-workers: {udp_workers}",
            "    tcp-workers: 1",
            "    background-workers: 1",
            "log:",
            "  - target: stderr",
            "    any: notice",
            "database:",
            f'    storage: "{d / "db"}"',
            "mod-stats:",
            "  - id: counts",
            "    request-protocol: on",
            "    query-type: on",
            "    response-code: on",
            "    server-operation: off",
            "    request-bytes: off",
            "    response-bytes: off",
            "    edns-presence: off",
            "    flag-presence: off",
            "template:",
            "  - id: default",
            f'    storage: "{d}"',
            "    zonefile-sync: -1",
            "    zonefile-load: whole",
            "    journal-content: none",
            "    semantic-checks: off",
            "    global-module: mod-stats/counts",
            "zone:",
        ]
        for i, (origin, text) in enumerate(self.zones.items()):
            name = origin.rstrip(".")
            file = f"zone{i}.zone"
            lines += [f"  - domain: {name}", f'    file: "{file}"']
            if text is not None:  # None: the file is missing, the zone answers SERVFAIL
                (d / file).write_text(text, encoding="utf-8")
        (d / "knot.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = [o.rstrip(".") for o, t in self.zones.items() if t is not None]
        while waiting:
            if self.proc.poll() is not None:
                raise DnsServerError(
                    f"knotd exited with status {self.proc.returncode} at start:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise DnsServerError(
                    f"knotd did not serve {waiting} within {timeout} s:\n{self.log()}"
                )
            try:
                query = dns.message.make_query(waiting[0] + ".", dns.rdatatype.SOA)
                reply = dns.query.udp(query, HOST, timeout=0.2, port=self.port)
                if reply.rcode() == dns.rcode.NOERROR and reply.answer:
                    waiting.pop(0)
                    continue
            except (dns.exception.Timeout, OSError):
                pass
            time.sleep(0.05)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def stats(self) -> dict[str, int]:
        """The server's mod-stats counters, e.g. {'request-protocol[udp4]': 12, ...}."""
        out = subprocess.run(
            [self._knotc(), "-s", str(self.dir / "knot.sock"), "stats", "mod-stats"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        counts: dict[str, int] = {}
        for line in out.splitlines():
            m = re.match(r"mod-stats\.(\S+)\s*=\s*(\d+)", line.strip())
            if m:
                counts[m.group(1)] = int(m.group(2))
        return counts

    def received(self) -> int:
        """How many requests the server has received (UDP and TCP, IPv4 and IPv6)."""
        return sum(v for k, v in self.stats().items() if k.startswith("request-protocol["))

    def _knotc(self) -> str:
        return shutil.which("knotc") or str(Path(self.binary).with_name("knotc"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> KnotServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
