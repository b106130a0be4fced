"""misar-io (seed 003): one upsert body per line for `?upsert=1`, within every limit of
the seed, and the pacing plan for 200 writes per 60 s."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl

from ..schemas.payloads import MisarIoContact
from .batches import Request, Spool
from .common import (
    Sink,
    TargetPayloads,
    absorb,
    lines_body,
    records_of,
    sendable,
    spooled,
    status_as,
    tally,
)
from .records import Field, custom_fields_fix, objects_within_limits, social_profiles_fix
from .rules import PayloadRules

MISAR_IO_FIELDS = (
    Field("email", "email", max_chars=254),
    Field("firstName", "first_name", max_chars=100),
    Field("lastName", "last_name", max_chars=100),
    Field("phone", "phone", max_chars=50),
    Field("company", "company", max_chars=150),
    Field("jobTitle", "job_title", max_chars=100),
    Field("socialProfiles", "social_profiles", "json"),
    Field("status", "__status"),
    Field("customFields", "custom_fields", "json"),
    Field("source", "source", max_chars=100),
)
UPSERT_PATH = "/io/contacts/contacts?upsert=1"


class MisarIo:
    """misar-io's payloads, fed the selection a chunk of contacts at a time."""

    name = "misar-io"

    def __init__(self, rules: PayloadRules, tmp: Path) -> None:
        self.t = TargetPayloads()
        self.rules = rules
        self.spools = {"records": Spool(tmp, "misar-io")}

    def add(self, sel: pl.DataFrame) -> None:
        t, rules = self.t, self.rules
        status = status_as("subscribed", None)
        go = sendable(sel, status, MISAR_IO_FIELDS, "misar-io", rules, t)
        cf = pl.col("custom_fields")
        # cheap bound: every key is followed by `":`, so fewer than 21 of them means ≤ 20 keys
        maybe_over = (cf.str.len_bytes() > 8192) | (cf.str.count_matches('":', literal=True) > 20)
        go = absorb(objects_within_limits(
            go, "custom_fields", "customFields", custom_fields_fix(20, 8192), "misar-io",
            rules.policy, "20 keys, 8192 bytes", maybe_over), t)  # fmt: skip
        go = absorb(objects_within_limits(
            go, "social_profiles", "socialProfiles", social_profiles_fix(500), "misar-io",
            rules.policy, "documented keys, 500 characters"), t)  # fmt: skip
        made = records_of(go, MISAR_IO_FIELDS, MisarIoContact, "misar-io")
        self.spools["records"].append(spooled(go, made))
        tally(t, go, go.head(0), None)

    def finish(self, sink: Sink) -> TargetPayloads:
        t, rules = self.t, self.rules
        count = self.spools["records"].rows
        if count:
            req = Request("upserts.ndjson", "POST", UPSERT_PATH, "application/x-ndjson", count,
                          b"", {"one_request_per_line": True})  # fmt: skip
            req.body = sink(req.file, lines_body(self.spools["records"].column("r")), count) or b""
            t.requests.append(req)
        windows = math.ceil(count / rules.misar_io_writes)
        plan = {
            "requests": count,
            "method": "POST",
            "path": UPSERT_PATH,
            "file": "payloads/misar-io/upserts.ndjson",
            "writes_per_window": rules.misar_io_writes,
            "window_seconds": rules.misar_io_window_seconds,
            "windows": windows,
            # the first window starts at once; each later one waits for the window to pass
            "minimum_seconds": max(windows - 1, 0) * rules.misar_io_window_seconds,
        }
        body = (json.dumps(plan, indent=2) + "\n").encode()
        t.files.append(("plan.json", sink("plan.json", [body], None) or b"", None))
        return t
