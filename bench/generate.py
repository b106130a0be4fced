#!/usr/bin/env python3
"""Generate large synthetic benchmark inputs, fast and deterministically.

    python bench/generate.py --contacts 1000000 --events 10000000 --out bench/data

Writes into OUT:

* `contacts.csv` - N rows with the exact Mailchimp *subscribed* header (21
  columns). About 5% of rows repeat an earlier person's address in another
  case or with whitespace/NBSP around it, ~3% have a broken address
  (`a@@b`, no `@`, nothing after `@`, `@localhost`), ~2% of people have an
  internationalized address (`josé.…@example.com`, `…@bücher.example`).
* `unsubscribed_members_export_0000000000.csv` - the status carrier. Like a
  real Mailchimp export there is no status column: every 25th person (4% of
  N) appears here with the Mailchimp *unsubscribed* header and `UNSUB_*`
  values, so the pipeline must carry the suppression over to the matching row
  of `contacts.csv` (a tenth of them in upper case).
* `events.csv` - M rows of the generic events table
  (`email,event,timestamp,campaign_id,event_id,machine_open`) over the 200
  days before 2026-11-01T00:00:00Z; ~0.5% for unknown addresses, ~0.1%
  repeated `event_id`s, 15% of opens are machine opens.
* `params.json` - the stamp; a later call with the same parameters reuses the
  files instead of writing them again.

No Python loop runs per row: every column is a polars expression over
`pl.int_range`, with pseudo-randomness from a SplitMix64 hash of the row
index written in plain integer arithmetic (stable across polars versions,
unlike `Expr.hash`). Rows are produced and written in chunks, so memory stays
flat for any size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
import generate_sample

GENERATOR_VERSION = 1  # bump when the output for given parameters changes
DEFAULT_SEED = 20261101
CHUNK_ROWS = 1_000_000
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
AS_OF_S = int(AS_OF.timestamp())
DAY_S = 86_400
U64 = pl.UInt64

CONTACTS_FILE = "contacts.csv"
UNSUB_FILE = "unsubscribed_members_export_0000000000.csv"
EVENTS_FILE = "events.csv"
PARAMS_FILE = "params.json"
UNSUB_EVERY = 25  # every 25th person is unsubscribed: 4%

# Mailchimp headers (HEADERS.md section 1) are written once, in the sample generator.
SUBSCRIBED_HEADER = generate_sample.MAILCHIMP_SUBSCRIBED_HEADER
UNSUB_HEADER = generate_sample.MAILCHIMP_UNSUBSCRIBED_HEADER
EVENTS_HEADER = ["email", "event", "timestamp", "campaign_id", "event_id", "machine_open"]

FIRST_NAMES = [
    "Ann", "Anna", "Ben", "Bob", "Cara", "Clara", "Dev", "Dana", "Eve", "Emil", "Finn",
    "Frida", "Gus", "Greta", "Hana", "Hugo", "Ivo", "Ida", "Jo", "Jonas", "Kai", "Kira", "Lee",
    "Lena", "Mia", "Max", "Ned", "Nora", "Ola", "Oskar", "Pat", "Paula", "Quinn", "Rosa",
    "Sam", "Sofia", "Tess", "Theo", "Uma", "Vera", "José", "Zoë", "Björn", "Jürgen", "Renée",
    "Søren", "François", "Inès", "Hélène", "Åsa",
]  # fmt: skip
LAST_NAMES = [
    "Example", "Sample", "Placeholder", "Demo", "Muster", "Müller", "Schmidt", "Schäfer",
    "Weiß", "Strauß", "Dubois", "Lefèvre", "Moreau", "García", "Núñez", "Rossi", "Bianchi",
    "Novak", "Kowalski", "Öztürk", "Åström", "Nørgaard", "O'Brien", "van der Berg", "Jensen",
    "Nguyen", "Okafor", "Tanaka", "Silva", "Fischer", "Becker", "Brontë",
]  # fmt: skip
DOMAINS = [  # (domain, weight)
    ("example.com", 30), ("example.org", 25), ("example.net", 20), ("mail.example.com", 8),
    ("shop.example.org", 5), ("kunden.example.net", 5), ("corp.example.com", 4),
    ("gmial.com", 1), ("gmail.com", 2),
]  # fmt: skip
IDN_DOMAINS = ["bücher.example", "münchen.example", "exämple.org"]
IDN_LOCAL_PREFIXES = ["josé", "zoë", "søren", "renée", "jürgen"]
GEO = generate_sample.GEO  # LATITUDE, LONGITUDE, GMTOFF, DSTOFF, TIMEZONE, CC, REGION
TAG_CELLS = [  # Mailchimp's TAGS cell form; None = no tags (most rows)
    '"Customers"', '"Customers","VIP"', '"Newsletter"', '"Leads"', '"Trade show 2025"',
    '"Newsletter","Webinar"', "Editors", None, None, None, None, None, None, None,
]  # fmt: skip
NOTES = ["Met at fair, booth 12", "Asked for the Q3 catalogue", 'Prefers "plain text"']
UNSUB_REASONS = [
    None, None, "N/A (Unsubscribed by an admin)", "I no longer want to receive these emails",
    "I never signed up for this mailing list", "The emails are spam and should be reported",
    "Other (fill in reason below)",
]  # fmt: skip
EVENT_WEIGHTS = [  # (event, share per mille)
    ("send", 340), ("delivered", 330), ("open", 220), ("click", 70), ("reply", 5),
    ("bounce", 10), ("soft_bounce", 10), ("complaint", 2), ("unsubscribe", 13),
]  # fmt: skip
N_CAMPAIGNS = 60

# ---------------------------------------------------------------- hashing

_GOLDEN = 0x9E3779B97F4A7C15
_MIX_STEPS = ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, None))


def _u64(value: int) -> pl.Expr:
    return pl.lit(value & 0xFFFFFFFFFFFFFFFF, dtype=U64)


def _mix_in_place(frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """Apply SplitMix64's finalizer to columns (u64 arithmetic in polars wraps, as needed).

    One `with_columns` per step on purpose: nesting the steps as one
    expression repeats `x` in every step, so the tree (and the time) doubles
    per step.
    """
    for shift, multiplier in _MIX_STEPS:
        step = [pl.col(n) ^ (pl.col(n) // (1 << shift)) for n in names]
        if multiplier is not None:
            step = [e * _u64(multiplier) for e in step]
        frame = frame.with_columns(e.alias(n) for e, n in zip(step, names, strict=True))
    return frame


def with_random(
    frame: pl.DataFrame, index: str, prefix: str, streams: Sequence[int], seed: int
) -> pl.DataFrame:
    """Add u64 columns `<prefix><stream>`: independent pseudo-random streams of `index`.

    Stream s of row i is mix(mix(i + seed*G) + (s+1)*G), so the same (seed,
    index, stream) always gives the same number, chunk boundaries included.
    """
    base = f"{prefix}base"
    frame = frame.with_columns((pl.col(index) + _u64(seed * _GOLDEN)).alias(base))
    frame = _mix_in_place(frame, [base])
    names = [f"{prefix}{s}" for s in streams]
    frame = frame.with_columns(
        (pl.col(base) + _u64((s + 1) * _GOLDEN)).alias(n)
        for s, n in zip(streams, names, strict=True)
    )
    return _mix_in_place(frame, names).drop(base)


def r(stream: int) -> pl.Expr:
    """Row-level random stream (added by `with_random(..., "_r", ...)`)."""
    return pl.col(f"_r{stream}")


def p(stream: int) -> pl.Expr:
    """Person-level random stream (added by `with_random(..., "_p", ...)`)."""
    return pl.col(f"_p{stream}")


def pick(pool: Sequence[object], index: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """`pool[index % len(pool)]` as an expression (a gather from a literal Series)."""
    series = pl.Series(values=list(pool), dtype=dtype or pl.String)
    return pl.lit(series).gather((index % len(pool)).cast(pl.Int64))


def weighted(pairs: Sequence[tuple[str, int]]) -> list[str]:
    """Expand (value, weight) pairs into a pool where each value repeats `weight` times."""
    return [value for value, weight in pairs for _ in range(weight)]


def hex_digits(value: pl.Expr, digits: int) -> pl.Expr:
    """Lower-case hex of the low `digits` nibbles (polars has no integer-to-hex)."""
    nibbles = [pick("0123456789abcdef", value // (16**k)) for k in reversed(range(digits))]
    return pl.concat_str(nibbles)


def ascii_fold(text: str) -> str:
    for src, dst in (("ß", "ss"), ("ø", "o"), ("Ø", "O"), ("æ", "ae")):
        text = text.replace(src, dst)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


# ---------------------------------------------------------------- people

ADDRESS_STREAMS = (10, 11, 12, 13, 14)
PERSON_STREAMS = (*ADDRESS_STREAMS, 15, 16, 17, 18, 19, 20)


def with_person(frame: pl.DataFrame, seed: int, *, address_only: bool = False) -> pl.DataFrame:
    """Add the columns that belong to the person in column `person` (not to the row).

    A person's canonical address is `<first>.<last><index>@<domain>`, unique
    by construction; ~2% are internationalized (half in the local part, half
    in the domain). `address_only` skips the rest (events need only `email`).
    """
    frame = with_random(
        frame, "person", "_p", ADDRESS_STREAMS if address_only else PERSON_STREAMS, seed
    )
    first_i, last_i = p(10) % len(FIRST_NAMES), p(11) % len(LAST_NAMES)
    idn, idn_kind = p(12) % 100 < 2, p(13)
    local = pl.concat_str(
        pick([ascii_fold(n) for n in FIRST_NAMES], first_i),
        pl.lit("."),
        pick([ascii_fold(n) for n in LAST_NAMES], last_i),
        pl.col("person").cast(pl.String),
    )
    frame = frame.with_columns(
        local=pl.when(idn & (idn_kind % 2 == 0))
        .then(pl.concat_str(pick(IDN_LOCAL_PREFIXES, idn_kind // 2), pl.lit("."), local))
        .otherwise(local),
        domain=pl.when(idn & (idn_kind % 2 == 1))
        .then(pick(IDN_DOMAINS, idn_kind // 2))
        .otherwise(pick(weighted(DOMAINS), p(14))),
    ).with_columns(email=pl.concat_str("local", pl.lit("@"), "domain"))
    if address_only:
        return frame

    created_s = AS_OF_S - 2 * DAY_S - (p(15) % (3100 * DAY_S)).cast(pl.Int64)
    imported = p(16) % 100 < 35  # imports have no opt-in time or IP
    ip = pl.concat_str(
        pick(["192.0.2.", "198.51.100.", "203.0.113."], p(19)),
        (p(20) % 254 + 1).cast(pl.String),
    )
    geo_i = p(18) % 18  # a third have geolocation
    frame = frame.with_columns(
        _created_s=created_s,
        _confirm_s=created_s + (p(17) % 400).cast(pl.Int64),
        _imported=imported,
        _ip=ip,
        **{"First Name": pick(FIRST_NAMES, first_i), "Last Name": pick(LAST_NAMES, last_i)},
        **{
            name: pick([g[k] for g in GEO] + [None] * 12, geo_i)
            for k, name in enumerate(SUBSCRIBED_HEADER[9:16])
        },
    )
    return frame.with_columns(
        OPTIN_TIME=pl.when(~pl.col("_imported")).then(pl.from_epoch("_created_s", time_unit="s")),
        OPTIN_IP=pl.when(~pl.col("_imported")).then(pl.col("_ip")),
        CONFIRM_TIME=pl.from_epoch("_confirm_s", time_unit="s"),
        CONFIRM_IP=pl.when(~pl.col("_imported")).then(pl.col("_ip")),
    )


# ---------------------------------------------------------------- frames


def contacts_chunk(start: int, end: int, seed: int) -> pl.DataFrame:
    row = pl.col("row")
    frame = pl.select(row=pl.int_range(start, end, dtype=U64))
    frame = with_random(frame, "row", "_r", range(9), seed)
    kind = r(0) % 10_000
    back = r(1) % pl.min_horizontal(row, pl.lit(5000, dtype=U64)).clip(1)
    frame = frame.with_columns(
        dup=(kind < 500) & (row > 0),  # ~5%: an earlier person again, spelled differently
        broken=(kind >= 500) & (kind < 800),  # ~3%
    ).with_columns(person=pl.when("dup").then(row - 1 - back).otherwise(row))
    frame = with_person(frame, seed)

    local, domain, email = pl.col("local"), pl.col("domain"), pl.col("email")
    variant = r(2) % 4
    dup_email = (
        pl.when(variant == 0)
        .then(email.str.to_uppercase())
        .when(variant == 1)
        .then(email.str.to_titlecase())
        .when(variant == 2)
        .then(pl.concat_str(pl.lit("  "), email, pl.lit(" ")))
        .otherwise(pl.concat_str(pl.lit("\u00a0"), email))
    )
    broken_email = (
        pl.when(variant == 0)
        .then(pl.concat_str(local, pl.lit("@@"), domain))
        .when(variant == 1)
        .then(pl.concat_str(local, pl.lit("."), domain))
        .when(variant == 2)
        .then(pl.concat_str(local, pl.lit("@")))
        .otherwise(pl.concat_str(local, pl.lit("@localhost")))
    )
    changed_s = pl.min_horizontal(
        pl.col("_confirm_s") + (r(3) % (400 * DAY_S)).cast(pl.Int64),
        pl.lit(AS_OF_S - DAY_S),
    )
    columns = {
        "Email Address": pl.when("dup")
        .then(dup_email)
        .when("broken")
        .then(broken_email)
        .otherwise(email),
        "First Name": pl.col("First Name"),
        "Last Name": pl.col("Last Name"),
        "EMAIL_TYPE": pick(["html"] * 19 + ["text"], r(4)),
        "MEMBER_RATING": pick([1, 2, 2, 2, 2, 3, 3, 4, 5], r(5), pl.Int64),
        **{name: pl.col(name) for name in SUBSCRIBED_HEADER[5:16]},
        "LAST_CHANGED": pl.from_epoch(changed_s, time_unit="s"),
        "LEID": (row + 100_000_000).cast(pl.Int64),
        "EUID": hex_digits(r(6), 10),
        "NOTES": pick(NOTES + [None] * 97, r(7)),
        "TAGS": pick(TAG_CELLS, r(8)),
    }
    return frame.select(**columns)


def unsubscribed_chunk(start: int, end: int, seed: int, campaigns: list[str]) -> pl.DataFrame:
    """Row k of the unsubscribed file is person k*25 + (0..24)."""
    row = pl.col("row")
    frame = pl.select(row=pl.int_range(start, end, dtype=U64))
    frame = with_random(frame, "row", "_r", range(30, 39), seed)
    frame = frame.with_columns(person=row * UNSUB_EVERY + r(30) % UNSUB_EVERY)
    frame = with_person(frame, seed)
    unsub_s = AS_OF_S - DAY_S - (r(31) % (400 * DAY_S)).cast(pl.Int64)
    frame = frame.with_columns(
        _unsub_s=pl.max_horizontal(unsub_s, pl.col("_confirm_s") + DAY_S),
        _reason=pick(UNSUB_REASONS, r(32)),
    )
    reason = pl.col("_reason")
    via_campaign = reason.is_not_null() & ~reason.str.starts_with("N/A")
    columns = {
        "Email Address": pl.when(r(34) % 10 == 0)
        .then(pl.col("email").str.to_uppercase())
        .otherwise("email"),
        "First Name": pl.col("First Name"),
        "Last Name": pl.col("Last Name"),
        "Company": pick(["Example Holdings", "Placeholder, Inc.", None, None], r(35)),
        "Position": pl.lit(None, dtype=pl.String),
        "ZIP Code": pl.lit(None, dtype=pl.String),
        "MEMBER_RATING": pick([1, 2, 2, 3], r(36), pl.Int64),
        **{name: pl.col(name) for name in SUBSCRIBED_HEADER[5:16]},
        "UNSUB_TIME": pl.from_epoch("_unsub_s", time_unit="s"),
        "UNSUB_CAMPAIGN_TITLE": pl.when(via_campaign).then(
            pl.concat_str(pl.lit("Newsletter "), (r(33) % N_CAMPAIGNS).cast(pl.String))
        ),
        "UNSUB_CAMPAIGN_ID": pl.when(via_campaign).then(pick(campaigns, r(33))),
        "UNSUB_REASON": reason,
        "UNSUB_REASON_OTHER": pl.when(reason.str.starts_with("Other")).then(
            pl.lit("Too many emails, please, fewer")
        ),
        "LEID": (pl.col("person") + 100_000_000).cast(pl.Int64),
        "EUID": hex_digits(r(37), 10),
        "NOTES": pl.lit(None, dtype=pl.String),
        "TAGS": pick(TAG_CELLS, r(38)),
    }
    return frame.select(**columns)


def events_chunk(
    start: int, end: int, seed: int, contacts: int, campaigns: list[str]
) -> pl.DataFrame:
    row = pl.col("row")
    frame = pl.select(row=pl.int_range(start, end, dtype=U64))
    frame = with_random(frame, "row", "_r", range(40, 47), seed)
    frame = frame.with_columns(person=r(41) % max(contacts, 1))
    frame = with_person(frame, seed, address_only=True)
    frame = frame.with_columns(_event=pick(weighted(EVENT_WEIGHTS), r(42)))
    event = pl.col("_event")
    ts_s = AS_OF_S - 1 - (r(43) % (200 * DAY_S)).cast(pl.Int64)
    # ~0.1% repeat the previous row's event id (webhook retries).
    id_row = pl.when((r(44) % 1000 == 0) & (row > 0)).then(row - 1).otherwise(row)
    columns = {
        # ~0.5% are for addresses no export has.
        "email": pl.when(r(40) % 1000 < 5)
        .then(pl.concat_str(pl.lit("unknown"), row.cast(pl.String), pl.lit("@example.net")))
        .otherwise("email"),
        "event": event,
        "timestamp": pl.from_epoch(ts_s, time_unit="s"),
        "campaign_id": pick(campaigns, r(45)),
        "event_id": pl.concat_str(pl.lit("evt_"), id_row.cast(pl.String).str.zfill(12)),
        "machine_open": pl.when(event == "open").then(
            pl.when(r(46) % 100 < 15).then(pl.lit("true")).otherwise(pl.lit("false"))
        ),
    }
    return frame.select(**columns)


# ---------------------------------------------------------------- writing


def write_chunked(
    path: Path,
    total: int,
    make: Callable[[int, int], pl.DataFrame],
    header: list[str],
    datetime_format: str,
) -> None:
    """Write `total` rows chunk by chunk to a temp file, then move it into place."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        if total == 0:
            fh.write((",".join(header) + "\n").encode())
        for start in range(0, total, CHUNK_ROWS):
            chunk = make(start, min(start + CHUNK_ROWS, total))
            assert chunk.columns == header
            chunk.write_csv(
                fh,
                include_header=start == 0,
                datetime_format=datetime_format,
                quote_style="necessary",
            )
    os.replace(tmp, path)


def campaign_ids(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(40):010x}" for _ in range(N_CAMPAIGNS)]


def params_for(contacts: int, events: int, seed: int) -> dict[str, Any]:
    return {
        "generator_version": GENERATOR_VERSION,
        "contacts": contacts,
        "events": events,
        "seed": seed,
        "unsubscribed_rows": contacts // UNSUB_EVERY,
    }


def ensure_inputs(
    out: Path, contacts: int, events: int, seed: int = DEFAULT_SEED, force: bool = False
) -> dict[str, Any]:
    """Generate the inputs into `out` unless a matching stamp says they are there.

    Returns the stamp (params plus file sizes and generation seconds).
    """
    out.mkdir(parents=True, exist_ok=True)
    params = params_for(contacts, events, seed)
    stamp_path = out / PARAMS_FILE
    if not force and stamp_path.exists():
        stamp = json.loads(stamp_path.read_text())
        sizes = stamp.get("files", {})
        intact = all((out / n).exists() and (out / n).stat().st_size == s for n, s in sizes.items())
        if stamp.get("params") == params and intact and sizes:
            stamp["reused"] = True
            return stamp
    stamp_path.unlink(missing_ok=True)  # never leave a stamp that describes half-written files

    campaigns = campaign_ids(seed)
    seconds: dict[str, float] = {}
    unsub_rows = contacts // UNSUB_EVERY
    jobs: list[tuple[str, int, Callable[[int, int], pl.DataFrame], list[str], str]] = [
        (
            CONTACTS_FILE,
            contacts,
            lambda a, b: contacts_chunk(a, b, seed),
            SUBSCRIBED_HEADER,
            "%Y-%m-%d %H:%M:%S",
        ),
        (
            UNSUB_FILE,
            unsub_rows,
            lambda a, b: unsubscribed_chunk(a, b, seed, campaigns),
            UNSUB_HEADER,
            "%Y-%m-%d %H:%M:%S",
        ),
        (
            EVENTS_FILE,
            events,
            lambda a, b: events_chunk(a, b, seed, contacts, campaigns),
            EVENTS_HEADER,
            "%Y-%m-%dT%H:%M:%SZ",
        ),
    ]
    for name, total, make, header, fmt in jobs:
        started = time.perf_counter()
        write_chunked(out / name, total, make, header, fmt)
        seconds[name] = round(time.perf_counter() - started, 3)

    stamp = {
        "params": params,
        "files": {name: (out / name).stat().st_size for name, *_ in jobs},
        "generate_seconds": seconds,
        "polars": pl.__version__,
    }
    tmp = stamp_path.with_name(PARAMS_FILE + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, stamp_path)
    stamp["reused"] = False
    return stamp


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate synthetic benchmark inputs.")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="regenerate even if the stamp matches")
    args = parser.parse_args(argv)
    if args.contacts < 0 or args.events < 0:
        parser.error("--contacts and --events must be >= 0")
    started = time.perf_counter()
    stamp = ensure_inputs(args.out, args.contacts, args.events, args.seed, args.force)
    verb = "reused" if stamp["reused"] else "generated"
    print(f"{verb} {args.out} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    for name, size in sorted(stamp["files"].items()):
        secs = stamp.get("generate_seconds", {}).get(name, "")
        print(f"  {name:<45} {size / 1e6:10.1f} MB  {secs}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
