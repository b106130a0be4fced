"""DNS checks for email domains, apart from the rest of the pipeline and replayable.

One question per distinct domain: *can this domain receive mail?* One interface,
``Resolver.check_domains(domains) -> {domain: DomainResult}``, and four
implementations:

* ``LiveResolver``: asks DNS servers with dnspython's asyncio resolver, at most
  ``concurrency`` (default 64) questions in flight, ``timeout`` seconds per
  question and a total ``budget`` of seconds for the resolver's whole life (one
  run): once it is spent, the domains not yet settled are ``timeout`` without a
  query. It never picks a server by itself: the caller names them (``--dns-server``);
  ``"system"`` (the servers of ``/etc/resolv.conf``) is used only when named.
* ``CacheResolver``: answers from the ``dns_cache`` table of the DuckDB store (one
  row per domain and record type, with its TTL, negative answers included). A
  miss is ``not_checked`` when it has no fallback (``--dns cache``: no network),
  or is resolved by its fallback and written back (``--dns live``).
* ``ReplayResolver``: answers from a JSON file (ours, or email-validator's
  ``mocked-dns-answers.json``), for tests.
* ``OffResolver``: ``--dns off``, every domain ``not_checked``.

The decision (``_decide``, for every implementation; ``_decide_frame`` is its columnar
twin for cached answers, and the tests check that both agree)
---------------------------------------------------------------------------------------
1. MX. Records whose exchange is the root (``0 .``, RFC 7505 null MX) are set
   aside; if others remain the domain is ``ok`` with them (preference order);
   if only null MX records remain it is ``null_mx`` (does not accept mail).
2. No MX record (NODATA): the RFC 5321 implicit MX, A then AAAA. Like
   email-validator, only *globally reachable* addresses count (a private,
   loopback or link-local A record falls through to AAAA): a usable one gives
   ``no_mx_fallback_a`` (``fallback`` says ``A`` or ``AAAA``; ``mx`` is the
   implicit ``(0, domain)``); none gives ``no_dns_entries``.
3. NXDOMAIN at any step: ``no_dns_entries``. A timeout: ``timeout``; SERVFAIL,
   REFUSED or any other server failure: ``servfail``. Both are *unknown*
   (reason ``dns_timeout``), never undeliverable.

email-validator additionally rejects an implicit-MX domain whose SPF record is
``v=spf1 -all``; we do not ask for TXT records (one query fewer per such domain).

Names: the key of a domain is its lower-cased ASCII form (IDNA 2008/UTS 46
Punycode for a Unicode name, as email-validator's ``ascii_domain``) without a
trailing dot; the returned mapping is keyed by the strings the caller passed, so
``"Example.COM."`` and ``"example.com"`` are one key, asked once. A name that
cannot be a DNS name (empty or over-long labels, a bad IDN) is ``no_dns_entries``
without a query.

CNAMEs: dnspython follows the CNAME chain inside an answer. A chain that ends
outside what the answering server knows (an authoritative server gives the CNAME
alone) is chased by asking again for its target, at most ``_MAX_CHASE`` times.
A record set is stored under the name that was asked, with the smallest TTL of
the chain.

Cache expiry uses the wall clock (``now``, default ``datetime.now(UTC)``), not
the run's ``--as-of``: TTLs are about when an answer was fetched, and ``--as-of``
may lie years back for a reproducible rerun. So a rerun with the same
``--as-of`` can give other DNS verdicts once the answers it used have expired.
How long a row is used is decided when it is read: ``min_ttl <= TTL <= max_ttl``
for answers and negative answers (NXDOMAIN, NODATA: the SOA's negative TTL,
``min(SOA TTL, SOA minimum)`` as RFC 2308 says, or ``negative_ttl`` when the
answer had no SOA), and ``failure_ttl`` (default 300 s) for timeouts and server
failures, so ``--dns live`` then ``--dns cache`` shortly after give the same verdicts.

Each resolver remembers what it decided for its lifetime: make one per run, and
each distinct domain is asked once per run however many contacts or shards share it.

For a run, ``check_frame(resolver, domain_column)`` gives one row per distinct
domain (``results_frame``'s columns: status, reason, deliverable, source) to join
onto the contacts. Over a CacheResolver it decides the cached domains in SQL and
polars, without a Python object per domain (1M contacts over 50,000 cached domains:
well under a second, see bench/resolve.py); only the misses take the per-domain path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import idna
import polars as pl
import pyarrow as pa

from .errors import ListHygieneError

# -- vocabulary -----------------------------------------------------------------

OK: Final = "ok"
FALLBACK: Final = "no_mx_fallback_a"  # implicit MX (A or AAAA, see DomainResult.fallback)
NULL_MX: Final = "null_mx"
NO_DNS_ENTRIES: Final = "no_dns_entries"
TIMEOUT: Final = "timeout"
SERVFAIL: Final = "servfail"
NOT_CHECKED: Final = "not_checked"
STATUSES: Final = (OK, FALLBACK, NULL_MX, NO_DNS_ENTRIES, TIMEOUT, SERVFAIL, NOT_CHECKED)

REASONS: Final[Mapping[str, str | None]] = {
    OK: None,
    FALLBACK: None,
    NULL_MX: "does_not_accept_mail",
    NO_DNS_ENTRIES: "no_dns_entries",
    TIMEOUT: "dns_timeout",
    SERVFAIL: "dns_timeout",
    NOT_CHECKED: None,
}
"""The contract's ``verdict_reason`` for each status (None: DNS gives no reason)."""

DELIVERABLE: Final[Mapping[str, bool | None]] = {
    OK: True,
    FALLBACK: True,
    NULL_MX: False,
    NO_DNS_ENTRIES: False,
    TIMEOUT: None,
    SERVFAIL: None,
    NOT_CHECKED: None,
}
"""True: DNS says mail can be delivered; False: it cannot (invalid); None: unknown."""

MODES: Final = ("off", "cache", "live")
RDTYPES: Final = ("MX", "A", "AAAA")

# outcomes of one question (the ``dns_cache.outcome`` column)
ANSWER: Final = "answer"
NODATA: Final = "nodata"
NXDOMAIN: Final = "nxdomain"
OUTCOMES: Final = (ANSWER, NODATA, NXDOMAIN, TIMEOUT, SERVFAIL)

_MAX_CHASE: Final = 8
_FAILURES: Final = frozenset({TIMEOUT, SERVFAIL})


class DnsConfigError(ListHygieneError):
    """The DNS options cannot be used (no server for --dns live, a bad --dns-server)."""


class ReplayMissingError(ListHygieneError):
    """A strict ReplayResolver was asked a question its file does not answer."""


@dataclass(frozen=True, slots=True)
class DomainResult:
    """What DNS says about one domain.

    ``mx`` is ``((preference, host), ...)`` in preference order, hosts without the
    trailing dot; for an implicit MX it is ``((0, domain),)``. ``source`` is where
    the answer came from: ``live``, ``cache``, ``replay`` or ``off``."""

    domain: str
    status: str
    mx: tuple[tuple[int, str], ...] = ()
    source: str = "live"
    fallback: str | None = None  # "A" or "AAAA" when status is no_mx_fallback_a

    @property
    def reason(self) -> str | None:
        return REASONS[self.status]

    @property
    def deliverable(self) -> bool | None:
        return DELIVERABLE[self.status]


@dataclass(frozen=True, slots=True)
class RecordSet:
    """The outcome of one question (domain, rdtype): what the cache stores.

    ``ttl`` is the TTL as DNS gave it (the smallest along a CNAME chain; for a
    negative answer the SOA's negative TTL); None when DNS gave none (a failure,
    or a negative answer without an SOA)."""

    domain: str
    rdtype: str
    outcome: str
    answers: tuple[str, ...] = ()
    ttl: int | None = None


@runtime_checkable
class Resolver(Protocol):
    def check_domains(self, domains: Iterable[str | None]) -> dict[str, DomainResult]:
        """One result per distinct input string (None entries are skipped)."""
        ...


# -- names ----------------------------------------------------------------------


def domain_key(domain: str) -> str | None:
    """The cache key of a domain: lower-case ASCII, Punycode for IDNs, no trailing dot.

    None when the text cannot be a DNS name."""
    name = domain.strip().rstrip(".")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    name = name.lower()
    if not name or len(name) > 253:
        return None
    if any(not 0 < len(label) <= 63 for label in name.split(".")):
        return None
    return name


def _keys(domains: Iterable[str | None]) -> dict[str, str | None]:
    keys: dict[str, str | None] = {}
    for d in domains:
        if d is not None and d not in keys:
            keys[d] = domain_key(d)
    return keys


def _pending(keys: Mapping[str, str | None], memo: Mapping[str, DomainResult]) -> list[str]:
    return [k for k in dict.fromkeys(keys.values()) if k is not None and k not in memo]


def _by_input(
    keys: Mapping[str, str | None], memo: Mapping[str, DomainResult], source: str
) -> dict[str, DomainResult]:
    out: dict[str, DomainResult] = {}
    for text, key in keys.items():
        if key is None:
            out[text] = DomainResult(text.strip().lower(), NO_DNS_ENTRIES, source=source)
        else:
            out[text] = memo[key]
    return out


def parse_dns_server(text: str) -> tuple[str, int | None]:
    """``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address -> (host, port or None).

    HOST must be an IP address (no name lookup happens to find a DNS server)."""
    spec = text.strip()
    host, port = spec, None
    if spec.startswith("["):
        close = spec.find("]")
        rest = spec[close + 1 :] if close > 0 else "?"
        if close < 0 or (rest and not rest.startswith(":")):
            raise DnsConfigError(f"The DNS server '{text}' is not HOST, HOST:PORT or [IPv6]:PORT.")
        host, port_text = spec[1:close], rest[1:] or None
        port = _port(text, port_text) if port_text is not None else None
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = _port(text, port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise DnsConfigError(
            f"The DNS server '{text}' is not an IP address. Give the address of the server "
            "to ask, e.g. 127.0.0.1:5353 or [::1]:53."
        ) from None
    return host, port


def _port(text: str, port_text: str) -> int:
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DnsConfigError(f"The DNS server '{text}' has no valid port (1-65535).")
    return int(port_text)


def _system_nameservers() -> list[str]:
    try:
        servers = dns.resolver.Resolver(configure=True).nameservers
    except dns.exception.DNSException as exc:
        raise DnsConfigError(f"The system has no usable DNS configuration ({exc}).") from None
    return [str(s) for s in servers]


# -- the decision ---------------------------------------------------------------

_Reply = tuple[str, Sequence[str]]  # (outcome, answers)
_Decision = tuple[str, tuple[tuple[int, str], ...], str | None]  # (status, mx, fallback)


def _decide(domain: str) -> Generator[str, _Reply, _Decision]:
    """Yields the record types it needs, one at a time; is sent (outcome, answers)."""
    outcome, answers = yield "MX"
    if outcome == ANSWER:
        hosts = sorted(_parse_mx(a) for a in answers)
        real = tuple(h for h in hosts if h[1])
        return (OK, real, None) if real else (NULL_MX, (), None)
    if outcome != NODATA:
        return _terminal(outcome), (), None
    for rdtype in ("A", "AAAA"):
        outcome, answers = yield rdtype
        if outcome == ANSWER and any(_is_global(a) for a in answers):
            return FALLBACK, ((0, domain),), rdtype
        if outcome not in (ANSWER, NODATA):
            return _terminal(outcome), (), None
    return NO_DNS_ENTRIES, (), None


def _terminal(outcome: str) -> str:
    return {NXDOMAIN: NO_DNS_ENTRIES, TIMEOUT: TIMEOUT}.get(outcome, SERVFAIL)


_MX_TEXT = re.compile(r"\s*([0-9]+)\s+(\S*)")


def _parse_mx(text: str) -> tuple[int, str]:
    """``"10 mx.example.net."`` -> ``(10, "mx.example.net")``; a null MX (or text that is
    not an MX record) has the host ``""``. ``_MX_HOST_SQL`` is the same rule in SQL."""
    m = _MX_TEXT.match(text)
    if m is None:
        return 0, ""
    return int(m.group(1)), m.group(2).rstrip(".").lower()


@lru_cache(maxsize=65536)
def _is_global(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def _decide_with(domain: str, lookup: Callable[[str], _Reply | None]) -> _Decision | None:
    """Runs the decision over answers at hand; None as soon as one is missing."""
    gen = _decide(domain)
    rdtype = next(gen)
    while True:
        reply = lookup(rdtype)
        if reply is None:
            gen.close()
            return None
        try:
            rdtype = gen.send(reply)
        except StopIteration as stop:
            return stop.value


def _result(domain: str, decision: _Decision, source: str) -> DomainResult:
    status, mx, fallback = decision
    return DomainResult(domain, status, mx, source, fallback)


# -- off ------------------------------------------------------------------------


class OffResolver:
    """``--dns off``: every domain is ``not_checked``, nothing is asked."""

    source = "off"

    def check_domains(self, domains: Iterable[str | None]) -> dict[str, DomainResult]:
        keys = _keys(domains)
        return {
            text: DomainResult(key or text.strip().lower(), NOT_CHECKED, source="off")
            for text, key in keys.items()
        }


# -- live -----------------------------------------------------------------------


def _run_sync(make: Callable[[], Any]) -> Any:
    """Runs a coroutine to completion; on a helper thread if this one has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(1) as pool:  # e.g. inside a notebook
        return pool.submit(lambda: asyncio.run(make())).result()


class _CountingNameserver(dns.nameserver.Do53Nameserver):
    """A Do53 server that counts what is sent to it (one per packet, retries included)."""

    def __init__(self, owner: LiveResolver, address: str, port: int):
        super().__init__(address, port)
        self._owner = owner

    async def async_query(self, *args: Any, **kwargs: Any) -> dns.message.Message:
        owner = self._owner
        owner.queries += 1
        owner.in_flight += 1
        owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            return await super().async_query(*args, **kwargs)
        finally:
            owner.in_flight -= 1


class LiveResolver:
    """Asks DNS servers (dnspython's asyncio resolver), never the system's unless told.

    ``nameservers``: IP addresses, each optionally ``:PORT`` (``[v6]:PORT``), or
    ``"system"`` for the servers of ``/etc/resolv.conf``. ``port`` is the port of
    those without one. ``timeout``: seconds one question may take in all (a try
    without reply after half of it is sent again, to the next server when there
    are several). ``budget``: seconds all questions of this resolver may take; the
    domains still open then are ``timeout`` (counted in ``budget_cut``).

    Counters: ``queries`` (packets sent, retries included), ``questions``
    (questions asked), ``max_in_flight`` (most packets awaiting a reply at once)."""

    source = "live"

    def __init__(
        self,
        nameservers: Sequence[str] | str,
        port: int = 53,
        concurrency: int = 64,
        timeout: float = 2.0,
        budget: float = 60.0,
    ):
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        servers: list[tuple[str, int]] = []
        for spec in nameservers:
            if spec.strip().lower() == "system":
                servers += [(host, port) for host in _system_nameservers()]
                continue
            host, own_port = parse_dns_server(spec)
            servers.append((host, own_port or port))
        if not servers:
            raise DnsConfigError(
                "--dns live needs a DNS server to ask: give --dns-server HOST[:PORT] "
                "(or --dns-server system for the servers of /etc/resolv.conf)."
            )
        if concurrency < 1 or not timeout > 0 or not budget >= 0:
            raise DnsConfigError(
                "The DNS concurrency must be at least 1, the timeout more than 0 seconds and "
                "the budget at least 0."
            )
        self.nameservers = servers
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.budget = float(budget)
        self.budget_left = float(budget)
        self.queries = 0
        self.questions = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.budget_cut = 0
        self._memo: dict[str, DomainResult] = {}

    def check_domains(self, domains: Iterable[str | None]) -> dict[str, DomainResult]:
        return self.check_with_records(domains)[0]

    def check_with_records(
        self, domains: Iterable[str | None]
    ) -> tuple[dict[str, DomainResult], list[RecordSet]]:
        """Like check_domains, plus every record set learned (what a cache stores).

        Record sets of questions that the budget cut short are left out."""
        keys = _keys(domains)
        todo = _pending(keys, self._memo)
        records: list[RecordSet] = []
        if todo:
            decided, records = _run_sync(lambda: self._resolve_all(todo))
            for name, decision in decided.items():
                self._memo[name] = _result(name, decision, self.source)
        return _by_input(keys, self._memo, self.source), records

    def _make_resolver(self) -> dns.asyncresolver.Resolver:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [_CountingNameserver(self, h, p) for h, p in self.nameservers]
        resolver.timeout = self.timeout / 2
        resolver.lifetime = self.timeout
        resolver.cache = None
        return resolver

    async def _resolve_all(self, names: list[str]) -> tuple[dict[str, _Decision], list[RecordSet]]:
        resolver = self._make_resolver()
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + max(self.budget_left, 0.0)
        decided: dict[str, _Decision] = {}
        records: list[RecordSet] = []
        queue = iter(names)  # shared by the workers: one event loop, no locking needed

        async def worker() -> None:
            for name in queue:
                decided[name] = await self._check_one(resolver, name, deadline, records)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(names)))))
        finally:
            self.budget_left -= loop.time() - start
        return decided, records

    async def _check_one(
        self,
        resolver: dns.asyncresolver.Resolver,
        name: str,
        deadline: float,
        records: list[RecordSet],
    ) -> _Decision:
        loop = asyncio.get_running_loop()
        gen = _decide(name)
        rdtype = next(gen)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                gen.close()
                self.budget_cut += 1
                return TIMEOUT, (), None
            lifetime = min(self.timeout, remaining)
            rs = await self._lookup(resolver, name, rdtype, lifetime)
            if rs.outcome != TIMEOUT or lifetime >= self.timeout:
                records.append(rs)  # a question the budget cut short is no answer to keep
            try:
                rdtype = gen.send((rs.outcome, rs.answers))
            except StopIteration as stop:
                return stop.value

    async def _lookup(
        self, resolver: dns.asyncresolver.Resolver, name: str, rdtype: str, lifetime: float
    ) -> RecordSet:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            return RecordSet(name, rdtype, NXDOMAIN)
        seen = {qname}
        chain_ttl: int | None = None
        for _ in range(_MAX_CHASE + 1):
            self.questions += 1
            try:
                ans = await resolver.resolve(
                    qname, rdtype, raise_on_no_answer=False, lifetime=lifetime, search=False
                )
            except dns.resolver.NXDOMAIN as exc:
                responses = list(exc.responses().values())
                ttl = _negative_ttl(responses[0]) if responses else None
                return RecordSet(name, rdtype, NXDOMAIN, (), _min_ttl(ttl, chain_ttl))
            except dns.exception.Timeout:
                return RecordSet(name, rdtype, TIMEOUT)
            except dns.exception.DNSException:  # NoNameservers (SERVFAIL, REFUSED), bad replies
                return RecordSet(name, rdtype, SERVFAIL)
            if ans.rrset is not None:
                answers = tuple(sorted(r.to_text() for r in ans.rrset))
                ttl = _min_ttl(ans.chaining_result.minimum_ttl, chain_ttl)
                return RecordSet(name, rdtype, ANSWER, answers, ttl)
            canonical = ans.canonical_name
            negative = _negative_ttl(ans.response)
            if canonical in seen or negative is not None:  # a NODATA (with its SOA)
                return RecordSet(name, rdtype, NODATA, (), _min_ttl(negative, chain_ttl))
            # A CNAME chain ending at a name the server said nothing about (an authoritative
            # server for the first name only): ask for that name.
            seen.add(canonical)
            for cname in ans.chaining_result.cnames:
                chain_ttl = _min_ttl(cname.ttl, chain_ttl)
            qname = canonical
        return RecordSet(name, rdtype, SERVFAIL)  # CNAME chain too long


def _negative_ttl(response: dns.message.Message | None) -> int | None:
    """RFC 2308: min(SOA TTL, SOA minimum) of the SOA in the authority section."""
    if response is None:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(min(rrset.ttl, rrset[0].minimum))
    return None


def _min_ttl(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


# -- cache ----------------------------------------------------------------------

_FRESH_SQL = """c.fetched_at + to_seconds(CASE
        WHEN c.outcome IN ('timeout', 'servfail') THEN $failure_ttl
        ELSE least(greatest(coalesce(c.ttl, $negative_ttl), $min_ttl), $max_ttl)
    END) > $now"""

_READ_SQL = f"""
SELECT c.domain, c.rdtype, c.outcome, c.answers
FROM dns_cache c SEMI JOIN _lh_dns_wanted w ON c.domain = w.domain
WHERE {_FRESH_SQL}
"""

# _parse_mx in SQL: the host of an MX text, '' for a null MX
_MX_HOST_SQL = r"rtrim(regexp_extract(a, '^\s*[0-9]+\s+(\S*)', 1), '.')"
_MX_PREF_SQL = r"CAST(regexp_extract(a, '^\s*([0-9]+)', 1) AS INTEGER)"
_MX_REAL_SQL = f"list_filter(c.answers, lambda a: {_MX_HOST_SQL} <> '')"

# CacheResolver.check_frame reads every fresh row of the wanted domains at once and
# decides in polars (_decide's rules, columnar): mx_real says an MX answer has a host
# other than the root; addresses are the A/AAAA answers.
_FRAME_ROWS_SQL = f"""
SELECT c.domain AS dns_domain, c.rdtype, c.outcome,
    CASE WHEN c.rdtype = 'MX' AND c.outcome = 'answer' THEN len({_MX_REAL_SQL}) > 0 END
        AS mx_real,
    CASE WHEN c.rdtype <> 'MX' AND c.outcome = 'answer' THEN c.answers END AS addresses{{mx}}
FROM dns_cache c SEMI JOIN _lh_dns_wanted w ON c.domain = w.domain
WHERE c.rdtype IN ('MX', 'A', 'AAAA') AND {_FRESH_SQL}
"""
_MX_LIST_SQL = (
    f",\n    CASE WHEN c.rdtype = 'MX' AND c.outcome = 'answer' THEN list_transform(list_sort("
    f"list_transform({_MX_REAL_SQL}, lambda a: struct_pack(p := {_MX_PREF_SQL}, "
    f"h := lower({_MX_HOST_SQL})))), lambda m: m.h) END AS dns_mx"
)

_WRITE_SQL = (
    "INSERT OR REPLACE INTO dns_cache (domain, rdtype, outcome, answers, ttl, fetched_at) "
    "SELECT domain, rdtype, outcome, answers, ttl, fetched_at FROM _lh_dns_new"
)


def _utc_naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class CacheResolver:
    """Answers from the store's ``dns_cache`` table; misses go to ``fallback`` or are unknown.

    ``store`` is a ``Store`` (or a DuckDB connection with the table). ``now`` is the
    clock TTLs are measured with (default: the wall clock, not ``--as-of``).
    Expiry, applied when a row is read: answers and negative answers live
    ``clamp(ttl, min_ttl, max_ttl)`` seconds (``negative_ttl`` when a negative
    answer had no SOA); timeouts and server failures ``failure_ttl`` seconds.

    Counters: ``hits`` and ``misses`` (distinct domains)."""

    source = "cache"

    def __init__(
        self,
        store: Any,
        fallback: Resolver | None = None,
        now: Callable[[], datetime] | None = None,
        *,
        min_ttl: int = 0,
        max_ttl: int = 7 * 86400,
        negative_ttl: int = 3600,
        failure_ttl: int = 300,
    ):
        self.con = getattr(store, "con", store)
        self.fallback = fallback
        self.now = now or _wall_clock
        self.min_ttl = int(min_ttl)
        self.max_ttl = int(max_ttl)
        self.negative_ttl = int(negative_ttl)
        self.failure_ttl = int(failure_ttl)
        self.hits = 0
        self.misses = 0
        self._memo: dict[str, DomainResult] = {}

    def check_domains(self, domains: Iterable[str | None]) -> dict[str, DomainResult]:
        keys = _keys(domains)
        todo = _pending(keys, self._memo)
        if todo:
            cached = self.read(todo)
            misses: list[str] = []
            memo = self._memo
            for name in todo:
                got = cached.get(name)
                decision = None if got is None else _decide_with(name, got.get)
                if decision is None:
                    misses.append(name)
                else:
                    status, mx, fallback = decision
                    memo[name] = DomainResult(name, status, mx, "cache", fallback)
            self.hits += len(todo) - len(misses)
            self.misses += len(misses)
            if misses:
                self._resolve_misses(misses)
        return _by_input(keys, self._memo, self.source)

    def _resolve_misses(self, misses: list[str]) -> None:
        if self.fallback is None:
            for name in misses:
                self._memo[name] = DomainResult(name, NOT_CHECKED, source="cache")
            return
        with_records = getattr(self.fallback, "check_with_records", None)
        if with_records is not None:
            results, records = with_records(misses)
            self.write(records)
        else:  # a fallback that cannot tell its record sets: nothing to store
            results = self.fallback.check_domains(misses)
        for name in misses:
            self._memo[name] = results[name]

    def _params(self) -> dict[str, Any]:
        return {
            "failure_ttl": self.failure_ttl,
            "negative_ttl": self.negative_ttl,
            "min_ttl": self.min_ttl,
            "max_ttl": self.max_ttl,
            "now": _utc_naive(self.now()),
        }

    def _query(self, sql: str, names: Sequence[str] | pl.Series) -> pa.Table:
        if isinstance(names, pl.Series):
            column = names.cast(pl.String).to_arrow()
        else:
            column = pa.array(names, pa.string())
        wanted = pa.table({"domain": column})
        self.con.register("_lh_dns_wanted", wanted)
        try:
            rel = self.con.sql(sql, params=self._params())
            fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # DuckDB 2 / 1.x
            return fetch()
        finally:
            self.con.unregister("_lh_dns_wanted")

    def read(self, names: Sequence[str]) -> dict[str, dict[str, _Reply]]:
        """The unexpired rows for these keys: {domain: {rdtype: (outcome, answers)}}."""
        table = self._query(_READ_SQL, names)
        out: dict[str, dict[str, _Reply]] = {}
        for domain, rdtype, outcome, answers in zip(
            *(table.column(i).to_pylist() for i in range(4)), strict=True
        ):
            per = out.get(domain)
            if per is None:
                per = out[domain] = {}
            per[rdtype] = (outcome, answers)
        return out

    def check_frame(self, domains: Iterable[str | None], *, with_mx: bool = False) -> pl.DataFrame:
        """``check_domains`` as a frame (see ``results_frame``), columnar: the cached
        domains are decided in SQL and polars without a Python object each; only the
        misses go through ``check_domains`` (the fallback, or not_checked). The tests
        check that both paths agree."""
        keys = _key_frame(domains)
        wanted = keys["dns_domain"].drop_nulls().unique()
        rows = pl.from_arrow(
            self._query(_FRAME_ROWS_SQL.format(mx=_MX_LIST_SQL if with_mx else ""), wanted)
        )
        assert isinstance(rows, pl.DataFrame)
        decided = _decide_frame(wanted, rows, with_mx)
        hit = decided.filter(pl.col("dns_status").is_not_null())
        self.hits += hit.height
        missed = decided.filter(pl.col("dns_status").is_null())["dns_domain"]
        slow = results_frame(self.check_domains(missed.to_list()), with_mx=with_mx)
        cols = ["dns_domain", "dns_status", "dns_source", *(["dns_mx"] if with_mx else [])]
        per_key = pl.concat(
            [hit.with_columns(dns_source=pl.lit("cache")).select(cols), slow.select(cols)],
            how="vertical_relaxed",
        )
        return _finish_frame(keys, per_key, self.source, with_mx)

    def write(self, records: Iterable[RecordSet]) -> int:
        """Stores record sets (the last one per domain and type wins); returns how many."""
        latest = {(r.domain, r.rdtype): r for r in records}
        if not latest:
            return 0
        rows = list(latest.values())
        fetched = _utc_naive(self.now())
        frame = pa.table(
            {
                "domain": pa.array([r.domain for r in rows], pa.string()),
                "rdtype": pa.array([r.rdtype for r in rows], pa.string()),
                "outcome": pa.array([r.outcome for r in rows], pa.string()),
                "answers": pa.array([list(r.answers) for r in rows], pa.list_(pa.string())),
                "ttl": pa.array([r.ttl for r in rows], pa.int32()),
                "fetched_at": pa.array([fetched] * len(rows), pa.timestamp("us")),
            }
        )
        self.con.register("_lh_dns_new", frame)
        try:
            self.con.execute(_WRITE_SQL)
        finally:
            self.con.unregister("_lh_dns_new")
        return len(rows)


# -- replay ---------------------------------------------------------------------


class ReplayResolver:
    """Answers from a JSON file or an equivalent object, for tests.

    Two formats are read:

    * ours: ``{"domains": {NAME: ENTRY}}`` where ENTRY is ``"NXDOMAIN"``,
      ``"TIMEOUT"`` or ``"SERVFAIL"`` (for every question about NAME), or
      ``{RDTYPE: ANSWER}`` with ANSWER a list of records in presentation format
      (``[]``: no such record, NODATA), one of those three words, or
      ``{"answers": [...], "ttl": N}``. ``export_replay`` writes it from a cache.
    * email-validator's ``mocked-dns-answers.json``: a list of
      ``{"query": {"name", "type", "class"}, "answer": [...]}``; an empty answer is
      NODATA, and an empty ``ANY`` answer makes the name NXDOMAIN.

    A question the data does not answer makes the domain ``not_checked``, or raises
    ``ReplayMissingError`` when ``strict``. ``questions`` counts questions asked."""

    source = "replay"

    def __init__(
        self,
        source: str | Path | Mapping[str, Any] | list[Any],
        *,
        default_ttl: int = 3600,
        strict: bool = False,
    ):
        data: Any = source
        if isinstance(source, str | Path):
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        self.default_ttl = default_ttl
        self.strict = strict
        self.questions = 0
        self._sets: dict[tuple[str, str], RecordSet] = {}
        self._whole: dict[str, str] = {}  # name -> outcome for every question
        self._memo: dict[str, DomainResult] = {}
        if isinstance(data, list):
            self._load_email_validator(data)
        elif isinstance(data, Mapping) and isinstance(data.get("domains"), Mapping):
            self._load_ours(data["domains"])
        else:
            raise ValueError(
                "The replay data is neither {'domains': {...}} nor email-validator's list of "
                "{'query': ..., 'answer': [...]}."
            )

    def _load_email_validator(self, items: list[Any]) -> None:
        for item in items:
            query = item["query"]
            name = domain_key(str(query["name"]))
            rdtype = str(query["type"]).upper()
            answers = tuple(str(a) for a in item["answer"])
            if name is None or str(query.get("class", "IN")).upper() != "IN":
                continue
            if rdtype == "ANY":
                if not answers:
                    self._whole[name] = NXDOMAIN
                continue
            self._put(name, rdtype, ANSWER if answers else NODATA, answers, None)

    def _load_ours(self, domains: Mapping[str, Any]) -> None:
        for raw_name, entry in domains.items():
            name = domain_key(raw_name)
            if name is None:
                raise ValueError(f"The replay data has a name that is not a domain: {raw_name!r}.")
            if isinstance(entry, str):
                self._whole[name] = _outcome_word(entry)
                continue
            for rdtype, value in entry.items():
                ttl = None
                if isinstance(value, Mapping):
                    ttl, value = value.get("ttl"), value.get("answers", [])
                if isinstance(value, str):
                    self._put(name, rdtype.upper(), _outcome_word(value), (), ttl)
                else:
                    answers = tuple(str(a) for a in value)
                    self._put(name, rdtype.upper(), ANSWER if answers else NODATA, answers, ttl)

    def _put(self, name: str, rdtype: str, outcome: str, answers: tuple[str, ...], ttl: Any):
        if outcome in _FAILURES:
            ttl = None
        elif ttl is None:
            ttl = self.default_ttl
        self._sets[(name, rdtype)] = RecordSet(name, rdtype, outcome, answers, ttl)

    def _lookup(self, name: str, rdtype: str) -> RecordSet | None:
        self.questions += 1
        found = self._sets.get((name, rdtype))
        if found is not None:
            return found
        whole = self._whole.get(name)
        if whole is not None:
            ttl = None if whole in _FAILURES else self.default_ttl
            return RecordSet(name, rdtype, whole, (), ttl)
        if self.strict:
            raise ReplayMissingError(f"The replay data has no answer for {name} {rdtype}.")
        return None

    def check_domains(self, domains: Iterable[str | None]) -> dict[str, DomainResult]:
        return self.check_with_records(domains)[0]

    def check_with_records(
        self, domains: Iterable[str | None]
    ) -> tuple[dict[str, DomainResult], list[RecordSet]]:
        keys = _keys(domains)
        records: list[RecordSet] = []
        for name in _pending(keys, self._memo):

            def lookup(rdtype: str, name: str = name) -> _Reply | None:
                rs = self._lookup(name, rdtype)
                if rs is None:
                    return None
                records.append(rs)
                return rs.outcome, rs.answers

            decision = _decide_with(name, lookup)
            if decision is None:
                self._memo[name] = DomainResult(name, NOT_CHECKED, source=self.source)
            else:
                self._memo[name] = _result(name, decision, self.source)
        return _by_input(keys, self._memo, self.source), records


def _outcome_word(word: str) -> str:
    outcome = word.strip().lower()
    if outcome not in (NXDOMAIN, TIMEOUT, SERVFAIL):
        raise ValueError(f"The replay data has {word!r} where NXDOMAIN, TIMEOUT or SERVFAIL fit.")
    return outcome


def export_replay(store: Any, path: str | Path | None = None) -> dict[str, Any]:
    """The cache as replay data (our format, every row, expired ones too); written when
    ``path`` is given. Together with ReplayResolver this turns a live run into a test."""
    con = getattr(store, "con", store)
    domains: dict[str, dict[str, Any]] = {}
    for domain, rdtype, outcome, answers, ttl in con.execute(
        "SELECT domain, rdtype, outcome, answers, ttl FROM dns_cache ORDER BY domain, rdtype"
    ).fetchall():
        value: Any = outcome.upper() if outcome not in (ANSWER, NODATA) else list(answers)
        if ttl is not None and outcome not in _FAILURES:
            value = {"answers": value, "ttl": ttl} if isinstance(value, list) else value
        domains.setdefault(domain, {})[rdtype] = value
    data = {"format": "listhygiene-dns-replay", "version": 1, "domains": domains}
    if path is not None:
        Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return data


# -- the factory and the frame the verdict stage joins --------------------------


def resolver_for(
    mode: str,
    store: Any = None,
    nameservers: Sequence[str] | str | None = None,
    port: int = 53,
    *,
    concurrency: int = 64,
    timeout: float = 2.0,
    budget: float = 60.0,
    replay: str | Path | Mapping[str, Any] | list[Any] | None = None,
    now: Callable[[], datetime] | None = None,
    **cache_policy: int,
) -> Resolver:
    """The resolver for ``--dns MODE``; make one per run.

    * ``off``: OffResolver.
    * ``cache``: CacheResolver over ``store`` without fallback (no network at all).
    * ``live``: CacheResolver over ``store`` with a LiveResolver fallback asking
      ``nameservers`` (required; ``port`` for those without one); a LiveResolver
      alone when ``store`` is None.
    * ``replay``: ReplayResolver(``replay``), behind the cache when ``store`` is given.

    ``cache_policy``: ``min_ttl``, ``max_ttl``, ``negative_ttl``, ``failure_ttl``."""
    mode = mode.strip().lower()
    if mode == "off":
        return OffResolver()
    if mode == "replay":
        if replay is None:
            raise DnsConfigError("--dns replay needs a replay file.")
        rep = ReplayResolver(replay)
        return rep if store is None else CacheResolver(store, rep, now, **cache_policy)
    if mode == "cache":
        if store is None:
            raise DnsConfigError("--dns cache needs the store (--db) that holds the DNS cache.")
        return CacheResolver(store, None, now, **cache_policy)
    if mode == "live":
        if not nameservers:
            raise DnsConfigError(
                "--dns live needs a DNS server to ask: give --dns-server HOST[:PORT] "
                "(or --dns-server system for the servers of /etc/resolv.conf)."
            )
        live = LiveResolver(nameservers, port, concurrency, timeout, budget)
        return live if store is None else CacheResolver(store, live, now, **cache_policy)
    raise DnsConfigError(f"--dns must be one of off, cache or live, not '{mode}'.")


RESULT_SCHEMA: Final = {
    "domain": pl.String,
    "dns_domain": pl.String,
    "dns_status": pl.String,
    "dns_reason": pl.String,
    "dns_deliverable": pl.Boolean,
    "dns_source": pl.String,
}
"""The columns of ``results_frame`` and ``check_frame``; ``dns_mx`` (List[String]) follows
when asked for with ``with_mx=True``."""


def results_frame(results: Mapping[str, DomainResult], *, with_mx: bool = False) -> pl.DataFrame:
    """One row per input domain string (the keys of ``results``), to join onto contacts by
    their domain column. ``dns_mx`` lists the mail hosts in preference order."""
    items = list(results.items())
    columns: dict[str, list[Any]] = {
        "domain": [k for k, _ in items],
        "dns_domain": [r.domain for _, r in items],
        "dns_status": [r.status for _, r in items],
        "dns_reason": [REASONS[r.status] for _, r in items],
        "dns_deliverable": [DELIVERABLE[r.status] for _, r in items],
        "dns_source": [r.source for _, r in items],
    }
    schema: dict[str, Any] = dict(RESULT_SCHEMA)
    if with_mx:
        columns["dns_mx"] = [[h for _, h in r.mx] for _, r in items]
        schema["dns_mx"] = pl.List(pl.String)
    return pl.DataFrame(columns, schema=schema)


def check_frame(
    resolver: Resolver, domains: Iterable[str | None], *, with_mx: bool = False
) -> pl.DataFrame:
    """The DNS results for a column of domains, one row per distinct non-null value, as
    ``results_frame``: what the verdict stage joins onto its contacts. Columnar for a
    CacheResolver (see ``CacheResolver.check_frame``); any other resolver goes through
    ``check_domains``."""
    if isinstance(resolver, CacheResolver):
        return resolver.check_frame(domains, with_mx=with_mx)
    values = pl.Series("domain", domains, dtype=pl.String).drop_nulls().unique()
    return results_frame(resolver.check_domains(values.to_list()), with_mx=with_mx)


def _decide_frame(wanted: pl.Series, rows: pl.DataFrame, with_mx: bool) -> pl.DataFrame:
    """``_decide`` over cached rows, columnar: dns_domain, dns_status (null: a row that
    the decision needs is missing) and, with_mx, dns_mx."""
    addresses = rows["addresses"].explode().drop_nulls().unique()
    usable = dict(zip(addresses.to_list(), map(_is_global, addresses.to_list()), strict=True))
    rows = rows.with_columns(
        usable=pl.col("addresses")
        .list.eval(pl.element().replace_strict(usable, default=False, return_dtype=pl.Boolean))
        .list.any()
    )
    mx_cols = ["dns_mx"] if with_mx else []
    mx = rows.filter(pl.col("rdtype") == "MX").select(
        "dns_domain", pl.col("outcome").alias("mx"), "mx_real", *mx_cols
    )
    frame = wanted.to_frame().join(mx, on="dns_domain", how="left")
    for rdtype in ("A", "AAAA"):
        part = rows.filter(pl.col("rdtype") == rdtype).select(
            "dns_domain", pl.col("outcome").alias(rdtype), pl.col("usable").alias(rdtype + "_ok")
        )
        frame = frame.join(part, on="dns_domain", how="left")

    def step(outcome: str, then: pl.Expr, otherwise: pl.Expr) -> pl.Expr:
        col = pl.col(outcome)
        return (
            pl.when(col.is_null())
            .then(pl.lit(None, pl.String))  # not cached: a miss
            .when(col == NXDOMAIN)
            .then(pl.lit(NO_DNS_ENTRIES))
            .when(col.is_in(list(_FAILURES)))
            .then(col)
            .when((col == ANSWER) & pl.col(outcome + "_ok"))
            .then(then)
            .otherwise(otherwise)
        )

    after_a = step("A", pl.lit(FALLBACK), step("AAAA", pl.lit(FALLBACK), pl.lit(NO_DNS_ENTRIES)))
    status = (
        pl.when(pl.col("mx") == ANSWER)
        .then(pl.when(pl.col("mx_real")).then(pl.lit(OK)).otherwise(pl.lit(NULL_MX)))
        .when(pl.col("mx") == NODATA)
        .then(after_a)
        .when(pl.col("mx") == NXDOMAIN)
        .then(pl.lit(NO_DNS_ENTRIES))
        .when(pl.col("mx").is_in(list(_FAILURES)))
        .then(pl.col("mx"))
    )
    out = frame.with_columns(dns_status=status)
    if with_mx:
        implicit = pl.concat_list(pl.col("dns_domain"))
        out = out.with_columns(
            dns_mx=pl.when(pl.col("dns_status") == FALLBACK)
            .then(implicit)
            .when(pl.col("dns_status") == OK)
            .then(pl.col("dns_mx"))
            .otherwise(pl.lit([], pl.List(pl.String)))
        )
    return out.select("dns_domain", "dns_status", *mx_cols)


# an ASCII name the vectorized key needs no Python for (domain_key agrees: tested)
_PLAIN_NAME = r"^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?$"


def _key_frame(domains: Iterable[str | None]) -> pl.DataFrame:
    """domain (each distinct non-null input) -> dns_domain (``domain_key``, or null) and
    _shown (for a null key: the name a result shows, as ``_by_input`` makes it)."""
    values = pl.Series("domain", domains, dtype=pl.String).drop_nulls().unique()
    key = pl.col("domain").str.strip_chars_end(".").str.to_lowercase()
    plain = pl.col("domain").str.contains(_PLAIN_NAME) & (key.str.len_bytes() <= 253)
    frame = values.to_frame().with_columns(
        dns_domain=pl.when(plain).then(key),
        _shown=pl.lit(None, pl.String),
        _plain=plain.fill_null(False),
    )
    odd = frame.filter(~pl.col("_plain"))["domain"].to_list()
    if odd:  # non-ASCII, spaces, odd characters, over-long: Python decides
        keys = [domain_key(d) for d in odd]
        shown = [d.strip().lower() if k is None else None for d, k in zip(odd, keys, strict=True)]
        fixed = pl.DataFrame(
            {"domain": odd, "_key": keys, "_shown_odd": shown},
            schema={"domain": pl.String, "_key": pl.String, "_shown_odd": pl.String},
        )
        frame = frame.join(fixed, on="domain", how="left").with_columns(
            dns_domain=pl.coalesce("dns_domain", "_key"), _shown=pl.col("_shown_odd")
        )
    return frame.select("domain", "dns_domain", "_shown")


def _finish_frame(
    keys: pl.DataFrame, per_key: pl.DataFrame, source: str, with_mx: bool
) -> pl.DataFrame:
    invalid = pl.col("dns_domain").is_null()
    out = keys.join(per_key, on="dns_domain", how="left").with_columns(
        dns_status=pl.when(invalid).then(pl.lit(NO_DNS_ENTRIES)).otherwise("dns_status"),
        dns_source=pl.when(invalid).then(pl.lit(source)).otherwise("dns_source"),
        dns_domain=pl.coalesce("dns_domain", "_shown"),
    )
    out = out.with_columns(
        dns_reason=pl.col("dns_status").replace_strict(dict(REASONS), return_dtype=pl.String),
        dns_deliverable=pl.col("dns_status").replace_strict(
            dict(DELIVERABLE), return_dtype=pl.Boolean
        ),
    )
    if with_mx:
        out = out.with_columns(pl.col("dns_mx").fill_null([]))
    cols = [*RESULT_SCHEMA, *(["dns_mx"] if with_mx else [])]
    return out.select(cols)
