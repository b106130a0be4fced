"""The deliverability stage: address flags, one DNS answer per distinct domain, a verdict.

`contacts_deliverability` adds to a frame of validated addresses what the
contract's `verdict` needs: the flags of pipeline/flags.py (role, disposable,
free provider, typo suggestion), the DNS result of pipeline/dns.py for the
address's domain (each distinct domain asked once, whatever the resolver),
and the verdict policy of rules/deliverability.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .dns import REASONS, Resolver, check_frame, domain_key, resolver_for
from .flags import address_flags, verdicts
from .ruleset import RuleSet

OUTPUT_COLUMNS = (
    "role_account",
    "disposable",
    "free_provider",
    "did_you_mean",
    "dns_status",
    "verdict",
    "verdict_reason",
)


@dataclass(frozen=True)
class DnsOptions:
    """`--dns` and its companions (see docs/dns.md)."""

    mode: str = "cache"  # off | cache | live
    servers: tuple[str, ...] = field(default_factory=tuple)
    timeout: float = 2.0
    concurrency: int = 64
    budget: float = 60.0


def open_resolver(options: DnsOptions, store: Any) -> Resolver | None:
    """One resolver per run (None for `--dns off`): each distinct domain is asked once."""
    if options.mode == "off":
        return None
    return resolver_for(
        options.mode,
        store,
        nameservers=list(options.servers),
        concurrency=options.concurrency,
        timeout=options.timeout,
        budget=options.budget,
    )


def verdicts_rechecked(contacts: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """The verdict again for merged contacts, whose status may have changed (a merged-in
    unsubscribe makes the contact suppressed); flags and DNS results are kept."""
    again = contacts.with_columns(
        pl.col("dns_status")
        .replace_strict(REASONS, default=None, return_dtype=pl.String)
        .alias("dns_reason"),
        (pl.col("dns_status") != "not_checked").alias("dns_checked"),
    )
    return verdicts(again, rules.deliverability).drop("dns_reason", "dns_checked")


def _with_domain(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `domain`, the DNS key of each address's domain (lower-case ASCII, Punycode for
    IDNs), computed once per distinct domain: 1M contacts share a few thousand."""
    raw = frame.select(pl.col("email_key").str.split("@").list.last().alias("__raw"))["__raw"]
    distinct = raw.drop_nulls().unique()
    keys = pl.DataFrame(
        {"__raw": distinct, "domain": [domain_key(d) for d in distinct.to_list()]},
        schema={"__raw": pl.String, "domain": pl.String},
    )
    looked_up = raw.to_frame().join(keys, on="__raw", how="left", maintain_order="left")
    return frame.with_columns(looked_up["domain"])


def contacts_deliverability(
    frame: pl.DataFrame, rules: RuleSet, resolver: Resolver | None
) -> pl.DataFrame:
    """`frame` needs `email` and `email_key` (null when unusable) and may carry `valid`
    and `status`; the result adds OUTPUT_COLUMNS, rows in the same order. A resolver of
    None (`--dns off`) leaves every domain `not_checked`."""
    base = _with_domain(frame)
    if resolver is None:
        dns = pl.DataFrame(
            schema={"domain": pl.String, "dns_status": pl.String, "dns_reason": pl.String}
        )
    else:
        dns = check_frame(resolver, base["domain"].drop_nulls().unique()).select(
            "domain", "dns_status", "dns_reason"
        )
    joined = base.join(dns, on="domain", how="left", maintain_order="left").with_columns(
        pl.col("dns_status").fill_null("not_checked"),
        (pl.col("dns_status").is_not_null() & (pl.col("dns_status") != "not_checked")).alias(
            "dns_checked"
        ),
    )
    flagged = address_flags(joined, rules.deliverability)
    out = verdicts(flagged, rules.deliverability)
    return out.drop("domain", "dns_reason", "dns_checked")
