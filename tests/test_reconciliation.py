"""Every run accounts for every row: input_rows = rejected + duplicates_merged +
unique_contacts, on random files with duplicates, case and whitespace variants,
suppressions and broken rows; and no suppressed person comes out active."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listhygiene.deliverability import DnsOptions
from listhygiene.run import RunOptions, execute

PEOPLE = ["ann", "bob", "cy", "dee", "eve"]
DOMAINS = ["example.com", "example.org"]
STATUSES = ["", "subscribed", "unsubscribed", "cleaned", "complained", "active"]
RANK = {"complained": 3, "bounced": 2, "unsubscribed": 1, "active": 0}
CANON = {
    "": "active",
    "subscribed": "active",
    "active": "active",
    "unsubscribed": "unsubscribed",
    "cleaned": "bounced",
    "complained": "complained",
}


def _address(person: int, domain: int, variant: int) -> str:
    base = f"{PEOPLE[person]}@{DOMAINS[domain]}"
    return [base, base.upper(), f"  {base} ", f"{PEOPLE[person].title()} <{base}>", base + "."][
        variant
    ]


row = st.one_of(
    st.tuples(
        st.integers(0, 4), st.integers(0, 1), st.integers(0, 4), st.sampled_from(STATUSES)
    ).map(lambda t: ("ok", _address(*t[:3]), t[3])),
    st.sampled_from(
        [("broken", "not-an-address", ""), ("broken", "x@@y.com", ""), ("ragged", "", "")]
    ),
)
files = st.lists(st.lists(row, min_size=1, max_size=12), min_size=1, max_size=3)


def _write(path: Path, rows: list[tuple[str, str, str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["email", "status", "first_name"])
    for kind, email, status in rows:
        if kind == "ragged":
            buf.write("a@example.net,active,x,extra\n")
        else:
            w.writerow([email, status, "N"])
    path.write_text(buf.getvalue(), encoding="utf-8")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files)
def test_reconciliation_holds_and_suppressions_survive(generated):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = []
        for i, rows in enumerate(generated):
            p = root / f"f{i}.csv"
            _write(p, rows)
            paths.append(p)
        result = execute(
            RunOptions(
                inputs=paths,
                out=root / "out",
                db=root / "s.duckdb",
                as_of=datetime(2026, 11, 1, tzinfo=UTC),
                dns=DnsOptions("off"),
            )
        )
        rec = result.manifest["reconciliation"]
        all_rows = [r for rows in generated for r in rows]
        assert rec["input_rows"] == len(all_rows)
        assert (
            rec["input_rows"] == rec["rejected"] + rec["duplicates_merged"] + rec["unique_contacts"]
        )
        assert rec["rejected"] == sum(kind != "ok" for kind, _, _ in all_rows)
        contacts = pl.read_parquet(root / "out" / "contacts.parquet")
        assert contacts["email_key"].is_unique().all()
        # the worst status any row gave a person is the person's status
        worst: dict[str, str] = {}
        for kind, email, status in all_rows:
            if kind != "ok":
                continue
            key = email.strip().rstrip(".").split("<")[-1].rstrip(">").lower()
            s = CANON[status]
            if key not in worst or RANK[s] > RANK[worst[key]]:
                worst[key] = s
        assert dict(contacts.select("email_key", "status").iter_rows()) == worst
        assert rec["unique_contacts"] == len(worst)
        manifest = json.loads((root / "out" / "manifest.json").read_text())
        assert manifest["reconciliation"] == rec


def test_rejected_addresses_after_valid_ones_do_not_crash_polars(tmp_path):
    """The input on which polars 2.1 panicked ("assertion failed: i < self.len()") while
    writing the reject sentences of a filtered column read by DuckDB (found by the
    property test above): two valid rows, then two invalid ones."""
    p = tmp_path / "p.csv"
    p.write_text(
        "email,status,first_name\nDEE@EXAMPLE.COM,unsubscribed,N\n"
        "Eve <eve@example.org>,complained,N\nx@@y.com,,N\nnot-an-address,,N\n",
        encoding="utf-8",
    )
    result = execute(
        RunOptions(
            inputs=[p],
            out=tmp_path / "out",
            db=tmp_path / "s.duckdb",
            as_of=datetime(2026, 11, 1, tzinfo=UTC),
            dns=DnsOptions("off"),
        )
    )
    assert result.manifest["reconciliation"] == {
        "input_rows": 4, "rejected": 2, "duplicates_merged": 0, "unique_contacts": 2
    }  # fmt: skip
    rejects = (tmp_path / "out" / "rejects.csv").read_text().splitlines()
    assert [r.split(",")[2] for r in rejects[1:]] == ["x@@y.com", "not-an-address"]
