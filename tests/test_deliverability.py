"""The deliverability stage end to end: `run --dns live` against a real Knot server on
loopback, then `run --dns cache` with no network, and check-email's full verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from dns_server import KnotServer, zone_text

from listhygiene.cli import main

Z = "lhrun-zone.com"
GLOBAL_V4 = "93.184.215.14"  # zone data only: nothing is ever sent to this address
ZONE = {
    Z: zone_text(
        Z,
        f"""
shop MX 10 mx1.shop
mx1.shop A {GLOBAL_V4}
nomail MX 0 .
web A {GLOBAL_V4}
""",
    )
}
CONTACTS = "\n".join(
    [
        "email,status",
        f"ann@shop.{Z},subscribed",  # MX: valid
        f"info@shop.{Z},",  # role account: risky
        f"bob@nomail.{Z},",  # null MX: invalid / does_not_accept_mail
        f"cy@web.{Z},",  # A fallback: valid
        f"dee@gone.{Z},",  # NXDOMAIN: invalid / no_dns_entries
        f"eve@shop.{Z},unsubscribed",  # suppressed
        "fay@mailinator.com,",  # disposable (and not in our zone: REFUSED -> dns_timeout, outranked)
        "",
    ]
)


@pytest.fixture(scope="module")
def knot():
    with KnotServer(ZONE) as server:
        yield server


def _run(tmp_path: Path, *args: str) -> dict:
    src = tmp_path / "contacts.csv"
    src.write_text(CONTACTS)
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(src),
            "--out",
            str(out),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--as-of",
            "2026-11-01",
            *args,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text())["deliverability"]


EXPECTED = {
    "verdicts": {"invalid": 4, "risky": 1, "valid": 2},
    "verdict_reasons": {
        "disposable": 1,
        "does_not_accept_mail": 1,
        "no_dns_entries": 1,
        "none": 2,
        "role_account": 1,
        "suppressed": 1,
    },
}


def test_live_then_cache_give_identical_verdicts_and_the_cache_asks_nothing(knot, tmp_path):
    live = _run(tmp_path, "--dns", "live", "--dns-server", f"127.0.0.1:{knot.port}")
    asked = knot.received()
    assert asked > 0
    cached = _run(tmp_path, "--dns", "cache")
    assert knot.received() == asked  # the second run sent no query at all
    assert live == {"dns": "live", **EXPECTED}
    assert cached == {"dns": "cache", **EXPECTED}


def test_dns_off_leaves_verdicts_unknown_unless_a_flag_decides(tmp_path):
    off = _run(tmp_path, "--dns", "off")
    assert off["verdicts"] == {"invalid": 2, "risky": 1, "unknown": 4}
    assert off["verdict_reasons"] == {
        "disposable": 1,
        "none": 4,
        "role_account": 1,
        "suppressed": 1,
    }


def test_check_email_prints_flags_dns_and_verdict(knot, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "check-email",
            f"ann@nomail.{Z}",
            "Ann@gmial.com",
            "--db",
            str(tmp_path / "s.duckdb"),
            "--dns",
            "live",
            "--dns-server",
            f"127.0.0.1:{knot.port}",
        ],
    )
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert {k: first[k] for k in ("valid", "dns_status", "verdict", "verdict_reason")} == {
        "valid": True,
        "dns_status": "null_mx",
        "verdict": "invalid",
        "verdict_reason": "does_not_accept_mail",
    }
    assert {
        k: second[k]
        for k in ("did_you_mean", "disposable", "free_provider", "role_account", "verdict_reason")
    } == {
        "did_you_mean": "Ann@gmail.com",
        "disposable": True,
        "free_provider": False,
        "role_account": False,
        "verdict_reason": "disposable",
    }


def test_live_without_a_server_is_a_usage_error(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(CONTACTS)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(src),
            "--out",
            str(tmp_path / "o"),
            "--db",
            str(tmp_path / "s.duckdb"),
            "--dns",
            "live",
        ],
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --dns live needs a DNS server to ask: give --dns-server HOST[:PORT] (or "
        "--dns-server system for the servers of /etc/resolv.conf).\n"
    )
    assert not (tmp_path / "o").exists()
