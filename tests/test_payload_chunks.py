"""Payloads built a chunk of contacts at a time (pipeline/payloads.PayloadBuilder): the
bodies must be those of one pass over all contacts, however the contacts are chunked,
or a large list (many chunks) and a small one, or the two engines, would differ."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_payloads import RULES, contact, contacts

from listhygiene.existing import AccountMatcher, import_preview, reconcile
from listhygiene.payloads import TARGETS, PayloadBuilder, build_payloads
from listhygiene.payloads.batches import record_batches
from listhygiene.payloads.common import Sink

# small caps, so that a few contacts make several bodies (and the byte cap cuts some)
SMALL = replace(RULES, misarmail_batch=3, misar_mail_batch=2, mailerdash_batch=4,
                max_body_bytes=1_500)  # fmt: skip


def _chunked(frame: pl.DataFrame, cuts: list[int], classes: pl.DataFrame | None,
             account: pl.DataFrame | None) -> dict:  # fmt: skip
    kept: dict[str, dict[str, bytes]] = {}

    def sink(target: str) -> Sink:
        def keep(file: str, parts: Iterable[bytes], rows: int | None) -> None:
            kept.setdefault(target, {})[file] = b"".join(parts)

        return keep

    with tempfile.TemporaryDirectory() as tmp:
        builder = PayloadBuilder(TARGETS, SMALL, Path(tmp), classes is not None, account)
        lo = 0
        for n in [*cuts, frame.height]:
            builder.add(frame.slice(lo, n), classes)
            lo += n
            if lo >= frame.height:
                break
        summaries = {name: t for name, t in builder.finish(sink)}
    return {"bodies": kept, "targets": summaries}


def _whole(frame: pl.DataFrame, classes: pl.DataFrame | None, account: pl.DataFrame | None) -> dict:
    p = build_payloads(frame, TARGETS, SMALL, classes=classes, account=account)
    bodies = {
        name: {r.file: r.body for r in [*t.requests, *t.alternatives]}
        | {rel: body for rel, body, _ in t.files}
        for name, t in p.targets.items()
    }
    return {"bodies": {k: v for k, v in bodies.items() if v}, "targets": p.targets}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(contact, min_size=1, max_size=30),
    cuts=st.lists(st.integers(0, 9), max_size=8),
    with_account=st.booleans(),
)
def test_chunks_give_the_bodies_of_one_pass(
    rows: list[dict], cuts: list[int], with_account: bool
) -> None:
    frame = contacts(rows).unique("email_key", keep="first", maintain_order=True)
    account = classes = None
    if with_account:  # every other contact is in the account, some with other names
        account = frame.gather_every(2).select(
            "email_key", "email", pl.format("id{}", pl.int_range(pl.len())).alias("account_id"),
            pl.lit("active").alias("account_status"), pl.lit("Other").alias("first_name"),
            pl.col("tags"),
        )  # fmt: skip
        classes = reconcile(frame, account).classes
    whole, chunked = _whole(frame, classes, account), _chunked(frame, cuts, classes, account)
    assert chunked["bodies"] == whole["bodies"]
    for name, t in whole["targets"].items():
        c = chunked["targets"][name]
        assert (c.sent, c.left_out) == (t.sent, t.left_out)
        assert [r.describe(name) for r in c.requests] == [r.describe(name) for r in t.requests]
        assert len(c.warnings) == len(t.warnings) <= 1  # one frame, in one order
        assert all(a.equals(b) for a, b in zip(c.warnings, t.warnings, strict=True))


def test_the_account_matcher_over_chunks_is_reconcile_and_the_preview() -> None:
    ours = contacts([{"email": f"p{i}@example.com", "first_name": f"N{i % 3}"} for i in range(23)])
    account = pl.DataFrame(
        {
            "email_key": [f"p{i}@example.com" for i in range(0, 40, 3)],
            "email": [f"P{i}@example.com" for i in range(0, 40, 3)],
            "account_id": [f"a{i}" for i in range(0, 40, 3)],
            "account_status": ["unsubscribed" if i % 2 else "active" for i in range(0, 40, 3)],
            "first_name": [f"N{i % 2}" for i in range(0, 40, 3)],
        }
    )
    whole = reconcile(ours, account)
    matcher = AccountMatcher(account, received_rows=30)
    parts = [matcher.add(ours.slice(lo, 5)) for lo in range(0, ours.height, 5)]
    parts.append(matcher.rest())
    assert pl.concat(parts).equals(whole.classes)
    assert matcher.preview() == import_preview(ours, account, 30, whole)
    assert matcher.counts["only_in_account"] == 6


def _greedy(texts: list[str], max_count: int, max_bytes: int, overhead: int) -> list[str]:
    """The cuts by their definition, one record at a time."""
    out, batch, size = [], [], overhead + 1
    for t in texts:
        n = len(t.encode()) + 1
        if batch and (len(batch) >= max_count or size + n > max_bytes):
            out.append("[" + ",".join(batch) + "]")
            batch, size = [], overhead + 1
        batch.append(t)
        size += n
    return [*out, "[" + ",".join(batch) + "]"] if batch else out


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 60), max_size=80),
    cuts=st.lists(st.integers(0, 30), max_size=6),
    max_count=st.integers(1, 9),
    max_bytes=st.integers(20, 200),
)
def test_record_batches_cut_as_one_record_at_a_time(
    sizes: list[int], cuts: list[int], max_count: int, max_bytes: int
) -> None:
    texts = [f'"{"é" * (n // 2)}{"x" * (n % 2)}"' for n in sizes]  # multi-byte on purpose
    series, lo = [], 0
    for n in [*cuts, len(texts)]:
        series.append(pl.Series(texts[lo : lo + n], dtype=pl.String))
        lo += n
    got = [text for text, _ in record_batches(series, max_count, max_bytes, overhead=9)]
    assert got == _greedy(texts, max_count, max_bytes, overhead=9)
