#!/usr/bin/env python3
"""Measure `validate_emails` against email-validator called row by row, on the same addresses.

    python bench/emails.py [--n 1000000] [--results bench/results] [--seed N] [--repeat 3]
                           [--workers N]

1. Generates N deterministic synthetic addresses (same N and seed, same list):
   ~3% broken in varied ways (no @, two @, empty, spaces, bad periods, special-use
   and dotless domains, display names, `mailto:`, NBSP and zero-width characters,
   quoted local parts, domain literals, over-long parts, look-alike at-signs),
   ~2% internationalized (local part, domain or both, Unicode and Punycode),
   the rest ordinary (names, tags, role accounts, mixed case), and ~5% repeats of
   an earlier address.
2. Row by row: `email_validator.validate_email(a, check_deliverability=False)` in
   a plain loop, one process: the reference.
3. Ours: `validate_emails(series, preclean=False)` on the same addresses, `--repeat`
   times in this process (the first call also starts the worker pool: reported
   as `cold`). Every row's (valid, normalized, error) must equal the reference.
4. With pre-cleaning (the pipeline's default): `validate_emails(series)`, timed
   once; rows pre-cleaning left unchanged must equal the reference, and the
   changed rows are checked against email-validator on their cleaned value.
5. Writes `bench/results/<UTC timestamp>-emails.json` and prints a summary. The
   target, ours >= 30x faster than row by row, is reported, not enforced; any
   disagreement is a failure (exit 1) and writes no result.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from email_validator import EmailNotValidError, validate_email
from machine import machine_info  # bench/ is the script's folder, first on sys.path

from listhygiene.emails import validate_emails

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TARGET_SPEEDUP = 30.0
GENERATOR_VERSION = 1

Reference = tuple[bool, str | None, str | None]

# ------------------------------------------------------------------ inputs


def words(text: str) -> list[str]:
    return text.split()


FIRST = words(
    "james mary john patricia robert jennifer michael linda william elizabeth david barbara "
    "richard susan joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony "
    "betty mark sandra donald ashley steven kimberly paul emily andrew donna joshua michelle "
    "kenneth carol kevin amanda brian melissa george deborah timothy stephanie ronald rebecca "
    "jason sharon edward laura jeffrey cynthia ryan kathleen jacob amy gary angela nicholas "
    "anna eric brenda jonathan pamela stephen emma larry nicole justin helen scott samantha"
)
LAST = words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez "
    "lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson "
    "white harris sanchez clark ramirez lewis robinson walker young allen king wright scott "
    "torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter "
    "roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris"
)
FREE = words(
    "gmail.com yahoo.com hotmail.com outlook.com aol.com icloud.com gmx.de web.de mail.ru "
    "yandex.ru protonmail.com live.com msn.com orange.fr free.fr libero.it btinternet.com "
    "comcast.net verizon.net t-online.de qq.com 163.com naver.com"
)
WORDS = words(
    "acme globex initech umbrella stark wayne wonka hooli vandelay soylent cyberdyne tyrell "
    "aperture oscorp dunder massive northwind contoso fabrikam adventure blue green red "
    "north south data cloud media labs group systems solutions digital health energy"
)
TLDS = words("com net org io co de fr uk co.uk com.au ca nl se ch it es pl be at dk us info biz")
ROLES = words("info sales support marketing abuse noc security postmaster webmaster news")
INTL_LOCAL = words(
    "josé müller françois søren zoë björk añejo ñandú łukasz dvořák straße 田中 山本 "
    "иван ольга δημήτρης मोहन 김민준 أحمد"
)
INTL_DOMAIN = words(
    "bücher.de münchen.de exämple.com köln.de zürich.ch 日本.jp 例え.jp пример.рф "
    "почта.рф δοκιμή.gr ñandú.es xn--bcher-kva.de xn--mnchen-3ya.de xn--e1afmkfd.xn--p1ai "
    "中国.cn 台灣.tw"
)


def ordinary(r: random.Random) -> str:
    first, last = r.choice(FIRST), r.choice(LAST)
    k = r.random()
    if k < 0.35:
        local = f"{first}.{last}"
    elif k < 0.5:
        local = f"{first[0]}{last}"
    elif k < 0.6:
        local = f"{first}_{last}{r.randint(1, 99)}"
    elif k < 0.7:
        local = f"{first}{r.randint(1950, 2010)}"
    elif k < 0.78:
        local = f"{first}.{last}+{r.choice(['news', 'shop', 'x'])}"
    elif k < 0.8:
        local = r.choice(ROLES)
    else:
        local = f"{first}-{last}"
    if r.random() < 0.55:
        domain = r.choice(FREE)
    else:
        sub = f"{r.choice(['mail.', 'eu.', 'corp.'])}" if r.random() < 0.1 else ""
        domain = (
            f"{sub}{r.choice(WORDS)}{r.choice(['', '-', ''])}{r.choice(WORDS)}.{r.choice(TLDS)}"
        )
    address = f"{local}@{domain}"
    k = r.random()
    if k < 0.05:
        return address.upper()
    if k < 0.12:
        return local.title() + "@" + domain.title()
    return address


def internationalized(r: random.Random) -> str:
    k = r.random()
    last = r.choice(LAST)
    if k < 0.45:
        return f"{r.choice(INTL_LOCAL)}.{last}@{r.choice(FREE)}"
    if k < 0.85:
        return f"{r.choice(FIRST)}.{last}@{r.choice(INTL_DOMAIN)}"
    return f"{r.choice(INTL_LOCAL)}@{r.choice(INTL_DOMAIN)}"


BROKEN_SHAPES = (
    lambda a, r: a.replace("@", ""),  # no @
    lambda a, r: a.replace("@", "@@"),
    lambda a, r: a + "@" + r.choice(FREE),  # two @
    lambda a, r: "",
    lambda a, r: a.split("@")[0] + "@",
    lambda a, r: "@" + a.split("@")[1],
    lambda a, r: a.replace(".", " ", 1),
    lambda a, r: a.replace("@", ".@"),
    lambda a, r: "." + a,
    lambda a, r: a.replace(".", "..", 1),
    lambda a, r: a.split("@")[0] + "@" + r.choice(["localhost", "intranet", "mailserver"]),
    lambda a, r: a.split("@")[0] + "@" + r.choice(["corp.local", "x.test", "host.invalid"]),
    lambda a, r: a.split("@")[0] + "@mail.123",
    lambda a, r: a.replace(".", ",", 1),
    lambda a, r: a.replace("@", "＠"),
    lambda a, r: f" {a} ",
    lambda a, r: a + ".",
    lambda a, r: a + ";",
    lambda a, r: f"{r.choice(FIRST).title()} {r.choice(LAST).title()} <{a}>",
    lambda a, r: "mailto:" + a,
    lambda a, r: a + "\u00a0",
    lambda a, r: "\u200b" + a,
    lambda a, r: '"' + a.split("@")[0] + '"@' + a.split("@")[1],
    lambda a, r: a.split("@")[0] + "@[192.168.0.1]",
    lambda a, r: "x" * r.randint(250, 300) + "@" + a.split("@")[1],
    lambda a, r: a.split("@")[0] + "@" + "sub." * 70 + "com",
    lambda a, r: a.split("@")[0] + "@" + "d" * 70 + ".com",
    lambda a, r: a.replace("@", "@-"),
    lambda a, r: a.split("@")[0] + "@under_score.com",
    lambda a, r: a.replace("@", "(comment)@"),
    lambda a, r: a + "\u0000",
    lambda a, r: a.split("@")[0] + "@ab--cd.com",
)


def generate(n: int, seed: int) -> list[str]:
    """N addresses; the same N and seed always give the same list."""
    r = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        k = r.random()
        if k < 0.05 and out:
            out.append(out[r.randrange(len(out))])  # a repeat
        elif k < 0.08:
            out.append(r.choice(BROKEN_SHAPES)(ordinary(r), r))
        elif k < 0.10:
            out.append(internationalized(r))
        else:
            out.append(ordinary(r))
    return out


# --------------------------------------------------------------- measuring


def row_by_row(addresses: list[str]) -> tuple[list[Reference], float]:
    results: list[Reference] = []
    started = time.perf_counter()
    for a in addresses:
        try:
            v = validate_email(a, check_deliverability=False)
        except EmailNotValidError as e:
            results.append((False, None, str(e)))
        else:
            results.append((True, v.normalized, None))
    return results, time.perf_counter() - started


def ours(series: pl.Series, workers: int | None, preclean: bool) -> tuple[pl.DataFrame, float]:
    started = time.perf_counter()
    frame = validate_emails(series, workers=workers, preclean=preclean)
    return frame, time.perf_counter() - started


def disagreements(frame: pl.DataFrame, reference: list[Reference], rows: list[int]) -> list[str]:
    got = frame.select("valid", "email", "error").rows()
    return [
        f"row {i}: ours {got[i]!r}, email-validator {reference[i]!r}"
        for i in rows
        if got[i] != reference[i]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be at least 1")

    started = time.perf_counter()
    addresses = generate(args.n, args.seed)
    gen_seconds = time.perf_counter() - started
    series = pl.Series("email", addresses, dtype=pl.String)
    print(f"generated {args.n:,} addresses in {gen_seconds:.1f} s", flush=True)

    reference, ref_seconds = row_by_row(addresses)
    print(f"email-validator row by row: {ref_seconds:.2f} s", flush=True)

    runs: list[float] = []
    frame = None
    for _ in range(args.repeat):
        frame, seconds = ours(series, args.workers, preclean=False)
        runs.append(seconds)
        bad = disagreements(frame, reference, list(range(args.n)))
        if bad:
            print(f"FAIL: {len(bad)} rows disagree, e.g.\n  " + "\n  ".join(bad[:10]))
            return 1
    assert frame is not None
    print(f"validate_emails: cold {runs[0]:.3f} s, median {statistics.median(runs):.3f} s")

    cleaned_frame, clean_seconds = ours(series, args.workers, preclean=True)
    changed = (cleaned_frame.get_column("cleaned") != series).fill_null(False)
    unchanged_rows = (~changed).arg_true().to_list()
    bad = disagreements(cleaned_frame, reference, unchanged_rows)
    changed_rows = changed.arg_true().to_list()
    cleaned_values = cleaned_frame.get_column("cleaned").to_list()
    cleaned_reference, _ = row_by_row([cleaned_values[i] for i in changed_rows])
    got = cleaned_frame.select("valid", "email", "error").rows()
    bad += [
        f"row {i} (cleaned {cleaned_values[i]!r}): ours {got[i]!r}, email-validator {ref!r}"
        for i, ref in zip(changed_rows, cleaned_reference, strict=True)
        if got[i] != ref
    ]
    if bad:
        print(f"FAIL (pre-cleaning): {len(bad)} rows disagree, e.g.\n  " + "\n  ".join(bad[:10]))
        return 1

    decided = Counter(frame.get_column("decided_by").to_list())
    valid_count = int(frame.get_column("valid").sum())
    fixes = Counter(f for row in cleaned_frame.get_column("fixes").to_list() for f in row)
    cold, median = runs[0], statistics.median(runs)
    result = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info("polars", "email-validator"),
        "params": {
            "generator_version": GENERATOR_VERSION,
            "n": args.n,
            "seed": args.seed,
            "repeat": args.repeat,
            "workers": args.workers,
            "distinct_addresses": series.n_unique(),
            "valid": valid_count,
            "invalid": args.n - valid_count,
            "non_ascii": int((series.str.len_bytes() != series.str.len_chars()).sum()),
        },
        "row_by_row_seconds": round(ref_seconds, 3),
        "ours_seconds": {
            "cold": round(cold, 3),
            "median": round(median, 3),
            "all": [round(s, 3) for s in runs],
        },
        "speedup": {"cold": round(ref_seconds / cold, 1), "median": round(ref_seconds / median, 1)},
        "target_speedup": TARGET_SPEEDUP,
        "target_met": ref_seconds / cold >= TARGET_SPEEDUP,
        "decided_by": dict(decided),
        "share_decided_fast": round(decided["fast"] / args.n, 4),
        "agreement": {"rows": args.n, "agree": args.n},
        "preclean": {
            "seconds": round(clean_seconds, 3),
            "rows_changed": len(changed_rows),
            "fixes": dict(fixes),
            "valid_after_cleaning": int(cleaned_frame.get_column("valid").sum()),
            "agree": args.n,
        },
        "generate_seconds": round(gen_seconds, 2),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results / f"{stamp}-emails.json"
    out.write_text(json.dumps(result, indent=2) + "\n")

    share = {k: f"{v / args.n:.2%}" for k, v in sorted(decided.items())}
    print(
        f"\n{args.n:,} addresses ({valid_count:,} valid), all rows agree\n"
        f"  row by row        {ref_seconds:8.2f} s\n"
        f"  validate_emails   {cold:8.3f} s cold, {median:.3f} s median of {args.repeat}\n"
        f"  speed-up          {ref_seconds / cold:8.1f}x cold, {ref_seconds / median:.1f}x median"
        f" (target {TARGET_SPEEDUP:.0f}x: {'met' if result['target_met'] else 'MISSED'})\n"
        f"  decided by        {share}\n"
        f"  with pre-cleaning {clean_seconds:8.3f} s, {len(changed_rows):,} rows changed\n"
        f"  -> {out.relative_to(REPO) if out.is_relative_to(REPO) else out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
