"""Address flags (role account, disposable, free provider, typo suggestion) and the verdict.

Two stages, both vectorized polars; the per-domain work runs once per *distinct* domain:

``address_flags(emails, rules)`` takes validated addresses (``email``, ``email_key``,
optionally ``domain``) and adds ``role_account``, ``disposable``, ``free_provider``
(Boolean) and ``did_you_mean`` (String, the full suggested address). A row whose
``email`` is null (a syntax failure that reached this stage) gets null in all four.

``verdicts(frame, rules)`` takes those flags plus the DNS outcome (``dns_reason``,
``dns_checked``) and the contact ``status``, and adds ``verdict`` (``valid | risky |
invalid | unknown``) and ``verdict_reason`` (the contract's reasons, or null).

The lists, the typo rule and the verdict policy are rules, in
``rules/deliverability.toml``; ``docs/deliverability.md`` is the user's page. In short:

Domains
    The part of ``email_key`` after its last ``@`` (or the ``domain`` column when the
    frame has one), lower-cased, in ASCII (IDNA) form for internationalized domains.
    Every list compares this form.

Role accounts
    The local part of ``email_key`` (so case never matters), with everything from the
    first ``+`` removed when ``strip_plus_tag`` is true (``info+news@`` is ``info@``),
    is in the union of the bundled lists named in ``[role] lists``, plus ``add``, minus
    ``remove`` (``remove`` wins).

Disposable domains
    Sources: ``[disposable] deny`` / ``allow`` in the rules, then the maintained
    ``disposable-email-domains`` package (its ``blocklist`` and ``allowlist``). A list
    entry also covers its subdomains when ``match_subdomains`` is true. Precedence:
    an entry of the rules beats the package; between ``deny`` and ``allow`` the most
    specific entry (the longest matching domain) wins, and one domain in both is a
    rules error; within the package the allowlist beats the blocklist.

Free providers
    The ASCII domain, exactly (no subdomains), is in the bundled lists named in
    ``[free] lists``, plus ``add``, minus ``remove`` (``remove`` wins). A disposable
    domain is never a free provider: ``disposable`` beats ``free_provider`` (ten
    domains of the AfterShip list are on the disposable list too).

Typo suggestions (``did_you_mean``)
    Targets: ``[typo] providers`` and the file's ``top_k`` most frequent *common*
    domains that are not disposable. A domain is common when it holds at least
    ``min_count`` rows and at least ``min_share`` of the rows with an address (counts
    are over the frame given: call this after dedupe so that a row is a contact). No
    suggestion is made for a target, a common domain, a provider, or a domain on the
    free list (except the typo domains listed in ``suggest_anyway``, e.g. ``yaho.com``).
    Each domain is split into a *name* and a *suffix*: the suffix is the last label, or
    the last labels matching an entry of ``multi_label_suffixes`` (``co.uk``); the
    candidate domain is split with the target's number of suffix labels. A candidate
    gets target T when the optimal-string-alignment distance (Damerau-Levenshtein with
    adjacent transpositions, each edit costing 1) between the names is at most
    ``short_max_distance`` (names of T shorter than ``long_name_length``) or
    ``long_max_distance`` (longer), and 0 when T's name is shorter than
    ``min_name_length`` (``aol``, ``gmx``: only suffix typos); and the distance between
    the suffixes is at most ``suffix_max_distance``, except that towards a target whose
    last label has fewer than three letters (a country code: ``web.de``, ``yahoo.co.uk``)
    the last labels must be equal unless ``country_code_suffix_typos`` (``yahoo.dk`` is
    real). Of several targets, the one with
    the smallest total distance wins, then the one with more rows in the file, then the
    earlier in ``providers``, then the alphabetically first. ``did_you_mean`` is the
    row's ``email`` local part (as written) + ``@`` + the target, as ZeroBounce, Kickbox
    and mailcheck's ``full`` return it.

    Speed: the candidates are found with a deletion index (SymSpell): every string
    reachable from a target name by at most its distance of deletions is a key; a
    domain name looks up its own deletions (only as deep as a target of a compatible
    length needs) and the few hits are checked with the exact distance. This finds
    exactly the pairs within the distance (an edit, including a transposition, costs at
    most one deletion on each side), in time linear in the number of distinct domains.

Verdict
    Each reason that applies contributes the verdict its policy in ``[verdict]`` gives
    (``invalid``, ``risky``, ``unknown``, or ``ignore``: flagged, no effect). The base
    verdict is ``valid`` when DNS said the domain accepts mail (``dns_checked`` and no
    ``dns_reason``), else ``dns_not_checked`` (default ``unknown``). The verdict is the
    most severe of the base and the contributions (invalid > risky > unknown > valid);
    ``verdict_reason`` is the first reason in ``REASONS`` order whose contribution equals
    the verdict, or null when the base alone decided. ``failed_syntax_check`` (``valid``
    false or ``email`` null) is always ``invalid`` and first. A suppressed status
    (``unsubscribed``, ``bounced``, ``complained``) is ``invalid`` with reason
    ``suppressed`` by default (``suppressed = "keep"``: the verdict the other reasons
    give, reason ``suppressed``); the status itself is never changed here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any, Final

import idna
import polars as pl

from .rulefile import RuleTable, load_rules_file, unknown_tables

__all__ = [
    "REASONS",
    "VERDICTS",
    "DeliverabilityRules",
    "address_flags",
    "default_deliverability_rules",
    "list_sources",
    "parse_deliverability_rules",
    "suggest_domains",
    "verdicts",
]

RULES_FILE: Final = "deliverability.toml"

REASONS: Final = (
    "failed_syntax_check",
    "suppressed",
    "does_not_accept_mail",
    "no_dns_entries",
    "disposable",
    "possible_typo",
    "role_account",
    "dns_timeout",
)
"""The contract's verdict reasons, in precedence order (first wins among equals)."""

VERDICTS: Final = ("valid", "unknown", "risky", "invalid")
"""The contract's verdicts, from least to most severe."""

STATUSES: Final = ("active", "unsubscribed", "bounced", "complained")
SUPPRESSED_STATUSES: Final = ("unsubscribed", "bounced", "complained")
DNS_REASONS: Final = ("no_dns_entries", "does_not_accept_mail", "dns_timeout")
POLICY_KEYS: Final = (
    "disposable",
    "role_account",
    "possible_typo",
    "no_dns_entries",
    "does_not_accept_mail",
    "dns_timeout",
)
POLICIES: Final = ("invalid", "risky", "unknown", "ignore")
DEFAULT_POLICY: Final = {
    "disposable": "invalid",
    "role_account": "risky",
    "possible_typo": "risky",
    "no_dns_entries": "invalid",
    "does_not_accept_mail": "invalid",
    "dns_timeout": "unknown",
}
FLAG_COLUMNS: Final = ("role_account", "disposable", "free_provider", "did_you_mean")

# Bundled lists (rules/lists/, see its README.md): name -> file.
ROLE_LISTS: Final = {"aftership": "aftership-role.txt", "mixmax": "mixmax-role.json"}
FREE_LISTS: Final = {"aftership": "aftership-free.txt"}
LIST_COMMITS: Final = {
    "aftership-email-verifier": "a3c5c5b59c44425a9b718c7d1aec1f5148bd288f",
    "role-based-email-addresses": "4ad47311a1b88c47d248433ac5092050bbc12a51",
}
MAX_DISTANCE: Final = 3  # deletion neighbourhoods grow fast; more is never a typo anyway

_SEVERITY: Final = {name: i for i, name in enumerate(VERDICTS)}
_HOSTNAME_RE: Final = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_SUFFIX_RE: Final = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+$")


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class DisposableRules:
    use_package: bool
    match_subdomains: bool
    deny: frozenset[str]
    allow: frozenset[str]


@dataclass(frozen=True)
class RoleRules:
    lists: tuple[str, ...]
    add: frozenset[str]
    remove: frozenset[str]
    strip_plus_tag: bool


@dataclass(frozen=True)
class FreeRules:
    lists: tuple[str, ...]
    add: frozenset[str]
    remove: frozenset[str]


@dataclass(frozen=True)
class TypoRules:
    enabled: bool
    providers: tuple[str, ...]
    suggest_anyway: frozenset[str]
    top_k: int
    min_count: int
    min_share: float
    min_name_length: int
    long_name_length: int
    short_max_distance: int
    long_max_distance: int
    suffix_max_distance: int
    country_code_suffix_typos: bool
    multi_label_suffixes: tuple[str, ...]

    def name_distance(self, name: str) -> int:
        """The largest name distance allowed towards a target whose name is `name`."""
        if len(name) < self.min_name_length:
            return 0
        if len(name) >= self.long_name_length:
            return self.long_max_distance
        return self.short_max_distance

    def suffix_labels(self, domain: str) -> int:
        """How many labels of `domain` are its suffix (longest multi-label entry, else 1)."""
        best = 1
        for s in self.multi_label_suffixes:
            n = s.count(".") + 1
            if n > best and domain.endswith("." + s):
                best = n
        return best


@dataclass(frozen=True)
class VerdictRules:
    policy: dict[str, str]  # POLICY_KEYS -> invalid | risky | unknown | ignore
    dns_not_checked: str  # valid | unknown
    suppressed: str  # invalid | keep


@dataclass(frozen=True)
class DeliverabilityRules:
    """rules/deliverability.toml, parsed; the list contents load on first use."""

    disposable: DisposableRules
    role: RoleRules
    free: FreeRules
    typo: TypoRules
    verdict: VerdictRules

    @functools.cached_property
    def role_locals(self) -> frozenset[str]:
        base: set[str] = set()
        for name in self.role.lists:
            base |= _bundled_role_list(name)
        return frozenset((base | self.role.add) - self.role.remove)

    @functools.cached_property
    def free_domains(self) -> frozenset[str]:
        base: set[str] = set()
        for name in self.free.lists:
            base |= _bundled_free_list(name)
        return frozenset((base | self.free.add) - self.free.remove)

    @functools.cached_property
    def package_lists(self) -> tuple[frozenset[str], frozenset[str]]:
        """(blocklist, allowlist) of disposable-email-domains, empty when not used."""
        if not self.disposable.use_package:
            return frozenset(), frozenset()
        return _package_lists()

    def is_disposable(self, domain: str) -> bool:
        """Whether one ASCII, lower-case domain is disposable (see the module docstring)."""
        d = self.disposable
        chain = _parents(domain) if d.match_subdomains else [domain]
        for p in chain:  # most specific first: the rules' own entries
            if p in d.deny:
                return True
            if p in d.allow:
                return False
        block, allow = self.package_lists
        if any(p in allow for p in chain):
            return False
        return any(p in block for p in chain)


class _Table(RuleTable):
    """A rules table that also reads domain names and bundled-list names."""

    def domains(self, key: str) -> list[str]:
        out: list[str] = []
        for x in self.strings(key):
            d = _rules_domain(x)
            if d is None:
                self.problems.append(
                    f"{self.where}: `{key}` entry {x!r} is not a domain name such as "
                    '"example.com"; write the part after the @-sign, without spaces.'
                )
            else:
                out.append(d)
        return out

    def names(self, key: str, choices: dict[str, str]) -> tuple[str, ...]:
        out: list[str] = []
        for x in self.strings(key):
            if x in choices:
                out.append(x)
            else:
                self.problems.append(
                    f"{self.where}: `{key}` names an unknown list {x!r}; the bundled lists are "
                    f"{', '.join(sorted(choices))}."
                )
        return tuple(out)


def _rules_domain(value: str) -> str | None:
    """A domain written in the rules, in the form the lists compare (or None if invalid)."""
    d = value.strip().rstrip(".").lower()
    if not d.isascii():
        try:
            d = idna.encode(d, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    return d if _HOSTNAME_RE.match(d) else None


def _conflicts(t: _Table, a: str, b: str, left: Iterable[str], right: Iterable[str]) -> None:
    both = sorted(set(left) & set(right))
    if both:
        t.problems.append(
            f"{t.where}: {', '.join(both)} {'is' if len(both) == 1 else 'are'} in both `{a}` "
            f"and `{b}`; keep each in one of them."
        )


def parse_deliverability_rules(
    doc: dict[str, Any], where: str, problems: list[str]
) -> DeliverabilityRules:
    """Validate rules/deliverability.toml; append every problem to `problems` (never raises)."""
    tables = ("disposable", "role", "free", "typo", "verdict")
    problems.extend(unknown_tables(doc, tables, where))

    t = _Table(doc, "disposable", where, problems)
    use_package = t.bool("use_package", True)
    match_subdomains = t.bool("match_subdomains", True)
    deny, allow = t.domains("deny"), t.domains("allow")
    _conflicts(t, "deny", "allow", deny, allow)
    t.finish()
    disposable = DisposableRules(use_package, match_subdomains, frozenset(deny), frozenset(allow))

    t = _Table(doc, "role", where, problems)
    role_lists = t.names("lists", ROLE_LISTS)
    strip_plus = t.bool("strip_plus_tag", True)
    role_add, role_remove = _locals(t, "add", strip_plus), _locals(t, "remove", strip_plus)
    _conflicts(t, "add", "remove", role_add, role_remove)
    t.finish()
    role = RoleRules(role_lists, frozenset(role_add), frozenset(role_remove), strip_plus)

    t = _Table(doc, "free", where, problems)
    free_lists = t.names("lists", FREE_LISTS)
    free_add, free_remove = t.domains("add"), t.domains("remove")
    _conflicts(t, "add", "remove", free_add, free_remove)
    t.finish()
    free = FreeRules(free_lists, frozenset(free_add), frozenset(free_remove))

    typo = _parse_typo(_Table(doc, "typo", where, problems))

    t = _Table(doc, "verdict", where, problems)
    policy = {key: t.choice(key, POLICIES, DEFAULT_POLICY[key]) for key in POLICY_KEYS}
    dns_not_checked = t.choice("dns_not_checked", ("unknown", "valid"), "unknown")
    suppressed = t.choice("suppressed", ("invalid", "keep"), "invalid")
    t.finish()
    verdict = VerdictRules(policy, dns_not_checked, suppressed)
    return DeliverabilityRules(disposable, role, free, typo, verdict)


def _locals(t: _Table, key: str, strip_plus: bool) -> list[str]:
    out: list[str] = []
    for x in t.strings(key):
        v = x.strip().lower()
        if not v or "@" in v or any(c.isspace() for c in v):
            t.problems.append(
                f"{t.where}: `{key}` entry {x!r} must be the part before the @-sign, such as "
                '"info", without @ or spaces.'
            )
        elif strip_plus and "+" in v:
            t.problems.append(
                f"{t.where}: `{key}` entry {x!r} holds a +, which never matches while "
                "strip_plus_tag is true (the tag is removed first); write it without the tag."
            )
        else:
            out.append(v)
    return out


def _parse_typo(t: _Table) -> TypoRules:
    enabled = t.bool("enabled", True)
    providers = t.domains("providers")
    suggest_anyway = t.domains("suggest_anyway")
    _conflicts(t, "providers", "suggest_anyway", providers, suggest_anyway)
    top_k = t.int("top_k", 100, 0)
    min_count = t.int("min_count", 5, 1)
    min_share = t.share("min_share", 0.001)
    min_name = t.int("min_name_length", 4, 1)
    long_name = t.int("long_name_length", 7, 1)
    short_max = t.int("short_max_distance", 1, 0, MAX_DISTANCE)
    long_max = t.int("long_max_distance", 2, 0, MAX_DISTANCE)
    suffix_max = t.int("suffix_max_distance", 1, 0, MAX_DISTANCE)
    country_codes = t.bool("country_code_suffix_typos", False)
    suffixes: list[str] = []
    for x in t.strings("multi_label_suffixes"):
        s = x.strip().strip(".").lower()
        if _SUFFIX_RE.match(s):
            suffixes.append(s)
        else:
            t.problems.append(
                f"{t.where}: `multi_label_suffixes` entry {x!r} must be a suffix of two or more "
                'labels such as "co.uk".'
            )
    if long_name < min_name:
        t.problems.append(
            f"{t.where}: `long_name_length` ({long_name}) must be at least `min_name_length` "
            f"({min_name})."
        )
    if long_max < short_max:
        t.problems.append(
            f"{t.where}: `long_max_distance` ({long_max}) must be at least "
            f"`short_max_distance` ({short_max})."
        )
    t.finish()
    return TypoRules(
        enabled=enabled,
        providers=tuple(providers),
        suggest_anyway=frozenset(suggest_anyway),
        top_k=top_k,
        min_count=min_count,
        min_share=min_share,
        min_name_length=min_name,
        long_name_length=long_name,
        short_max_distance=short_max,
        long_max_distance=long_max,
        suffix_max_distance=suffix_max,
        country_code_suffix_typos=country_codes,
        multi_label_suffixes=tuple(suffixes),
    )


def default_deliverability_rules() -> DeliverabilityRules:
    """The shipped rules/deliverability.toml, parsed (for callers without a RuleSet, and tests)."""
    return _default_rules()


@functools.cache
def _default_rules() -> DeliverabilityRules:
    return load_rules_file(parse_deliverability_rules, RULES_FILE)


# --------------------------------------------------------------------------- lists


def _list_file(name: str) -> str:
    return resources.files("listhygiene.rules").joinpath("lists", name).read_text("utf-8")


def _lines(text: str) -> set[str]:
    # str.strip also removes the NBSP that ends one line of the AfterShip free list.
    return {x.strip().lower() for x in text.splitlines() if x.strip() and not x.startswith("#")}


@functools.cache
def _bundled_role_list(name: str) -> frozenset[str]:
    text = _list_file(ROLE_LISTS[name])
    if ROLE_LISTS[name].endswith(".json"):
        return frozenset(x.strip().lower() for x in json.loads(text)["all"] if x.strip())
    return frozenset(_lines(text))


@functools.cache
def _bundled_free_list(name: str) -> frozenset[str]:
    out = set()
    for d in _lines(_list_file(FREE_LISTS[name])):
        ascii_d = _rules_domain(d)
        out.add(ascii_d if ascii_d is not None else d)
    return frozenset(out)


@functools.cache
def _package_lists() -> tuple[frozenset[str], frozenset[str]]:
    import disposable_email_domains as ded

    return frozenset(ded.blocklist), frozenset(getattr(ded, "allowlist", ()))


def list_sources() -> dict[str, str]:
    """Where the lists come from, for the manifest: package versions and source commits."""
    try:
        version = metadata.version("disposable-email-domains")
    except metadata.PackageNotFoundError:  # pragma: no cover - a broken install
        version = "not installed"
    return {"disposable-email-domains": version, **LIST_COMMITS}


def _parents(domain: str) -> list[str]:
    """The domain and each parent with at least two labels, most specific first."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(1, len(labels) - 1))]


# --------------------------------------------------------------------------- typos


def _osa(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance of a and b, or limit + 1 when it exceeds limit."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    if not la or not lb:
        return max(la, lb)
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        ca = a[i - 1]
        for j in range(1, lb + 1):
            cb = b[j - 1]
            cost = 0 if ca == cb else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[lb] if prev[lb] <= limit else limit + 1


def _deletions(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@dataclass(frozen=True)
class _Target:
    domain: str
    name: str
    suffix: str
    labels: int  # suffix labels
    max_distance: int
    tld: str | None  # the last label when it must match exactly (a country code), else None
    rank: tuple[int, int, str]  # (-rows in the file, position in providers, domain)


def suggest_domains(
    counts: dict[str, int], rules: DeliverabilityRules, disposable: Iterable[str] = ()
) -> dict[str, str]:
    """Typo suggestions for the distinct ASCII domains of one file: domain -> target.

    ``counts`` maps each distinct domain to its number of rows; ``disposable`` names the
    ones that are disposable (they are never targets). See the module docstring.
    """
    typo = rules.typo
    if not typo.enabled or not counts:
        return {}
    total = sum(counts.values())
    common = {d for d, n in counts.items() if n >= typo.min_count and n / total >= typo.min_share}
    skip_disposable = set(disposable)
    frequent = sorted(
        (d for d in common if d not in skip_disposable), key=lambda d: (-counts[d], d)
    )[: typo.top_k]
    order = {d: i for i, d in enumerate(typo.providers)}
    targets: list[_Target] = []
    for d in dict.fromkeys([*typo.providers, *frequent]):
        n = typo.suffix_labels(d)
        labels = d.split(".")
        if len(labels) <= n:
            continue
        name, suffix = ".".join(labels[:-n]), ".".join(labels[-n:])
        rank = (-counts.get(d, 0), order.get(d, len(order)), d)
        tld = labels[-1] if len(labels[-1]) < 3 and not typo.country_code_suffix_typos else None
        targets.append(_Target(d, name, suffix, n, typo.name_distance(name), tld, rank))
    if not targets:
        return {}

    known = (rules.free_domains - typo.suggest_anyway) | set(typo.providers)
    skip = common | known | {t.domain for t in targets}
    suffix_max = typo.suffix_max_distance
    label_counts = sorted({t.labels for t in targets})
    # A query's suffix decides which targets it can reach at all (the suffix distance and
    # the country-code rule); each such group of targets gets its own index, built once.
    groups: dict[tuple[int, str, str], _Index | None] = {}  # (labels, suffix, tld) -> index
    built: dict[tuple[str, ...], _Index] = {}

    def index_for(n: int, suffix: str, tld: str) -> _Index | None:
        reachable = tuple(
            t
            for t in targets
            if t.labels == n
            and (t.tld is None or t.tld == tld)
            and _osa(suffix, t.suffix, suffix_max) <= suffix_max
        )
        if not reachable:
            return None
        key = tuple(t.domain for t in reachable)
        if key not in built:
            built[key] = _Index(reachable)
        return built[key]

    out: dict[str, str] = {}
    for d in counts:
        if d in skip:
            continue
        labels = d.split(".")
        best: tuple[int, tuple[int, int, str]] | None = None
        for n in label_counts:
            if len(labels) <= n:
                continue
            suffix = ".".join(labels[-n:])
            group = (n, suffix, labels[-1])
            if group not in groups:
                groups[group] = index_for(*group)
            index = groups[group]
            if index is None:
                continue
            name = ".".join(labels[:-n])
            depth = index.need.get(len(name), -1)
            if depth < 0:
                continue
            hits = _probe(name, depth, index.table)
            for t in {t.domain: t for hit in hits for t in hit}.values():
                nd = _osa(name, t.name, t.max_distance)
                if nd > t.max_distance:
                    continue
                sd = _osa(suffix, t.suffix, suffix_max)
                if nd + sd == 0:
                    continue
                score = (nd + sd, t.rank)
                if best is None or score < best:
                    best = score
        if best is not None:
            out[d] = best[1][2]
    return out


class _Index:
    """Deletion index of some targets' names, and the deletion depth a query name needs.

    ``table`` maps every string within ``max_distance`` deletions of a target's name to
    the targets. ``need[length]`` is how deep a query name of that length must look: a
    query ``delta`` characters longer than a target needs min(k, k + delta) deletions,
    because an edit script of at most k operations deletes at most k characters on each
    side, and the two sides' deletion counts differ by the length difference.
    """

    def __init__(self, targets: Iterable[_Target]):
        self.table: dict[str, list[_Target]] = {}
        self.need: dict[int, int] = {}
        for t in targets:
            for key in _deletions(t.name, t.max_distance):
                self.table.setdefault(key, []).append(t)
            k = t.max_distance
            for delta in range(-k, k + 1):
                length = len(t.name) + delta
                self.need[length] = max(self.need.get(length, -1), min(k, k + delta))


def _probe(word: str, depth: int, table: dict[str, list[_Target]]) -> list[list[_Target]]:
    """The index entries of `word` and of every string `depth` or fewer deletions away.

    Each set of deleted positions is visited once (positions in increasing order), and
    no string is built that is not looked up: this loop is the typo stage's hot path.
    """
    get = table.get
    found: list[list[_Target]] = []
    hit = get(word)
    if hit:
        found.append(hit)
    if depth <= 0:
        return found
    frontier = [(word, 0)]
    for level in range(depth, 0, -1):
        nxt: list[tuple[str, int]] = []
        for w, start in frontier:
            for i in range(start, len(w)):
                v = w[:i] + w[i + 1 :]
                hit = get(v)
                if hit:
                    found.append(hit)
                if level > 1:
                    nxt.append((v, i))
        frontier = nxt
    return found


# --------------------------------------------------------------------------- flags


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain


def address_flags(emails: pl.DataFrame, rules: DeliverabilityRules) -> pl.DataFrame:
    """Add role_account, disposable, free_provider (Boolean) and did_you_mean (String).

    ``emails`` needs ``email`` and ``email_key`` (null for an unusable address) and may
    have ``domain`` (else the part of ``email_key`` after its last @). Rows keep their
    order; the four columns replace any of the same name.
    """
    missing = [c for c in ("email", "email_key") if c not in emails.columns]
    if missing:
        raise ValueError(
            f"address_flags needs the columns email and email_key; missing: {', '.join(missing)}."
        )
    key, email = pl.col("email_key"), pl.col("email")
    key_domain = key.str.split("@").list.last()
    local = key.str.head(key.str.len_chars() - key_domain.str.len_chars() - 1)
    if rules.role.strip_plus_tag:
        local = local.str.split("+").list.first()
    raw_domain = pl.col("domain").str.to_lowercase() if "domain" in emails.columns else key_domain
    has_email = email.is_not_null() & key.is_not_null()
    work = emails.select(
        has_email.alias("__has"),
        pl.when(has_email).then(raw_domain).alias("__raw"),
        pl.when(has_email).then(local.is_in(list(rules.role_locals))).alias("role_account"),
    )
    counts = work.get_column("__raw").drop_nulls().value_counts(name="n")
    raw_domains: list[str] = counts.get_column("__raw").to_list()
    ascii_of = {d: _ascii_domain(d) for d in raw_domains}
    ascii_counts: dict[str, int] = {}
    display: dict[str, str] = {}  # ASCII domain -> the form written in the file (for IDNs)
    for d, n in zip(raw_domains, counts.get_column("n").to_list(), strict=True):
        a = ascii_of[d]
        ascii_counts[a] = ascii_counts.get(a, 0) + n
        display.setdefault(a, d)
    disposable = {a for a in ascii_counts if rules.is_disposable(a)}
    suggestions = suggest_domains(ascii_counts, rules, disposable)
    free = rules.free_domains

    per_domain = pl.DataFrame(
        {
            "__raw": raw_domains,
            "__disposable": [ascii_of[d] in disposable for d in raw_domains],
            "__free": [ascii_of[d] in free and ascii_of[d] not in disposable for d in raw_domains],
            "__suggest": [
                display.get(suggestions[a], suggestions[a]) if a in suggestions else None
                for a in (ascii_of[d] for d in raw_domains)
            ],
        },
        schema={
            "__raw": pl.String,
            "__disposable": pl.Boolean,
            "__free": pl.Boolean,
            "__suggest": pl.String,
        },
    )
    joined = work.join(per_domain, on="__raw", how="left", maintain_order="left")
    has, suggest = pl.col("__has"), pl.col("__suggest")
    email_local = email.str.head(
        email.str.len_chars() - email.str.split("@").list.last().str.len_chars() - 1
    )
    flags = pl.concat([joined, emails.select("email")], how="horizontal").select(
        "role_account",
        pl.when(has).then(pl.col("__disposable").fill_null(False)).alias("disposable"),
        pl.when(has).then(pl.col("__free").fill_null(False)).alias("free_provider"),
        pl.when(has & suggest.is_not_null())
        .then(pl.concat_str(email_local, pl.lit("@"), suggest))
        .alias("did_you_mean"),
    )
    return emails.with_columns(flags.get_columns())


# --------------------------------------------------------------------------- verdicts


def _check_values(frame: pl.DataFrame, column: str, allowed: tuple[str, ...]) -> None:
    values = frame.get_column(column).drop_nulls().unique().sort().to_list()
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(
            f"verdicts: column {column} holds {', '.join(map(repr, bad))}; "
            f"the values it can hold are {', '.join(allowed)} (or null)."
        )


def verdicts(frame: pl.DataFrame, rules: DeliverabilityRules) -> pl.DataFrame:
    """Add ``verdict`` and ``verdict_reason`` to a frame carrying the address flags.

    Needs ``email``, ``role_account``, ``disposable``, ``did_you_mean`` (from
    ``address_flags``). Optional, with their meaning when absent: ``valid`` (a syntax
    verdict; absent = valid unless ``email`` is null), ``dns_reason`` (null or one of
    no_dns_entries, does_not_accept_mail, dns_timeout; absent = null), ``dns_checked``
    (true when DNS gave an answer for the domain; absent or null = false), ``status``
    (active, unsubscribed, bounced, complained; absent or null = active).
    """
    needed = ("email", "role_account", "disposable", "did_you_mean")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"verdicts needs the columns {', '.join(needed)} (address_flags adds the flags); "
            f"missing: {', '.join(missing)}."
        )
    cols = set(frame.columns)
    if "dns_reason" in cols:
        _check_values(frame, "dns_reason", DNS_REASONS)
    if "status" in cols:
        _check_values(frame, "status", STATUSES)
    v = rules.verdict

    syntax_failed = pl.col("email").is_null()
    if "valid" in cols:
        syntax_failed = syntax_failed | ~pl.col("valid").fill_null(False)
    dns_reason = pl.col("dns_reason") if "dns_reason" in cols else pl.lit(None, pl.String)
    dns_checked = pl.col("dns_checked").fill_null(False) if "dns_checked" in cols else pl.lit(False)
    status = pl.col("status").fill_null("active") if "status" in cols else pl.lit("active")
    suppressed = status.is_in(list(SUPPRESSED_STATUSES))

    applies: dict[str, pl.Expr] = {
        "failed_syntax_check": syntax_failed,
        "suppressed": suppressed,
        "does_not_accept_mail": (dns_reason == "does_not_accept_mail").fill_null(False),
        "no_dns_entries": (dns_reason == "no_dns_entries").fill_null(False),
        "disposable": pl.col("disposable").fill_null(False),
        "possible_typo": pl.col("did_you_mean").is_not_null(),
        "role_account": pl.col("role_account").fill_null(False),
        "dns_timeout": (dns_reason == "dns_timeout").fill_null(False),
    }
    policy = {"failed_syntax_check": "invalid", **v.policy}
    policy["suppressed"] = "invalid" if v.suppressed == "invalid" else "ignore"

    base = (
        pl.when(dns_checked & dns_reason.is_null())
        .then(pl.lit(_SEVERITY["valid"]))
        .otherwise(pl.lit(_SEVERITY[v.dns_not_checked]))
    )
    contributions = {
        r: pl.when(applies[r]).then(pl.lit(_SEVERITY[policy[r]])).otherwise(pl.lit(-1))
        for r in REASONS
        if policy[r] != "ignore"
    }
    sev = pl.max_horizontal(base, *contributions.values())
    reason = pl.coalesce(
        *(
            pl.when(applies[r] & (pl.lit(_SEVERITY[policy[r]]) == sev)).then(pl.lit(r))
            for r in contributions
        ),
        pl.lit(None, pl.String),
    )
    if v.suppressed == "keep":  # the verdict of the other reasons, the reason `suppressed`
        reason = pl.when(suppressed & ~syntax_failed).then(pl.lit("suppressed")).otherwise(reason)
    names = {i: name for name, i in _SEVERITY.items()}
    out = frame.select(
        sev.replace_strict(names, return_dtype=pl.String).alias("verdict"),
        reason.alias("verdict_reason"),
    )
    return frame.with_columns(out.get_columns())
