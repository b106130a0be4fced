"""The contacts' counts (pipeline/contact_counts.py): what the Spark engine's shards count
must add up to what one count of all contacts gives, or health.json and the report
would differ between the engines."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from report_data import AS_OF, report_contacts

from listhygiene.contact_counts import contact_counts, summed_counts
from listhygiene.health import list_health, load_health_rules

CONTACTS = report_contacts()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=CONTACTS.height, max_size=CONTACTS.height))
def test_counts_of_any_split_sum_to_the_counts_of_the_whole(parts: list[int]) -> None:
    whole = contact_counts(CONTACTS, AS_OF, 90)
    keyed = CONTACTS.with_columns(pl.Series("__part", parts))
    split = [
        contact_counts(keyed.filter(pl.col("__part") == k).drop("__part"), AS_OF, 90)
        for k in range(7)  # some parts empty
    ]
    summed = summed_counts(split)
    assert summed.states.equals(whole.states)
    assert summed.domains.equals(whole.domains)
    assert summed.sends == whole.sends
    rules = load_health_rules()
    assert list_health(summed, rules, AS_OF, 90, None).stats == (
        list_health(whole, rules, AS_OF, 90, None).stats
    )


def test_the_counts_are_those_of_the_rows() -> None:
    counted = contact_counts(CONTACTS, AS_OF, 90)
    assert counted.total == CONTACTS.height
    by_status = dict(counted.of("status").iter_rows())
    assert by_status == dict(CONTACTS.get_column("status").value_counts().iter_rows())
    domains = CONTACTS.get_column("email_key").str.extract(r"@([^@]*)$")
    assert dict(counted.domains.group_by("domain").agg(pl.col("n").sum()).iter_rows()) == dict(
        domains.value_counts().iter_rows()
    )
    assert counted.sends == CONTACTS.get_column("sends").sum()


def test_no_parts_count_no_contacts() -> None:
    empty = summed_counts([])
    assert empty.total == 0 and empty.domains.is_empty() and empty.sends == 0
    assert empty.states.schema == contact_counts(CONTACTS.clear(), AS_OF, 90).states.schema
