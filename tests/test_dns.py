"""DNS checks: the live resolver against a real Knot DNS server on 127.0.0.1, the cache in
the store (TTLs, negative answers, zero queries on a second run), and the replay resolver
(our format and email-validator's mocked-dns-answers.json, with email-validator as oracle).

No query leaves the loopback: every LiveResolver here names 127.0.0.1 and a port of ours.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.resolver
import polars as pl
import pytest
from dns_server import KnotServer, blackhole_port, zone_text
from email_validator import EmailUndeliverableError, validate_email
from email_validator.deliverability import validate_email_deliverability
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import CORPORA

from listhygiene import dns as ld
from listhygiene.dns import (
    CacheResolver,
    DnsConfigError,
    DomainResult,
    LiveResolver,
    OffResolver,
    ReplayMissingError,
    ReplayResolver,
    check_frame,
    domain_key,
    export_replay,
    parse_dns_server,
    resolver_for,
    results_frame,
)
from listhygiene.store import Store

Z = "lhtest-zone.com"
OTHER = "lhtest-other.net"
BROKEN = "lhtest-broken.org"  # configured, its zone file missing: SERVFAIL
GLOBAL_V4 = "93.184.215.14"  # zone data only: nothing is ever sent to these addresses
GLOBAL_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

ZONES: dict[str, str | None] = {
    Z: zone_text(
        Z,
        f"""
mx-ok 300 MX 10 mx1.mx-ok
mx-ok 300 MX 20 mx2.mx-ok
mx1.mx-ok A {GLOBAL_V4}
null-mx MX 0 .
mixed-null MX 0 .
mixed-null MX 10 mx1.mx-ok
a-only A {GLOBAL_V4}
aaaa-only AAAA {GLOBAL_V6}
private-a A 10.20.30.40
private-a AAAA ::1
txt-only TXT "v=spf1 -all"
cname-mx CNAME mx-ok
cname-out CNAME mail-host.{OTHER}.
cname-dangling CNAME gone
xn--bcher-kva MX 10 mx1.mx-ok
""",
        negative_ttl=60,
    ),
    OTHER: zone_text(OTHER, "mail-host 600 MX 5 mx.lhtest-other.net."),
    BROKEN: None,
}

MX_OK = ((10, f"mx1.mx-ok.{Z}"), (20, f"mx2.mx-ok.{Z}"))

# input -> (status, reason, mx, fallback); every contract reason DNS can give appears here
EXPECTED: dict[str, tuple[str, str | None, tuple[tuple[int, str], ...], str | None]] = {
    f"mx-ok.{Z}": ("ok", None, MX_OK, None),
    f"MX-OK.{Z.upper()}.": ("ok", None, MX_OK, None),  # case and a trailing dot
    f"null-mx.{Z}": ("null_mx", "does_not_accept_mail", (), None),
    f"mixed-null.{Z}": ("ok", None, ((10, f"mx1.mx-ok.{Z}"),), None),
    f"a-only.{Z}": ("no_mx_fallback_a", None, ((0, f"a-only.{Z}"),), "A"),
    f"aaaa-only.{Z}": ("no_mx_fallback_a", None, ((0, f"aaaa-only.{Z}"),), "AAAA"),
    f"private-a.{Z}": ("no_dns_entries", "no_dns_entries", (), None),
    f"txt-only.{Z}": ("no_dns_entries", "no_dns_entries", (), None),
    f"cname-mx.{Z}": ("ok", None, MX_OK, None),
    f"cname-out.{Z}": ("ok", None, ((5, f"mx.{OTHER}"),), None),
    f"cname-dangling.{Z}": ("no_dns_entries", "no_dns_entries", (), None),
    f"bücher.{Z}": ("ok", None, ((10, f"mx1.mx-ok.{Z}"),), None),
    f"missing.{Z}": ("no_dns_entries", "no_dns_entries", (), None),
    f"x.{BROKEN}": ("servfail", "dns_timeout", (), None),
    "not-served.lhunknown-zone.net": ("servfail", "dns_timeout", (), None),  # REFUSED
}

CONTRACT_REASONS = {
    "failed_syntax_check",
    "no_dns_entries",
    "does_not_accept_mail",
    "disposable",
    "role_account",
    "possible_typo",
    "dns_timeout",
    "suppressed",
}


class Clock:
    """A settable wall clock for TTL tests."""

    def __init__(self) -> None:
        self.t = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def knot() -> Iterator[KnotServer]:
    with KnotServer(ZONES) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "store.duckdb")
    yield s
    s.close()


def live(server: KnotServer, **kw: float) -> LiveResolver:
    return LiveResolver(["127.0.0.1"], port=server.port, **kw)


def strip_source(results: dict[str, DomainResult]) -> dict[str, tuple]:
    return {k: (r.domain, r.status, r.mx, r.fallback) for k, r in results.items()}


# -- the live resolver against Knot -----------------------------------------------


@pytest.fixture(scope="module")
def live_results(knot: KnotServer) -> dict[str, DomainResult]:
    return live(knot, timeout=2.0).check_domains(EXPECTED)


@pytest.mark.parametrize("domain", list(EXPECTED))
def test_live_result_for_each_kind_of_domain(
    live_results: dict[str, DomainResult], domain: str
) -> None:
    status, reason, mx, fallback = EXPECTED[domain]
    got = live_results[domain]
    assert (got.status, got.reason, got.mx, got.fallback) == (status, reason, mx, fallback)
    assert got.source == "live"
    assert got.domain == domain_key(domain)
    assert got.deliverable == {"ok": True, "no_mx_fallback_a": True, "servfail": None}.get(
        status, False
    )


def test_dns_reasons_are_contract_reasons(live_results: dict[str, DomainResult]) -> None:
    given = {r.reason for r in live_results.values()} - {None}
    assert given == {"no_dns_entries", "does_not_accept_mail", "dns_timeout"}
    assert set(ld.REASONS.values()) - {None} <= CONTRACT_REASONS


def test_each_distinct_domain_is_asked_once(knot: KnotServer) -> None:
    resolver = live(knot)
    inputs = [f"mx-ok.{Z}", f"MX-ok.{Z}", f"mx-ok.{Z}.", f"a-only.{Z}", f"A-ONLY.{Z}"] * 200
    before = knot.received()
    results = resolver.check_domains(inputs)
    assert set(results) == set(inputs)
    # mx-ok: MX; a-only: MX (NODATA) then A
    assert (resolver.questions, resolver.queries) == (3, 3)
    assert knot.received() - before == 3
    again = resolver.check_domains([f"mx-ok.{Z}", f"a-only.{Z}"])  # later shards of the run
    assert resolver.queries == 3 and again[f"mx-ok.{Z}"] is results[f"mx-ok.{Z}"]


def test_concurrency_is_bounded_on_a_real_server(knot: KnotServer) -> None:
    resolver = live(knot, concurrency=8)
    names = [f"n{i}.{Z}" for i in range(300)]  # NXDOMAIN each, one query each
    results = resolver.check_domains(names)
    assert {r.status for r in results.values()} == {"no_dns_entries"}
    assert resolver.queries == 300
    assert 1 <= resolver.max_in_flight <= 8


def test_a_server_that_never_answers_gives_timeouts() -> None:
    with blackhole_port() as port:
        resolver = LiveResolver(["127.0.0.1"], port=port, timeout=0.3, concurrency=4)
        results = resolver.check_domains([f"mx-ok.{Z}", f"null-mx.{Z}"])
    for r in results.values():
        assert (r.status, r.reason, r.deliverable) == ("timeout", "dns_timeout", None)
    assert resolver.questions == 2
    assert resolver.queries >= 2  # a try unanswered after half the timeout may be sent again


def test_concurrency_bound_holds_while_waiting() -> None:
    with blackhole_port() as port:
        resolver = LiveResolver(["127.0.0.1"], port=port, timeout=0.4, concurrency=4)
        start = time.monotonic()
        results = resolver.check_domains([f"d{i}.{Z}" for i in range(12)])
        elapsed = time.monotonic() - start
    assert {r.status for r in results.values()} == {"timeout"}
    assert resolver.max_in_flight == 4
    assert elapsed >= 3 * 0.4 - 0.05  # 12 domains, 4 at a time, 0.4 s each


def test_budget_turns_the_rest_into_timeouts(store: Store) -> None:
    with blackhole_port() as port:
        resolver = LiveResolver(["127.0.0.1"], port=port, timeout=0.5, concurrency=2, budget=0.8)
        cache = CacheResolver(store, resolver)
        start = time.monotonic()
        results = cache.check_domains([f"d{i}.{Z}" for i in range(10)])
        elapsed = time.monotonic() - start
        assert {r.status for r in results.values()} == {"timeout"}
        assert elapsed < 2.0  # unbounded it would take 2.5 s (10 domains, 2 at a time, 0.5 s)
        assert resolver.budget_cut >= 6  # never asked, or cut short by the budget
        # only the two questions that had their full timeout are kept as failures
        assert store.con.execute("SELECT count(*) FROM dns_cache").fetchone() == (2,)
        # the budget is the resolver's, for the whole run: nothing more is sent
        sent = resolver.queries
        later = resolver.check_domains([f"later.{Z}"])
        assert later[f"later.{Z}"].status == "timeout" and resolver.queries == sent


def test_live_inside_a_running_event_loop(knot: KnotServer) -> None:
    async def main() -> dict[str, DomainResult]:
        return live(knot).check_domains([f"mx-ok.{Z}"])

    assert asyncio.run(main())[f"mx-ok.{Z}"].status == "ok"


# -- the cache over the live resolver ---------------------------------------------


def test_second_run_from_the_cache_sends_no_query(knot: KnotServer, tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    s1 = Store.open(path)
    first_live = live(knot)
    first = CacheResolver(s1, first_live).check_domains(EXPECTED)
    s1.close()
    assert first_live.queries > 0
    assert {r.source for r in first.values()} == {"live"}

    received = knot.received()
    s2 = Store.open(path)  # a later run: a new store handle, resolver and memo
    try:
        second_live = live(knot)
        second = CacheResolver(s2, second_live).check_domains(EXPECTED)
        cache_only = resolver_for("cache", s2).check_domains(EXPECTED)
    finally:
        s2.close()
    assert second_live.queries == 0 and second_live.questions == 0
    assert knot.received() == received  # counted by the server too
    assert {r.source for r in second.values()} == {"cache"}
    assert strip_source(second) == strip_source(first)
    assert strip_source(cache_only) == strip_source(first)  # --dns live, then --dns cache


def test_cache_rows_and_ttls(knot: KnotServer, store: Store) -> None:
    CacheResolver(store, live(knot)).check_domains(
        [f"mx-ok.{Z}", f"a-only.{Z}", f"missing.{Z}", f"cname-out.{Z}", f"x.{BROKEN}"]
    )
    rows = {
        (d, t): (o, a, ttl)
        for d, t, o, a, ttl in store.con.execute(
            "SELECT domain, rdtype, outcome, answers, ttl FROM dns_cache"
        ).fetchall()
    }
    assert rows == {
        (f"mx-ok.{Z}", "MX"): ("answer", [f"10 mx1.mx-ok.{Z}.", f"20 mx2.mx-ok.{Z}."], 300),
        (f"a-only.{Z}", "MX"): ("nodata", [], 60),  # the SOA minimum
        (f"a-only.{Z}", "A"): ("answer", [GLOBAL_V4], 3600),
        (f"missing.{Z}", "MX"): ("nxdomain", [], 60),
        # chased into the other zone: the smallest TTL of the chain (the CNAME's 3600, MX 600)
        (f"cname-out.{Z}", "MX"): ("answer", [f"5 mx.{OTHER}."], 600),
        (f"x.{BROKEN}", "MX"): ("servfail", [], None),
    }


def test_ttl_expiry_uses_the_clock_and_asks_again(knot: KnotServer, store: Store) -> None:
    clock = Clock()
    names = [f"mx-ok.{Z}", f"a-only.{Z}", f"missing.{Z}"]
    CacheResolver(store, live(knot), clock).check_domains(names)

    clock.advance(59)  # every answer still fresh
    resolver = live(knot)
    fresh = CacheResolver(store, resolver, clock).check_domains(names)
    assert resolver.queries == 0 and {r.source for r in fresh.values()} == {"cache"}

    clock.advance(2)  # 61 s: the negative answers (SOA minimum 60) expired, the MX (300) not
    resolver = live(knot)
    cache = CacheResolver(store, resolver, clock)
    results = cache.check_domains(names)
    assert resolver.questions == 3  # a miss resolves the whole domain: a-only MX and A, missing MX
    assert results[f"mx-ok.{Z}"].source == "cache"
    assert results[f"a-only.{Z}"].source == "live" and results[f"missing.{Z}"].source == "live"
    assert (cache.hits, cache.misses) == (1, 2)

    clock.advance(300)  # now the MX too; without a fallback an expired row is a miss
    only = CacheResolver(store, None, clock).check_domains([f"mx-ok.{Z}"])[f"mx-ok.{Z}"]
    assert (only.status, only.reason, only.source) == ("not_checked", None, "cache")


def test_min_ttl_keeps_short_answers_longer(knot: KnotServer, store: Store) -> None:
    clock = Clock()
    CacheResolver(store, live(knot), clock).check_domains([f"mx-ok.{Z}", f"missing.{Z}"])
    clock.advance(86000)
    kept = CacheResolver(store, None, clock, min_ttl=86400).check_domains(
        [f"mx-ok.{Z}", f"missing.{Z}"]
    )
    assert {r.status for r in kept.values()} == {"ok", "no_dns_entries"}
    capped = CacheResolver(store, None, clock, min_ttl=86400, max_ttl=3600).check_domains(
        [f"mx-ok.{Z}"]
    )
    assert capped[f"mx-ok.{Z}"].status == "not_checked"


def test_failures_are_cached_briefly(store: Store) -> None:
    clock = Clock()
    with blackhole_port() as port:
        first = LiveResolver(["127.0.0.1"], port=port, timeout=0.2)
        CacheResolver(store, first, clock).check_domains([f"slow.{Z}"])
        assert first.queries >= 1
        clock.advance(299)
        second = LiveResolver(["127.0.0.1"], port=port, timeout=0.2)
        got = CacheResolver(store, second, clock).check_domains([f"slow.{Z}"])[f"slow.{Z}"]
        assert (got.status, got.source, second.queries) == ("timeout", "cache", 0)
        clock.advance(2)
        third = LiveResolver(["127.0.0.1"], port=port, timeout=0.2)
        got = CacheResolver(store, third, clock).check_domains([f"slow.{Z}"])[f"slow.{Z}"]
        assert (got.status, got.source) == ("timeout", "live") and third.queries >= 1


def test_export_replay_turns_a_live_run_into_a_test(
    live_results: dict[str, DomainResult], knot: KnotServer, store: Store, tmp_path: Path
) -> None:
    CacheResolver(store, live(knot)).check_domains(EXPECTED)
    export_replay(store, tmp_path / "replay.json")
    replay = ReplayResolver(tmp_path / "replay.json", strict=True)
    assert strip_source(replay.check_domains(EXPECTED)) == strip_source(live_results)


# -- the replay resolver ------------------------------------------------------------

OURS = {
    "domains": {
        "mx.com": {"MX": ["20 b.mx.com.", "10 a.mx.com."]},
        "null.com": {"MX": ["0 ."]},
        "a.com": {"MX": [], "A": [GLOBAL_V4]},
        "aaaa.com": {"MX": [], "A": [], "AAAA": [GLOBAL_V6]},
        "loopback.com": {"MX": [], "A": ["127.0.0.1"], "AAAA": ["::1"]},
        "nx.com": "NXDOMAIN",
        "slow.com": "TIMEOUT",
        "broken.com": "SERVFAIL",
        "slow-a.com": {"MX": [], "A": "TIMEOUT"},
        "xn--bcher-kva.com": {"MX": {"answers": ["5 mail.xn--bcher-kva.com."], "ttl": 120}},
    }
}


def test_replay_our_format() -> None:
    replay = ReplayResolver(OURS)
    got = replay.check_domains([*OURS["domains"], "Bücher.COM", "unknown.com"])
    summary = {k: (r.status, r.reason, r.mx, r.fallback) for k, r in got.items()}
    assert summary == {
        "mx.com": ("ok", None, ((10, "a.mx.com"), (20, "b.mx.com")), None),
        "null.com": ("null_mx", "does_not_accept_mail", (), None),
        "a.com": ("no_mx_fallback_a", None, ((0, "a.com"),), "A"),
        "aaaa.com": ("no_mx_fallback_a", None, ((0, "aaaa.com"),), "AAAA"),
        "loopback.com": ("no_dns_entries", "no_dns_entries", (), None),
        "nx.com": ("no_dns_entries", "no_dns_entries", (), None),
        "slow.com": ("timeout", "dns_timeout", (), None),
        "broken.com": ("servfail", "dns_timeout", (), None),
        "slow-a.com": ("timeout", "dns_timeout", (), None),
        "xn--bcher-kva.com": ("ok", None, ((5, "mail.xn--bcher-kva.com"),), None),
        "Bücher.COM": ("ok", None, ((5, "mail.xn--bcher-kva.com"),), None),
        "unknown.com": ("not_checked", None, (), None),
    }
    assert {r.source for r in got.values()} == {"replay"}
    assert got["Bücher.COM"] is got["xn--bcher-kva.com"]


def test_replay_strict_names_the_missing_question() -> None:
    with pytest.raises(ReplayMissingError) as err:
        ReplayResolver(OURS, strict=True).check_domains(["unknown.com"])
    assert str(err.value) == "The replay data has no answer for unknown.com MX."
    partial = {"domains": {"half.com": {"MX": []}}}  # NODATA, then no A answer
    got = ReplayResolver(partial).check_domains(["half.com"])["half.com"]
    assert got.status == "not_checked"


def test_replay_from_a_file_behind_the_cache(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(OURS), encoding="utf-8")
    clock = Clock()
    first = ReplayResolver(path)
    one = CacheResolver(store, first, clock).check_domains(OURS["domains"])
    second = ReplayResolver(path)
    two = CacheResolver(store, second, clock).check_domains(OURS["domains"])
    assert first.questions > 0 and second.questions == 0
    assert strip_source(one) == strip_source(two)
    ttls = dict(
        store.con.execute(
            "SELECT domain || ' ' || rdtype, ttl FROM dns_cache "
            "WHERE domain IN ('xn--bcher-kva.com', 'mx.com', 'slow.com')"
        ).fetchall()
    )
    assert ttls == {"xn--bcher-kva.com MX": 120, "mx.com MX": 3600, "slow.com MX": None}
    clock.advance(121)
    three = ReplayResolver(path)
    CacheResolver(store, three, clock).check_domains(["xn--bcher-kva.com", "mx.com"])
    assert three.questions == 1


def test_negative_answer_without_soa_uses_the_default(store: Store) -> None:
    clock = Clock()
    cache = CacheResolver(store, None, clock, negative_ttl=100)
    cache.write([ld.RecordSet("nosoa.com", "MX", "nxdomain", (), None)])
    clock.advance(99)
    assert cache.check_domains(["nosoa.com"])["nosoa.com"].status == "no_dns_entries"
    clock.advance(2)
    again = CacheResolver(store, None, clock, negative_ttl=100).check_domains(["nosoa.com"])
    assert again["nosoa.com"].status == "not_checked"


EV_ANSWERS = CORPORA / "email" / "python-email-validator" / "mocked-dns-answers.json"


class _EvCache:
    """Serves email-validator's mocked-dns-answers.json to a dnspython Resolver (its own
    tests do the same), so email-validator can judge the same answers as we do."""

    class _Answer:
        def __init__(self, rrset: dns.rdataset.Rdataset):
            self.rrset = rrset

        def __iter__(self) -> Iterator[dns.rdata.Rdata]:
            return iter(self.rrset)

    def __init__(self, items: list[dict]):
        self.data: dict[tuple, object] = {}
        for item in items:
            q = item["query"]
            key = (
                dns.name.from_text(q["name"] + "."),
                dns.rdatatype.from_text(q["type"]),
                dns.rdataclass.from_text(q["class"]),
            )
            rdatas = [dns.rdata.from_text(key[2], key[1], rr) for rr in item["answer"]]
            self.data[key] = (
                self._Answer(dns.rdataset.from_rdata_list(0, rdatas)) if rdatas else None
            )

    def get(self, key: tuple) -> object:
        if key in self.data:
            if self.data[key] is None:
                raise dns.resolver.NoAnswer
            return self.data[key]
        if self.data.get((key[0], dns.rdatatype.ANY, key[2]), "absent") is None:
            raise dns.resolver.NXDOMAIN
        raise KeyError(key)

    def put(self, key: tuple, value: object) -> None:  # pragma: no cover - never live
        raise AssertionError("no live DNS in tests")


def _email_validator_says(resolver: dns.resolver.Resolver, domain: str) -> bool | None:
    try:
        info = validate_email_deliverability(domain, domain, dns_resolver=resolver)
    except EmailUndeliverableError:
        return False
    return None if "unknown-deliverability" in info else True


def test_replay_reads_email_validators_answers_and_agrees_with_it() -> None:
    items = json.loads(EV_ANSWERS.read_text(encoding="utf-8"))
    domains = sorted({i["query"]["name"] for i in items})
    ours = ReplayResolver(EV_ANSWERS, strict=True).check_domains(domains)
    assert {d: r.status for d, r in ours.items()} == {
        "example.com": "null_mx",
        "g.mail.com": "no_dns_entries",  # AAAA ::1 only: not globally reachable
        "gmail.com": "ok",
        "google.com": "ok",
        "ipv6only.joshdata.me": "no_dns_entries",  # AAAA ::1 only
        "justtxt.joshdata.me": "no_dns_entries",  # A 127.0.0.1 only
        "mail.example": "no_dns_entries",  # NXDOMAIN (ANY with no answer)
        "mail.example.com": "no_dns_entries",
        "nellis.af.mil": "no_mx_fallback_a",
        "pages.github.com": "no_mx_fallback_a",
        "xkxufoekjvjfjeodlfmdfjcu.com": "no_dns_entries",
    }
    assert ours["gmail.com"].mx[0] == (5, "gmail-smtp-in.l.google.com")

    ev_resolver = dns.resolver.Resolver(configure=False)
    ev_resolver.cache = _EvCache(items)
    for domain, result in ours.items():
        expected = _email_validator_says(ev_resolver, domain)
        if domain == "nellis.af.mil":
            # documented difference: email-validator also rejects an implicit-MX domain
            # whose SPF is "v=spf1 -all"; we ask no TXT question
            assert (expected, result.deliverable) == (False, True)
        else:
            assert result.deliverable == expected, domain


def test_replay_agrees_with_validate_email_end_to_end() -> None:
    items = json.loads(EV_ANSWERS.read_text(encoding="utf-8"))
    ev_resolver = dns.resolver.Resolver(configure=False)
    ev_resolver.cache = _EvCache(items)
    replay = ReplayResolver(EV_ANSWERS)
    for address, deliverable in [("me@gmail.com", True), ("me@pages.github.com", True)]:
        v = validate_email(address, dns_resolver=ev_resolver)
        assert replay.check_domains([v.ascii_domain])[v.ascii_domain].deliverable is deliverable


# -- names, options, the factory, the frame -----------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        (" example.com ", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("", None),
        ("a..b.com", None),
        ("x" * 64 + ".com", None),
    ],
)
def test_domain_key(text: str, key: str | None) -> None:
    assert domain_key(text) == key


def test_a_name_that_cannot_exist_is_not_asked(knot: KnotServer) -> None:
    resolver = live(knot)
    got = resolver.check_domains(["a..b.com", "x" * 64 + ".com"])
    assert {r.status for r in got.values()} == {"no_dns_entries"}
    assert resolver.queries == 0


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", None)),
        ("[::1]:5353", ("::1", 5353)),
        ("[::1]", ("::1", None)),
    ],
)
def test_parse_dns_server(text: str, parsed: tuple[str, int | None]) -> None:
    assert parse_dns_server(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dns.local",
            "The DNS server 'dns.local' is not an IP address. Give the address of the server "
            "to ask, e.g. 127.0.0.1:5353 or [::1]:53.",
        ),
        ("127.0.0.1:0", "The DNS server '127.0.0.1:0' has no valid port (1-65535)."),
        ("127.0.0.1:dns", "The DNS server '127.0.0.1:dns' has no valid port (1-65535)."),
        ("[::1]x", "The DNS server '[::1]x' is not HOST, HOST:PORT or [IPv6]:PORT."),
    ],
)
def test_bad_dns_server(text: str, message: str) -> None:
    with pytest.raises(DnsConfigError) as err:
        parse_dns_server(text)
    assert str(err.value) == message


def test_live_needs_a_named_server(store: Store) -> None:
    message = (
        "--dns live needs a DNS server to ask: give --dns-server HOST[:PORT] "
        "(or --dns-server system for the servers of /etc/resolv.conf)."
    )
    for make in (lambda: resolver_for("live", store), lambda: LiveResolver([])):
        with pytest.raises(DnsConfigError) as err:
            make()
        assert str(err.value) == message
        assert err.value.exit_code == 2


def test_resolver_for_each_mode(knot: KnotServer, store: Store) -> None:
    off = resolver_for("off", store)
    assert isinstance(off, OffResolver)
    assert off.check_domains([f"mx-ok.{Z}"])[f"mx-ok.{Z}"] == DomainResult(
        f"mx-ok.{Z}", "not_checked", source="off"
    )
    cache = resolver_for("cache", store)
    assert isinstance(cache, CacheResolver) and cache.fallback is None
    live_mode = resolver_for("live", store, ["127.0.0.1"], knot.port, timeout=1.0)
    assert isinstance(live_mode, CacheResolver) and isinstance(live_mode.fallback, LiveResolver)
    assert live_mode.check_domains([f"mx-ok.{Z}"])[f"mx-ok.{Z}"].status == "ok"
    assert isinstance(resolver_for("live", None, "127.0.0.1", knot.port), LiveResolver)
    assert isinstance(resolver_for("replay", replay=OURS), ReplayResolver)
    with pytest.raises(DnsConfigError) as err:
        resolver_for("sometimes", store)
    assert str(err.value) == "--dns must be one of off, cache or live, not 'sometimes'."
    with pytest.raises(DnsConfigError):
        resolver_for("cache", None)


def test_results_frame_joins_onto_contacts() -> None:
    results = ReplayResolver(OURS).check_domains(["mx.com", "NX.com", "slow.com"])
    assert results_frame(results).schema == pl.Schema(ld.RESULT_SCHEMA)
    frame = results_frame(results, with_mx=True)
    assert frame.schema == pl.Schema({**ld.RESULT_SCHEMA, "dns_mx": pl.List(pl.String)})
    contacts = pl.DataFrame({"email": ["a@mx.com", "b@NX.com", "c@slow.com", "d@mx.com"]})
    joined = contacts.with_columns(domain=pl.col("email").str.split("@").list.last()).join(
        frame, on="domain", how="left"
    )
    assert joined["dns_status"].to_list() == ["ok", "no_dns_entries", "timeout", "ok"]
    assert joined["dns_reason"].to_list() == [None, "no_dns_entries", "dns_timeout", None]
    assert joined["dns_deliverable"].to_list() == [True, False, None, True]
    assert joined["dns_mx"].to_list()[0] == ["a.mx.com", "b.mx.com"]


# -- the columnar path (check_frame) agrees with the per-domain one (check_domains) -----

ODD_INPUTS = [" MX-ok.lhtest-zone.com ", f"bücher.{Z}.", "a..b.com", "x" * 64 + ".com", None]


def assert_paths_agree(store: Store, inputs: list[str | None]) -> pl.DataFrame:
    fast = check_frame(CacheResolver(store), inputs, with_mx=True).sort("domain")
    slow = results_frame(CacheResolver(store).check_domains(inputs), with_mx=True)
    assert fast.to_dicts() == slow.sort("domain").to_dicts()
    return fast


def test_check_frame_agrees_on_live_answers(knot: KnotServer, store: Store) -> None:
    CacheResolver(store, live(knot)).check_domains(EXPECTED)
    with blackhole_port() as port:
        slow = LiveResolver(["127.0.0.1"], port=port, timeout=0.3)
        CacheResolver(store, slow).check_domains([f"slow.{Z}"])
    inputs = [*EXPECTED, f"slow.{Z}", f"never-asked.{Z}", *ODD_INPUTS]
    fast = assert_paths_agree(store, inputs)
    statuses = dict(zip(fast["domain"], fast["dns_status"], strict=True))
    assert statuses[f"slow.{Z}"] == "timeout"
    assert statuses[f"never-asked.{Z}"] == "not_checked"
    assert set(statuses.values()) == set(ld.STATUSES)


def test_check_frame_agrees_on_replayed_answers(store: Store) -> None:
    ev_domains = sorted({i["query"]["name"] for i in json.loads(EV_ANSWERS.read_text())})
    CacheResolver(store, ReplayResolver(OURS)).check_domains(OURS["domains"])
    CacheResolver(store, ReplayResolver(EV_ANSWERS)).check_domains(ev_domains)
    assert_paths_agree(store, [*OURS["domains"], *ev_domains, "Bücher.COM", *ODD_INPUTS])


def test_check_frame_sends_misses_to_the_fallback(store: Store) -> None:
    inputs = ["mx.com", "MX.com", "a.com", "nx.com", "slow.com", "unknown.com", None]
    replay = ReplayResolver(OURS)
    first = check_frame(CacheResolver(store, replay), inputs).sort("domain")
    asked = replay.questions
    second = check_frame(CacheResolver(store, replay), inputs).sort("domain")
    assert replay.questions == asked  # the second run answers from the cache
    assert first["dns_source"].to_list() == ["replay"] * 6
    # unknown.com is not in the replay data: not_checked, so nothing cached for it
    assert second["dns_source"].to_list() == ["cache"] * 5 + ["replay"]
    assert first.drop("dns_source").equals(second.drop("dns_source"))


def test_check_frame_of_other_resolvers(knot: KnotServer) -> None:
    frame = check_frame(live(knot), [f"mx-ok.{Z}", None, f"null-mx.{Z}", f"mx-ok.{Z}"])
    assert sorted(frame["dns_status"].to_list()) == ["null_mx", "ok"]
    assert set(frame["dns_source"]) == {"live"}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="aZ09.-_ üÜ\tß", max_size=30),
            st.text(alphabet="ab.", min_size=60, max_size=300),
            st.from_regex(r"[a-z0-9-]{1,70}(\.[a-z0-9-]{1,70}){0,5}\.?", fullmatch=True),
        ),
        max_size=8,
    )
)
def test_vectorized_keys_match_domain_key(values: list[str]) -> None:
    frame = ld._key_frame(values)
    for domain, key, shown in frame.iter_rows():
        assert key == domain_key(domain)
        assert shown == (domain.strip().lower() if key is None else None)
