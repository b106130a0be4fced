"""Time `contacts_merged` on synthetic rows: N rows, a share of them duplicates.

    .venv/bin/python bench/merge.py [ROWS] [DUP_SHARE]   (default 1000000 0.10)

Duplicates are spread over 3 files, use case and whitespace variants of the
kept address, carry random statuses, times, tags and custom fields; the rows
themselves are built with polars (the build is not timed).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import polars as pl

from listhygiene.merge import contacts_merged, load_merge_rules


def build(n: int, share: float) -> pl.DataFrame:
    n_dup = int(n * share)
    n_unique = n - n_dup
    person = pl.concat(
        [
            pl.int_range(n_unique, eager=True),
            (pl.int_range(n_dup, eager=True) * 7919) % n_unique,
        ]
    ).alias("p")
    i = pl.int_range(n, eager=True).alias("i")
    base = pl.DataFrame([i, person]).with_columns(
        key=pl.when(pl.col("p") % 4 == 0)
        .then(pl.format("first.last{}@gmail.com", pl.col("p")))
        .when(pl.col("p") % 1000 == 1)  # a possible duplicate of the gmail address p - 1
        .then(pl.format("firstlast{}+news@googlemail.com", pl.col("p") - 1))
        .otherwise(pl.format("user{}@example{}.com", pl.col("p"), pl.col("p") % 97)),
    )
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    status = pl.Series(["active", "active", "active", "unsubscribed", "bounced", "complained"])
    return (
        base.select(
            source_file=pl.format("file{}.csv", pl.col("i") % 3),
            source_row=pl.col("i") // 3 + 2,
            email=pl.when(pl.col("i") % 5 == 0)
            .then(pl.col("key").str.to_uppercase())
            .otherwise(pl.col("key")),
            first_name=pl.when(pl.col("i") % 4 == 0).then(None).otherwise(pl.format("F{}", "i")),
            last_name=pl.format("L{}", pl.col("p")),
            phone=pl.lit(None, pl.String),
            phone_valid=pl.lit(None, pl.Boolean),
            company=pl.when(pl.col("i") % 3 == 0).then(pl.lit("Acme")),
            job_title=pl.lit(None, pl.String),
            tags=pl.when(pl.col("i") % 2 == 0)
            .then(pl.concat_list(pl.lit("VIP"), pl.format("t{}", pl.col("i") % 11)))
            .otherwise(None),
            source=pl.lit("import"),
            status=pl.lit(None, pl.String),
            status_reason=pl.lit(None, pl.String),
            status_changed_at=pl.lit(None, pl.Datetime("us", "UTC")),
            created_at=pl.lit(t0) + pl.duration(hours=pl.col("i") % 5000),
            last_changed=pl.when(pl.col("i") % 2 == 0).then(
                pl.lit(t0) + pl.duration(minutes=pl.col("i") % 100000)
            ),
            external_id=pl.format("x{}", "i"),
            social_profiles=pl.lit(None, pl.String),
            custom_fields=pl.when(pl.col("i") % 3 == 0).then(
                pl.concat_str(
                    pl.lit('{"plan":"p'),
                    (pl.col("i") % 4).cast(pl.String),
                    pl.lit('","n":'),
                    pl.col("i").cast(pl.String),
                    pl.lit("}"),
                )
            ),
            email_key=pl.col("key"),
            dns_status=pl.lit("not_checked"),
            role_account=pl.lit(False),
            disposable=pl.lit(False),
            free_provider=pl.lit(False),
            did_you_mean=pl.lit(None, pl.String),
            verdict=pl.lit("valid"),
            verdict_reason=pl.lit(None, pl.String),
            email_input=pl.when(pl.col("i") % 7 == 0)
            .then(pl.format(" {} ", pl.col("key")))
            .otherwise(pl.col("key")),
            __s=pl.col("i") % 6,
        )
        .with_columns(
            status=pl.col("__s").replace_strict(dict(enumerate(status.to_list()))),
        )
        .drop("__s")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Time contacts_merged on synthetic rows.")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duplicate-share", type=float, default=0.10)
    args = parser.parse_args()
    n, share = args.rows, args.duplicate_share
    frame = build(n, share)
    rules = load_merge_rules()
    order = {f"file{k}.csv": k for k in range(3)}
    for _ in range(3):
        start = time.perf_counter()
        m = contacts_merged(frame, order, rules)
        took = time.perf_counter() - start
        print(
            f"{n:,} rows, {m.duplicates_merged:,} merged away, {m.unique_contacts:,} contacts, "
            f"{m.possible_duplicates.height:,} possible: {took:.2f} s"
        )
    assert m.unique_contacts + m.duplicates_merged == n


if __name__ == "__main__":
    main()
