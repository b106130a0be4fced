"""A real local HTTP server implementing the four target APIs' import endpoints (seeds 000,
001, 003, 004), for round-trip tests of the payloads the pipeline writes.

Usage::

    with SeedAPI() as api:                       # or the `seed_api` pytest fixture
        api.preload("misarmail", [{"id": "con_1", "email": "a@example.com",
                                   "status": "unsubscribed"}])
        r = api.request("misarmail", "POST", "/mail/v1/contacts/import",
                        {"contacts": [...], "skipExisting": False})
        r.status, r.body                         # 200, {"success": True, "imported": ...}
        api.url("misarmail")                     # http://127.0.0.1:<port> for any client
        api.state("misarmail")                   # contacts as the target's list returns them
        api.totals("misarmail")                  # summed counts of every import answer
        api.outcomes("misarmail")                # created / updated / skipped / failed rows
        api.request_count("misarmail", "POST /v1/contacts/import")

Each target is its own `ThreadingHTTPServer` on its own port of 127.0.0.1 (like separate
hosts: seeds 000 and 001 both document a `/mail/v1/contacts/import` path with different
bodies). Nothing ever binds another address. State is in memory, per target, guarded by one
lock per target. `api.clock` (a callable returning epoch seconds; `FakeClock` for tests)
drives the Misar IO rate limit and every timestamp the server writes.

Endpoints (paths exact, one trailing `/` tolerated; anything else 404, a known path with
another method 405):

* misarmail (seed 000; `/v1/contacts...`, also with a `/mail` prefix):
  `GET /v1/contacts` (status, search, page, limit), `POST /v1/contacts`,
  `POST /v1/contacts/import`, `PATCH /v1/contacts/bulk`, `DELETE /v1/contacts/bulk`,
  `GET /v1/contacts/:id`, `PATCH /v1/contacts/:id`.
* misar-mail (seed 001; `/api/v1/contacts...`, `/mail/api/v1/contacts...` = base URL
  `https://api.misar.io/mail` + path, and the `/mail/v1/contacts...` spelling of the
  headings): `GET` (list), `POST` (create), `POST .../import` (JSON or `text/csv`),
  `PATCH .../:id`, `DELETE .../:id`.
* misar-io (seed 003): `POST /io/contacts/contacts[?upsert=1]`.
* mailerdash (seed 004; `/v1/bulk/contacts...`): `GET` (list, `format=csv` too), `POST`
  (create or update), `POST .../import`, `POST .../import-preview`, `POST .../delete`,
  `GET|PATCH|DELETE .../{email}`.

Decisions where the seeds are silent (each is also commented where it is made):

General
 1. Email identity is case-insensitive (the lower-cased address is the key); the spelling
    stored is the first one the account saw.
 2. Email validity is a simple RFC-ish dot-atom check (`email_ok`): one `@`, local part
    <= 64 bytes of atext/non-ASCII with no leading, trailing or double dot, a domain of
    >= 2 labels (letters, digits, `-` or non-ASCII; no edge hyphen; <= 63 each), a
    non-numeric TLD, <= 254 characters in all. Non-ASCII is accepted (the pipeline's
    email-validator allows SMTPUTF8); quoted local parts and IP literals are not.
 3. "N characters" is counted in UTF-16 code units (JavaScript's `.length`), the stricter
    reading: an emoji counts 2. `8 KB` is 8,192 bytes of compact UTF-8 JSON (CONTRACT.md).
 4. `strict=True` (default): a body field a seed does not list is an error (a row error in
    bulk imports, a 400 elsewhere) so that a payload writer's misspelled field cannot pass
    unnoticed; `strict=False` ignores such fields instead (except Misar IO's unknown
    `socialProfiles` keys, always silently dropped as the seed says).
 5. A top-level optional field sent as JSON `null` is treated as absent (not stored, not
    cleared). Inside `socialProfiles`, `null` is a value (seed 003: "string ... or null").
 6. Malformed JSON (or a body of the wrong JSON type) is a 400 for the whole request;
    Content-Type is not checked except that `text/csv` selects the CSV import of 001.
 7. Error bodies: `{"success": false, "error": msg}` for 000/001 (their answers carry
    `success`), `{"error": msg}` for 003/004.
 8. Updates replace every field they provide (tags, objects included, no merging) and keep
    the ones they omit; a status changes only when the body gives one. Every status change
    of an existing contact is recorded (`api.status_changes(target)`), so a test can check
    that no import made a suppressed contact active again.
 9. The same email twice in one bulk request: the second occurrence meets the contact the
    first one created, i.e. it counts as an existing contact (skipped or updated).
10. Authentication is not checked; the `Authorization` header value is the "user" of the
    Misar IO rate limit.
misarmail (000)
11. Import: "max 10 000 per request" -> more is a 400 for the whole request, nothing
    stored; 10,000 is accepted. An empty array is accepted.
12. Import: `skipExisting` defaults to false; the seed's answer has only
    `imported/skipped/failed`, so with skipExisting false an existing contact is updated
    and counted in `imported`; with true it is untouched and counted in `skipped`. A row
    that fails validation counts in `failed` only: imported + skipped + failed = rows.
    `errors` entries are `{row, email, error}` as in seed 001, row = 1-based position.
13. Import `tags` (top level) are appended to every imported or updated contact's tags
    (after the row's own tags, no repeats).
14. Create / import `status`: "active (default) | unsubscribed"; any other value is a row
    error ("status must be active or unsubscribed"), although the list filter also knows
    bounced and complained (a preloaded account may hold those).
15. `POST /v1/contacts` answers 201 `{success, data}`; a duplicate email is 409
    "Contact already exists" (000 documents no 409; 001 and 003 do).
16. `PATCH /v1/contacts/bulk`: `ids` non-empty array; any unknown id -> 404 naming it and
    nothing is changed; `update` any subset of create fields, `email` -> 400 "email cannot
    be changed"; answer `{success, updated}`. `DELETE /v1/contacts/bulk` -> `{success,
    deleted}`, same 404 rule.
17. Ids `con_000001`, ...; a new contact's `score` is 0.
misar-mail (001)
18. Import answer: `imported` new, `updated` existing (update_existing true), `skipped`
    existing (update_existing false) plus every row in `errors` (so imported + updated +
    skipped = rows, which the seed's example 1842 + 143 + 15 = 2000 suggests).
19. `update_existing` defaults to false ("updated instead of skipped"); for a CSV body it
    is the query parameter `?update_existing=true` (or `1`).
20. No per-request cap is documented for 001, so none is enforced (`max_import=None`).
21. CSV: UTF-8 (BOM allowed), `,`-delimited, header required with an `email` column
    (exact name). The columns are the seed example's only: email, firstName, lastName,
    tags. A `status` (or any other) column is a 400 in strict mode and ignored otherwise,
    as a real server might do: a CSV cannot carry a suppressed status, and CSV contacts
    are created `subscribed`. An empty cell is an absent field; the `tags` cell is split on `;` or `,` (the example
    shows one tag only), each tag stripped, empty tags dropped. A row whose cell count
    differs from the header, undecodable bytes or no email column -> 400 "Invalid CSV
    format or missing email column"; an unknown column (strict) -> 400. CSV `row` in
    `errors` is the spreadsheet row (header = 1); JSON `row` is the 1-based position.
22. Row errors: "email is required", "Invalid email format" (the seed's), "Too many tags
    (max 50)", "status must be subscribed, unsubscribed, bounced, or complained", type
    errors "<field> must be a string|an array of strings|an object".
23. `POST /api/v1/contacts` answers 201 `{success, contact: {id, email}}`; 409 "Email
    already exists in your contacts". Plans: `store.plan` "pro" (default) or "free"
    (import -> 403 "Bulk import not available on Free plan"); `store.contact_limit`
    (default None) -> 403 "Contact limit reached for your plan" / "Contact limit would be
    exceeded by this import" (whole import refused).
24. Ids are UUID-shaped, from a counter. List `limit` is clipped to 100.
misar-io (003)
25. 201 `{"data": contact}` when created, 200 `{"data": contact}` when `?upsert=1`
    updated an existing contact. `upsert` is on when the parameter is `1` or `true`.
26. Validation order is the seed's field order; the first failure is the 400 message:
    "A valid email is required" (missing, not a string, or invalid), "email must be 254
    characters or fewer", "<field> must be N characters or fewer" (firstName 100, lastName
    100, phone 50, company 150, jobTitle 100, source 100), "<field> must be a string",
    "socialProfiles must be an object", "socialProfiles.<key> must be a string or null",
    "socialProfiles.<key> must be 500 characters or fewer", "customFields must be an
    object", "customFields must have 20 keys or fewer", "customFields must be 8 KB or
    smaller", "status must be subscribed, unsubscribed, bounced, or complained",
    "workspaceId must be a UUID". Unknown socialProfiles keys are dropped before their
    values are checked (and counted in `api.totals("misar-io")["dropped_social_keys"]`).
27. Rate limit: a sliding window, the strictest reading of "200 writes per user per 60
    seconds": a request is refused with 429 "Too many requests" (and `Retry-After`) when
    200 requests of that user were admitted in (now - 60 s, now]. Every request to the
    write endpoint counts (400 and 409 included: the limit is checked before the body);
    a refused (429) request does not count.
28. The answer's contact is the seed's snake_case shape plus `custom_fields`, `source`,
    `workspace_id`, `updated_at`; ids `cnt_000001`; `lead_score` 0.
mailerdash (004)
29. Import body must be a JSON array (else 400); each entry email (required, valid), name
    (string), metadata (object); `status` is not an import field (strict: row error). The
    207 body is `{created, updated, failed, errors}` with errors `{index, email, error}`,
    index 0-based in the array; created + updated + failed = entries. No cap is
    documented, none is enforced. An update replaces name/metadata when given, never the
    status; new contacts are `active`.
30. import-preview: `existing` lists the received spellings (first occurrence, input
    order) of the emails the account holds; `total_unique` counts case-insensitively.
31. delete: `requested` = len(emails); `not_found` lists received spellings; `forbidden`
    lists contacts whose `key_id` differs from `store.key_id` when that is set (default
    None: the caller owns every contact); forbidden ones are kept.
32. List answer `{data, total, limit, offset}`; ids are integers from 1.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

HOST = "127.0.0.1"  # the only address this module ever binds
TARGETS = ("misarmail", "misar-mail", "misar-io", "mailerdash")

# --------------------------------------------------------------------------- helpers


class FakeClock:
    """An injectable clock for `SeedAPI.clock`: epoch seconds that only move when told."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:  # 2026-05-28
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]+$")
_LABEL = re.compile(
    r"^[A-Za-z0-9\u0080-\U0010FFFF]([A-Za-z0-9\-\u0080-\U0010FFFF]*[A-Za-z0-9\u0080-\U0010FFFF])?$"
)


def email_ok(value: object) -> bool:
    """Decision 2: a simple RFC-ish check (dot-atom local part, dotted domain)."""
    if not isinstance(value, str) or not value or len(value) > 254 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not local or len(local.encode()) > 64 or not all(_ATEXT.match(a) for a in local.split(".")):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or labels[-1].isdigit():
        return False
    return all(len(lab) <= 63 and _LABEL.match(lab) for lab in labels)


def key_of(email: str) -> str:
    """Decision 1: identity is the lower-cased address."""
    return email.lower()


def js_len(text: str) -> int:
    """Decision 3: characters as JavaScript counts them (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def compact_json_bytes(value: object) -> int:
    """Size of `value` as compact UTF-8 JSON (CONTRACT.md: 8 KB = 8,192 such bytes)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class ApiError(Exception):
    """Ends a request with `status` and the target's error body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra
        self.headers: dict[str, str] = {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    raw: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        """Decision 6: malformed JSON is a 400 for the whole request."""
        try:
            return json.loads(self.raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Malformed JSON body: {exc}") from None

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return body

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int
    body: Any  # parsed JSON, else text
    headers: dict[str, str]
    raw: bytes


@dataclass
class Exchange:
    """One request the server answered (`api.log`)."""

    target: str
    method: str
    path: str
    route: str  # the documented template, e.g. "POST /v1/contacts/import"; "?" when unknown
    status: int
    request: bytes
    response: Any


Route = tuple[str, "re.Pattern[str]", str, str]  # method, path pattern, name, handler


def _route(method: str, pattern: str, name: str, handler: str) -> Route:
    return (method, re.compile(f"^{pattern}$"), name, handler)


# --------------------------------------------------------------------------- stores


class Store:
    """One target's account: contacts keyed by lower-cased email, in insertion order."""

    name = ""
    routes: tuple[Route, ...] = ()
    statuses: tuple[str, ...] = ()  # what an account can hold (preload)
    id_prefix = ""
    success_flag = False  # decision 7

    def __init__(self, api: SeedAPI) -> None:
        self.api = api
        self.lock = threading.RLock()
        self.contacts: dict[str, dict[str, Any]] = {}
        self.by_id: dict[Any, str] = {}
        self.totals: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.status_changes: list[dict[str, Any]] = []
        self._next_id = 0

    # -- plumbing
    @property
    def strict(self) -> bool:
        return self.api.strict

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.api.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def new_id(self) -> Any:
        while True:
            self._next_id += 1
            cid = self.format_id(self._next_id)
            if cid not in self.by_id:
                return cid

    def format_id(self, n: int) -> Any:
        return f"{self.id_prefix}{n:06d}"

    def error_body(self, err: ApiError) -> dict[str, Any]:
        body: dict[str, Any] = {"success": False} if self.success_flag else {}
        body["error"] = err.message
        body.update(err.extra)
        return body

    def find(self, email: str) -> dict[str, Any] | None:
        return self.contacts.get(key_of(email))

    def insert(self, contact: dict[str, Any]) -> dict[str, Any]:
        self.contacts[key_of(contact["email"])] = contact
        self.by_id[contact["id"]] = key_of(contact["email"])
        self.outcomes["created"] += 1
        return contact

    def remove(self, contact: dict[str, Any]) -> None:
        del self.contacts[key_of(contact["email"])]
        del self.by_id[contact["id"]]

    def set_status(self, contact: dict[str, Any], status: str | None, via: str) -> None:
        """Decision 8: statuses change only when given; changes are recorded."""
        if status is None or status == contact["status"]:
            return
        self.status_changes.append(
            {
                "email": contact["email"],
                "id": contact["id"],
                "from": contact["status"],
                "to": status,
                "via": via,
            }
        )
        contact["status"] = status

    def unknown_field(self, obj: Mapping[str, Any], allowed: Iterable[str]) -> str | None:
        """Decision 4: in strict mode the first field a seed does not list."""
        if not self.strict:
            return None
        allowed = set(allowed)
        return next((k for k in obj if k not in allowed), None)

    def resolve(self, req: Request) -> tuple[str, Callable[..., Any], dict[str, str]]:
        """The documented route name, its handler and path parameters; 404 / 405 else."""
        path = req.path[:-1] if len(req.path) > 1 and req.path.endswith("/") else req.path
        allowed = []
        for method, pattern, name, handler in self.routes:
            m = pattern.match(path)
            if m is None:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            return name, getattr(self, handler), m.groupdict()
        if allowed:
            err = ApiError(405, f"Method {req.method} not allowed")
            err.headers["Allow"] = ", ".join(sorted(set(allowed)))
            raise err
        raise ApiError(404, "Not found")

    # -- state
    def represent(self, contact: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(contact)

    def state(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                self.represent(c)
                for c in self.contacts.values()
                if status is None or c["status"] == status
            ]

    def preload(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        out = []
        with self.lock:
            for row in rows:
                email = row.get("email")
                if not isinstance(email, str) or not email:
                    raise ValueError(f"preload {self.name}: every contact needs an email: {row!r}")
                if self.find(email) is not None:
                    raise ValueError(f"preload {self.name}: {email!r} is already in the account")
                status = row.get("status") or self.statuses[0]
                if status not in self.statuses:
                    raise ValueError(
                        f"preload {self.name}: status {status!r} not in {self.statuses}"
                    )
                cid = row.get("id")
                if cid is None:
                    cid = self.new_id()
                elif cid in self.by_id:
                    raise ValueError(f"preload {self.name}: id {cid!r} is already in the account")
                contact = self.from_preload(dict(row), cid, status)
                self.contacts[key_of(email)] = contact
                self.by_id[cid] = key_of(email)
                out.append(self.represent(contact))
        return out

    def from_preload(self, row: dict[str, Any], cid: Any, status: str) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def page(req: Request, default_limit: int, max_limit: int) -> tuple[int, int]:
        try:
            page = max(1, int(req.param("page", "1") or 1))
            limit = int(req.param("limit", str(default_limit)) or default_limit)
        except ValueError:
            raise ApiError(400, "page and limit must be integers") from None
        return page, min(max(1, limit), max_limit)

    def filtered(self, req: Request, name_fields: tuple[str, ...]) -> list[dict[str, Any]]:
        status = req.param("status")
        search = (req.param("search") or req.param("q") or "").lower()
        rows = []
        for c in self.contacts.values():
            if status and c["status"] != status:
                continue
            if search and not any(
                search in str(c.get(f) or "").lower() for f in ("email", *name_fields)
            ):
                continue
            rows.append(c)
        return rows


def _opt_string(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        return f"{name} must be a string"
    return None


def _opt_tags(obj: Mapping[str, Any]) -> str | None:
    tags = obj.get("tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        return "tags must be an array of strings"
    return None


def _opt_object(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, dict):
        return f"{name} must be an object"
    return None


def _given(obj: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Decision 5: the fields present and not null."""
    return {n: copy.deepcopy(obj[n]) for n in names if obj.get(n) is not None}


def _merge_tags(*groups: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for group in groups:
        for tag in group or ():
            if tag not in out:
                out.append(tag)
    return out


class MisarMail(Store):
    """Seed 000: MisarMail v1 contacts (base /mail/v1/contacts, paths /v1/contacts)."""

    name = "misarmail"
    id_prefix = "con_"
    success_flag = True
    statuses = ("active", "unsubscribed", "bounced", "complained")  # the list filter's
    create_statuses = ("active", "unsubscribed")  # decision 14: "active (default) | unsubscribed"
    fields = ("email", "firstName", "lastName", "phone", "tags", "metadata", "status")
    max_import = 10_000  # "max 10 000 per request"
    P = r"(?:/mail)?/v1/contacts"
    routes = (
        _route("GET", P, "GET /v1/contacts", "list"),
        _route("POST", P, "POST /v1/contacts", "create"),
        _route("POST", P + "/import", "POST /v1/contacts/import", "import_"),
        _route("PATCH", P + "/bulk", "PATCH /v1/contacts/bulk", "bulk_update"),
        _route("DELETE", P + "/bulk", "DELETE /v1/contacts/bulk", "bulk_delete"),
        _route("GET", P + "/(?P<cid>[^/]+)", "GET /v1/contacts/:id", "get"),
        _route("PATCH", P + "/(?P<cid>[^/]+)", "PATCH /v1/contacts/:id", "update"),
    )

    def check(self, obj: Any, *, creating: bool) -> str | None:
        if not isinstance(obj, dict):
            return "contact must be an object"
        unknown = self.unknown_field(obj, self.fields)
        if unknown is not None:
            return f"Unknown field: {unknown}"
        if creating:
            email = obj.get("email")
            if email is None or email == "":
                return "email is required"
            if not email_ok(email):
                return "Invalid email format"
        elif "email" in obj:
            return "email cannot be changed"  # "email cannot be changed."
        for err in (
            _opt_string(obj, "firstName"),
            _opt_string(obj, "lastName"),
            _opt_string(obj, "phone"),
            _opt_tags(obj),
            _opt_object(obj, "metadata"),
        ):
            if err:
                return err
        status = obj.get("status")
        if status is not None and status not in self.create_statuses:
            return "status must be active or unsubscribed"
        return None

    def create_contact(
        self, obj: Mapping[str, Any], extra_tags: list[str] | None = None
    ) -> dict[str, Any]:
        given = _given(obj, self.fields)
        contact = {
            "id": self.new_id(),
            "email": given["email"],
            "firstName": given.get("firstName"),
            "lastName": given.get("lastName"),
            "phone": given.get("phone"),
            "status": given.get("status", "active"),
            "score": 0,
            "tags": _merge_tags(given.get("tags"), extra_tags),
            "metadata": given.get("metadata", {}),
            "createdAt": self.now_iso(),
        }
        return self.insert(contact)

    def apply(
        self,
        contact: dict[str, Any],
        obj: Mapping[str, Any],
        via: str,
        extra_tags: list[str] | None = None,
    ) -> None:
        given = _given(obj, self.fields)
        for f in ("firstName", "lastName", "phone", "metadata"):
            if f in given:
                contact[f] = given[f]
        if "tags" in given or extra_tags:
            contact["tags"] = _merge_tags(given.get("tags", contact["tags"]), extra_tags)
        self.set_status(contact, given.get("status"), via)
        self.outcomes["updated"] += 1

    def from_preload(self, row: dict[str, Any], cid: Any, status: str) -> dict[str, Any]:
        return {
            "id": cid,
            "email": row["email"],
            "firstName": row.get("firstName"),
            "lastName": row.get("lastName"),
            "phone": row.get("phone"),
            "status": status,
            "score": row.get("score", 0),
            "tags": list(row.get("tags") or []),
            "metadata": dict(row.get("metadata") or {}),
            "createdAt": row.get("createdAt") or self.now_iso(),
        }

    # -- endpoints
    def list(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        page, limit = self.page(req, 50, 1000)
        rows = self.filtered(req, ("firstName", "lastName"))
        chunk = rows[(page - 1) * limit : page * limit]
        body = {
            "success": True,
            "data": [self.represent(c) for c in chunk],
            "pagination": {"page": page, "limit": limit, "total": len(rows)},
        }
        return 200, body, {}

    def get(self, req: Request, cid: str) -> tuple[int, Any, dict[str, str]]:
        key = self.by_id.get(unquote(cid))
        if key is None:
            raise ApiError(404, "Contact not found")
        return 200, {"success": True, "data": self.represent(self.contacts[key])}, {}

    def create(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        err = self.check(body, creating=True)
        if err:
            raise ApiError(400, err)
        if self.find(body["email"]) is not None:
            raise ApiError(409, "Contact already exists")  # decision 15
        contact = self.create_contact(body)
        return 201, {"success": True, "data": self.represent(contact)}, {}

    def update(self, req: Request, cid: str) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        key = self.by_id.get(unquote(cid))
        if key is None:
            raise ApiError(404, "Contact not found")
        err = self.check(body, creating=False)
        if err:
            raise ApiError(400, err)
        self.apply(self.contacts[key], body, "PATCH /v1/contacts/:id")
        return 200, {"success": True, "data": self.represent(self.contacts[key])}, {}

    def import_(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        unknown = self.unknown_field(body, ("contacts", "skipExisting", "tags"))
        if unknown is not None:
            raise ApiError(400, f"Unknown field: {unknown}")
        contacts = body.get("contacts")
        if not isinstance(contacts, list):
            raise ApiError(400, "contacts must be an array")
        if len(contacts) > self.max_import:  # decision 11
            raise ApiError(400, f"Too many contacts: max 10 000 per request, got {len(contacts)}")
        skip_existing = body.get("skipExisting", False)  # decision 12: default false
        if not isinstance(skip_existing, bool):
            raise ApiError(400, "skipExisting must be a boolean")
        extra_tags = body.get("tags")
        if extra_tags is not None and (
            not isinstance(extra_tags, list) or not all(isinstance(t, str) for t in extra_tags)
        ):
            raise ApiError(400, "tags must be an array of strings")
        imported = skipped = failed = 0
        errors = []
        for row, contact in enumerate(contacts, 1):
            err = self.check(contact, creating=True)
            if err:
                failed += 1
                email = contact.get("email") if isinstance(contact, dict) else None
                errors.append({"row": row, "email": email, "error": err})
                continue
            existing = self.find(contact["email"])
            if existing is None:
                self.create_contact(contact, extra_tags)
                imported += 1
            elif skip_existing:
                skipped += 1
                self.outcomes["skipped"] += 1
            else:  # decision 12: existing updated, counted as imported
                self.apply(existing, contact, "POST /v1/contacts/import", extra_tags)
                imported += 1
        self.outcomes["failed"] += failed
        answer = {
            "success": True,
            "imported": imported,
            "skipped": skipped,
            "failed": failed,
            "errors": errors,
        }
        self.totals.update({"imported": imported, "skipped": skipped, "failed": failed})
        return 200, answer, {}

    def _ids(self, body: dict[str, Any]) -> list[str]:
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, "ids must be a non-empty array of contact ids")
        missing = [i for i in ids if i not in self.by_id]
        if missing:  # decision 16: all or nothing
            raise ApiError(404, f"Contact not found: {', '.join(missing)}", ids=missing)
        return list(dict.fromkeys(ids))

    def bulk_update(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        unknown = self.unknown_field(body, ("ids", "update"))
        if unknown is not None:
            raise ApiError(400, f"Unknown field: {unknown}")
        update = body.get("update")
        if not isinstance(update, dict):
            raise ApiError(400, "update must be an object")
        err = self.check(update, creating=False)
        if err:
            raise ApiError(400, err)
        ids = self._ids(body)
        for cid in ids:
            self.apply(self.contacts[self.by_id[cid]], update, "PATCH /v1/contacts/bulk")
        self.totals["bulk_updated"] += len(ids)
        return 200, {"success": True, "updated": len(ids)}, {}

    def bulk_delete(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        ids = self._ids(body)
        for cid in ids:
            self.remove(self.contacts[self.by_id[cid]])
        self.totals["deleted"] += len(ids)
        return 200, {"success": True, "deleted": len(ids)}, {}


class MisarMailApi(Store):
    """Seed 001: Misar mail contacts API (base https://api.misar.io/mail, /api/v1/contacts)."""

    name = "misar-mail"
    success_flag = True
    statuses = ("subscribed", "unsubscribed", "bounced", "complained")
    fields = ("email", "firstName", "lastName", "phone", "tags", "customFields", "status")
    # decision 21: the seed's example header "email,firstName,lastName,tags", nothing more
    csv_columns = ("email", "firstName", "lastName", "tags")
    max_tags = 50  # "Up to 50 tags."
    max_import: int | None = None  # decision 20
    P = r"(?:/mail/api|/api|/mail)/v1/contacts"
    routes = (
        _route("GET", P, "GET /api/v1/contacts", "list"),
        _route("POST", P, "POST /api/v1/contacts", "create"),
        _route("POST", P + "/import", "POST /api/v1/contacts/import", "import_"),
        _route("PATCH", P + "/(?P<cid>[^/]+)", "PATCH /api/v1/contacts/:id", "update"),
        _route("DELETE", P + "/(?P<cid>[^/]+)", "DELETE /api/v1/contacts/:id", "delete"),
    )
    CSV_ERROR = "Invalid CSV format or missing email column"

    def __init__(self, api: SeedAPI) -> None:
        super().__init__(api)
        self.plan = "pro"  # decision 23
        self.contact_limit: int | None = None

    def format_id(self, n: int) -> Any:  # decision 24: UUID-shaped
        return f"00000000-0000-4000-8000-{n:012d}"

    def check(self, obj: Any, *, creating: bool) -> str | None:
        if not isinstance(obj, dict):
            return "contact must be an object"
        unknown = self.unknown_field(obj, self.fields if creating else self.fields[1:])
        if unknown is not None:
            return f"Unknown field: {unknown}"
        if creating:
            email = obj.get("email")
            if email is None or email == "":
                return "email is required"
            if not email_ok(email):
                return "Invalid email format"  # the seed's example error
        for err in (
            _opt_string(obj, "firstName"),
            _opt_string(obj, "lastName"),
            _opt_string(obj, "phone"),
            _opt_tags(obj),
            _opt_object(obj, "customFields"),
        ):
            if err:
                return err
        if len(obj.get("tags") or ()) > self.max_tags:
            return "Too many tags (max 50)"
        status = obj.get("status")
        if status is not None and status not in self.statuses:
            return "status must be subscribed, unsubscribed, bounced, or complained"
        return None

    def create_contact(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        given = _given(obj, self.fields)
        return self.insert(
            {
                "id": self.new_id(),
                "email": given["email"],
                "firstName": given.get("firstName"),
                "lastName": given.get("lastName"),
                "phone": given.get("phone"),
                "status": given.get("status", "subscribed"),
                "tags": _merge_tags(given.get("tags")),
                "customFields": given.get("customFields", {}),
                "created_at": self.now_iso(),
            }
        )

    def apply(self, contact: dict[str, Any], obj: Mapping[str, Any], via: str) -> None:
        given = _given(obj, self.fields)
        for f in ("firstName", "lastName", "phone", "customFields"):
            if f in given:
                contact[f] = given[f]
        if "tags" in given:
            contact["tags"] = _merge_tags(given["tags"])
        self.set_status(contact, given.get("status"), via)
        self.outcomes["updated"] += 1

    def from_preload(self, row: dict[str, Any], cid: Any, status: str) -> dict[str, Any]:
        return {
            "id": cid,
            "email": row["email"],
            "firstName": row.get("firstName"),
            "lastName": row.get("lastName"),
            "phone": row.get("phone"),
            "status": status,
            "tags": list(row.get("tags") or []),
            "customFields": dict(row.get("customFields") or {}),
            "created_at": row.get("created_at") or self.now_iso(),
        }

    # -- endpoints
    def list(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        page, limit = self.page(req, 50, 100)  # "Results per page (max 100)."
        rows = self.filtered(req, ("firstName", "lastName"))
        chunk = rows[(page - 1) * limit : page * limit]
        body = {
            "success": True,
            "contacts": [self.represent(c) for c in chunk],
            "pagination": {
                "page": page,
                "limit": limit,
                "total": len(rows),
                "total_pages": math.ceil(len(rows) / limit),
            },
        }
        return 200, body, {}

    def create(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        err = self.check(body, creating=True)
        if err:
            raise ApiError(400, err)
        if self.find(body["email"]) is not None:
            raise ApiError(409, "Email already exists in your contacts")
        if self.contact_limit is not None and len(self.contacts) >= self.contact_limit:
            raise ApiError(403, "Contact limit reached for your plan")
        contact = self.create_contact(body)
        return (
            201,
            {"success": True, "contact": {"id": contact["id"], "email": contact["email"]}},
            {},
        )

    def _contact(self, cid: str) -> dict[str, Any]:
        key = self.by_id.get(unquote(cid))
        if key is None:
            raise ApiError(404, "Contact not found")
        return self.contacts[key]

    def update(self, req: Request, cid: str) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        contact = self._contact(cid)
        err = self.check(body, creating=False)
        if err:
            raise ApiError(400, err)
        self.apply(contact, body, "PATCH /api/v1/contacts/:id")
        return 200, {"success": True, "contact": self.represent(contact)}, {}

    def delete(self, req: Request, cid: str) -> tuple[int, Any, dict[str, str]]:
        self.remove(self._contact(cid))
        self.totals["deleted"] += 1
        return 200, {"success": True}, {}

    def parse_csv(self, req: Request) -> list[tuple[int, dict[str, Any]]]:
        """Decision 21: the CSV body as (spreadsheet row, contact) pairs."""
        try:
            text = req.raw.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(text, newline=""), strict=True)
            header = next(reader, None)
            if not header or "email" not in [h.strip() for h in header]:
                raise ApiError(400, self.CSV_ERROR)
            header = [h.strip() for h in header]
            unknown = self.unknown_field(dict.fromkeys(header), self.csv_columns)
            if unknown is not None:
                raise ApiError(400, f"Unknown CSV column: {unknown}")
            rows = []
            for cells in reader:
                if not cells or cells == [""]:
                    continue  # a blank line
                if len(cells) != len(header):
                    raise ApiError(400, self.CSV_ERROR)
                contact: dict[str, Any] = {}
                for name, cell in zip(header, cells, strict=True):
                    if cell == "" or name not in self.csv_columns:
                        continue  # an empty cell is an absent field
                    if name == "tags":
                        contact["tags"] = [t.strip() for t in re.split(r"[;,]", cell) if t.strip()]
                    else:
                        contact[name] = cell
                rows.append((reader.line_num, contact))
        except (UnicodeDecodeError, csv.Error):
            raise ApiError(400, self.CSV_ERROR) from None
        return rows

    def import_(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if self.plan == "free":
            raise ApiError(403, "Bulk import not available on Free plan")
        if req.content_type == "text/csv":
            rows = self.parse_csv(req)
            update_existing = (req.param("update_existing") or "").lower() in ("1", "true")
        else:
            body = req.json_object()
            unknown = self.unknown_field(body, ("contacts", "update_existing"))
            if unknown is not None:
                raise ApiError(400, f"Unknown field: {unknown}")
            contacts = body.get("contacts")
            if not isinstance(contacts, list):
                raise ApiError(400, "contacts is required and must be an array")
            update_existing = body.get("update_existing", False)  # decision 19
            if not isinstance(update_existing, bool):
                raise ApiError(400, "update_existing must be a boolean")
            rows = list(enumerate(contacts, 1))
        if self.max_import is not None and len(rows) > self.max_import:
            raise ApiError(400, f"Too many contacts: max {self.max_import} per request")
        checked = [(row, c, self.check(c, creating=True)) for row, c in rows]
        if self.contact_limit is not None:
            new = {key_of(c["email"]) for _, c, err in checked if not err} - set(self.contacts)
            if len(self.contacts) + len(new) > self.contact_limit:
                raise ApiError(403, "Contact limit would be exceeded by this import")
        imported = updated = skipped = 0
        errors = []
        for row, contact, err in checked:
            if err:  # decision 18: an error row is also skipped
                skipped += 1
                email = contact.get("email") if isinstance(contact, dict) else None
                errors.append({"row": row, "email": email, "error": err})
                self.outcomes["failed"] += 1
                continue
            existing = self.find(contact["email"])
            if existing is None:
                self.create_contact(contact)
                imported += 1
            elif update_existing:
                self.apply(existing, contact, "POST /api/v1/contacts/import")
                updated += 1
            else:
                skipped += 1
                self.outcomes["skipped"] += 1
        answer = {
            "success": True,
            "imported": imported,
            "updated": updated,
            "skipped": skipped,
            "errors": errors,
        }
        self.totals.update(
            {"imported": imported, "updated": updated, "skipped": skipped, "errors": len(errors)}
        )
        return 200, answer, {}


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class MisarIO(Store):
    """Seed 003: Misar IO contact create / upsert."""

    name = "misar-io"
    id_prefix = "cnt_"
    statuses = ("subscribed", "unsubscribed", "bounced", "complained")
    social_keys = ("linkedin", "twitter", "instagram", "telegram", "whatsapp", "reddit", "youtube")
    # request field -> (answer field, max characters); the seed's field order (decision 26)
    strings: ClassVar[dict[str, tuple[str, int]]] = {
        "firstName": ("first_name", 100),
        "lastName": ("last_name", 100),
        "phone": ("phone", 50),
        "company": ("company", 150),
        "jobTitle": ("job_title", 100),
    }
    fields = (
        "email",
        *strings,
        "socialProfiles",
        "status",
        "customFields",
        "source",
        "workspaceId",
    )
    write_limit = 200  # "200 writes per user per 60 seconds"
    window = 60.0
    routes = (_route("POST", "/io/contacts/contacts", "POST /io/contacts/contacts", "create"),)

    def __init__(self, api: SeedAPI) -> None:
        super().__init__(api)
        self.writes: dict[str, deque[float]] = {}

    def rate_limit(self, req: Request) -> None:
        """Decision 27: sliding window of admitted requests per user."""
        now = self.api.clock()
        log = self.writes.setdefault(req.headers.get("Authorization") or "", deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) >= self.write_limit:
            err = ApiError(429, "Too many requests")
            err.headers["Retry-After"] = str(max(1, math.ceil(log[0] + self.window - now)))
            raise err
        log.append(now)

    def check(self, body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """The first 400 message, and the socialProfiles kept (unknown keys dropped)."""
        unknown = self.unknown_field(body, self.fields)
        if unknown is not None:
            return f"Unknown field: {unknown}", {}
        email = body.get("email")
        if not isinstance(email, str) or not email:
            return "A valid email is required", {}
        if js_len(email) > 254:  # "max 254 chars"
            return "email must be 254 characters or fewer", {}
        if not email_ok(email):
            return "A valid email is required", {}
        for name, (_, limit) in self.strings.items():
            value = body.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                return f"{name} must be a string", {}
            if js_len(value) > limit:
                return f"{name} must be {limit} characters or fewer", {}
        social: dict[str, Any] = {}
        profiles = body.get("socialProfiles")
        if profiles is not None:
            if not isinstance(profiles, dict):
                return "socialProfiles must be an object", {}
            for key, value in profiles.items():
                if key not in self.social_keys:  # "Unknown keys are silently dropped."
                    self.totals["dropped_social_keys"] += 1
                    continue
                if value is not None and not isinstance(value, str):
                    return f"socialProfiles.{key} must be a string or null", {}
                if value is not None and js_len(value) > 500:
                    return f"socialProfiles.{key} must be 500 characters or fewer", {}
                social[key] = value
        status = body.get("status")
        if status is not None and status not in self.statuses:
            return "status must be subscribed, unsubscribed, bounced, or complained", {}
        custom = body.get("customFields")
        if custom is not None:
            if not isinstance(custom, dict):
                return "customFields must be an object", {}
            if len(custom) > 20:  # "max 20 keys"
                return "customFields must have 20 keys or fewer", {}
            if compact_json_bytes(custom) > 8192:  # "8 KB total JSON"
                return "customFields must be 8 KB or smaller", {}
        source = body.get("source")
        if source is not None:
            if not isinstance(source, str):
                return "source must be a string", {}
            if js_len(source) > 100:
                return "source must be 100 characters or fewer", {}
        workspace = body.get("workspaceId")
        if workspace is not None and (not isinstance(workspace, str) or not _UUID.match(workspace)):
            return "workspaceId must be a UUID", {}
        return None, social

    def create(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        self.rate_limit(req)
        body = req.json_object()
        err, social = self.check(body)
        if err:
            raise ApiError(400, err)
        upsert = (req.param("upsert") or "").lower() in ("1", "true")  # decision 25
        existing = self.find(body["email"])
        if existing is not None and not upsert:
            raise ApiError(409, "A contact with this email already exists")
        given = _given(body, self.fields)
        now = self.now_iso()
        if existing is None:
            contact = {
                "id": self.new_id(),
                "email": body["email"],
                **{out: given.get(name) for name, (out, _) in self.strings.items()},
                "social_profiles": social,
                "status": given.get("status", "subscribed"),
                "lead_score": 0,
                "custom_fields": given.get("customFields", {}),
                "source": given.get("source"),
                "workspace_id": given.get("workspaceId"),
                "created_at": now,
                "updated_at": now,
            }
            self.insert(contact)
            self.totals["created"] += 1
            return 201, {"data": self.represent(contact)}, {}
        for name, (out, _) in self.strings.items():
            if name in given:
                existing[out] = given[name]
        if "socialProfiles" in given:
            existing["social_profiles"] = social
        for name, out in (
            ("customFields", "custom_fields"),
            ("source", "source"),
            ("workspaceId", "workspace_id"),
        ):
            if name in given:
                existing[out] = given[name]
        self.set_status(existing, given.get("status"), "POST /io/contacts/contacts?upsert=1")
        existing["updated_at"] = now
        self.outcomes["updated"] += 1
        self.totals["updated"] += 1
        return 200, {"data": self.represent(existing)}, {}

    def from_preload(self, row: dict[str, Any], cid: Any, status: str) -> dict[str, Any]:
        now = self.now_iso()
        return {
            "id": cid,
            "email": row["email"],
            **{out: row.get(name, row.get(out)) for name, (out, _) in self.strings.items()},
            "social_profiles": dict(row.get("socialProfiles") or row.get("social_profiles") or {}),
            "status": status,
            "lead_score": row.get("lead_score", 0),
            "custom_fields": dict(row.get("customFields") or row.get("custom_fields") or {}),
            "source": row.get("source"),
            "workspace_id": row.get("workspaceId"),
            "created_at": row.get("created_at") or now,
            "updated_at": row.get("updated_at") or now,
        }


class MailerDash(Store):
    """Seed 004: MailerDash bulk contacts."""

    name = "mailerdash"
    statuses = ("active", "unsubscribed", "bounced", "complained")
    fields = ("email", "name", "metadata")
    P = "/v1/bulk/contacts"
    routes = (
        _route("GET", P, "GET /v1/bulk/contacts", "list"),
        _route("POST", P, "POST /v1/bulk/contacts", "upsert"),
        _route("POST", P + "/import", "POST /v1/bulk/contacts/import", "import_"),
        _route("POST", P + "/import-preview", "POST /v1/bulk/contacts/import-preview", "preview"),
        _route("POST", P + "/delete", "POST /v1/bulk/contacts/delete", "bulk_delete"),
        _route("GET", P + "/(?P<email>[^/]+)", "GET /v1/bulk/contacts/{email}", "get"),
        _route("PATCH", P + "/(?P<email>[^/]+)", "PATCH /v1/bulk/contacts/{email}", "patch"),
        _route("DELETE", P + "/(?P<email>[^/]+)", "DELETE /v1/bulk/contacts/{email}", "delete"),
    )

    def __init__(self, api: SeedAPI) -> None:
        super().__init__(api)
        self.key_id: str | None = None  # decision 31

    def format_id(self, n: int) -> Any:
        return n

    def check(self, obj: Any, allowed: tuple[str, ...] | None = None) -> str | None:
        allowed = allowed or self.fields
        if not isinstance(obj, dict):
            return "contact must be an object"
        unknown = self.unknown_field(obj, allowed)
        if unknown is not None:
            return f"Unknown field: {unknown}"
        if "email" in allowed and not email_ok(obj.get("email")):
            return "email is required" if not obj.get("email") else "Invalid email"
        return _opt_string(obj, "name") or _opt_object(obj, "metadata")

    def write(
        self, obj: Mapping[str, Any], via: str, names: tuple[str, ...] = ("name", "metadata")
    ) -> tuple[dict[str, Any], bool]:
        given = _given(obj, names)
        existing = self.find(obj["email"])
        now = self.now_iso()
        if existing is None:
            contact = self.insert(
                {
                    "id": self.new_id(),
                    "email": obj["email"],
                    "name": given.get("name"),
                    "metadata": given.get("metadata"),
                    "status": given.get("status", "active"),
                    "key_id": self.key_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            return contact, True
        for f in ("name", "metadata"):
            if f in given:
                existing[f] = given[f]
        self.set_status(existing, given.get("status"), via)
        existing["updated_at"] = now
        self.outcomes["updated"] += 1
        return existing, False

    def from_preload(self, row: dict[str, Any], cid: Any, status: str) -> dict[str, Any]:
        now = self.now_iso()
        return {
            "id": cid,
            "email": row["email"],
            "name": row.get("name"),
            "metadata": row.get("metadata"),
            "status": status,
            "key_id": row.get("key_id"),
            "created_at": row.get("created_at") or now,
            "updated_at": row.get("updated_at") or now,
        }

    def _emails(self, req: Request) -> list[str]:
        body = req.json_object()
        emails = body.get("emails")
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise ApiError(400, "emails must be an array of strings")
        return emails

    # -- endpoints
    def list(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        try:
            limit = max(1, int(req.param("limit", "100") or 100))
            offset = max(0, int(req.param("offset", "0") or 0))
        except ValueError:
            raise ApiError(400, "limit and offset must be integers") from None
        rows = self.filtered(req, ("name",))
        chunk = [self.represent(c) for c in rows[offset : offset + limit]]
        if req.param("format") == "csv":
            out = io.StringIO()
            cols = (
                "id",
                "email",
                "name",
                "metadata",
                "status",
                "key_id",
                "created_at",
                "updated_at",
            )
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(cols)
            for c in chunk:
                meta = (
                    json.dumps(c["metadata"], ensure_ascii=False)
                    if c["metadata"] is not None
                    else ""
                )
                writer.writerow([meta if k == "metadata" else c[k] for k in cols])
            return 200, out.getvalue(), {"Content-Type": "text/csv; charset=utf-8"}
        return 200, {"data": chunk, "total": len(rows), "limit": limit, "offset": offset}, {}

    def upsert(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        err = self.check(body)
        if err:
            raise ApiError(400, err)
        contact, _ = self.write(body, "POST /v1/bulk/contacts")
        return 201, self.represent(contact), {}  # "Returns 201 with the full contact."

    def _contact(self, email: str) -> dict[str, Any]:
        contact = self.find(unquote(email))
        if contact is None:
            raise ApiError(404, "Contact not found")
        return contact

    def get(self, req: Request, email: str) -> tuple[int, Any, dict[str, str]]:
        return 200, self.represent(self._contact(email)), {}

    def patch(self, req: Request, email: str) -> tuple[int, Any, dict[str, str]]:
        body = req.json_object()
        contact = self._contact(email)
        err = self.check(body, ("name", "status", "metadata"))
        if not err and body.get("status") is not None and body["status"] not in self.statuses:
            err = "status must be active, unsubscribed, bounced, or complained"
        if err:
            raise ApiError(400, err)
        contact, _ = self.write(
            {**body, "email": contact["email"]},
            "PATCH /v1/bulk/contacts/{email}",
            ("name", "metadata", "status"),
        )
        return 200, self.represent(contact), {}

    def delete(self, req: Request, email: str) -> tuple[int, Any, dict[str, str]]:
        self.remove(self._contact(email))
        self.totals["deleted"] += 1
        return 204, None, {}

    def import_(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        body = req.json()
        if not isinstance(body, list):
            raise ApiError(400, "Request body must be a JSON array of contacts")
        created = updated = failed = 0
        errors = []
        for index, entry in enumerate(body):
            err = self.check(entry)
            if err:
                failed += 1
                email = entry.get("email") if isinstance(entry, dict) else None
                errors.append({"index": index, "email": email, "error": err})
                continue
            _, is_new = self.write(entry, "POST /v1/bulk/contacts/import")
            created += is_new
            updated += not is_new
        self.outcomes["failed"] += failed
        self.totals.update({"created": created, "updated": updated, "failed": failed})
        return 207, {"created": created, "updated": updated, "failed": failed, "errors": errors}, {}

    def preview(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        emails = self._emails(req)
        unique: dict[str, str] = {}
        for email in emails:
            unique.setdefault(key_of(email), email)
        existing = [e for k, e in unique.items() if k in self.contacts]
        self.totals["previewed"] += len(emails)
        return (
            200,
            {"existing": existing, "total_unique": len(unique), "total_received": len(emails)},
            {},
        )

    def bulk_delete(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        emails = self._emails(req)
        deleted, not_found, forbidden = 0, [], []
        for email in emails:
            contact = self.find(email)
            if contact is None:
                not_found.append(email)
            elif self.key_id is not None and contact["key_id"] != self.key_id:
                forbidden.append(email)
            else:
                self.remove(contact)
                deleted += 1
        self.totals.update({"deleted": deleted, "not_found": len(not_found)})
        return (
            200,
            {
                "requested": len(emails),
                "deleted": deleted,
                "not_found": not_found,
                "forbidden": forbidden,
            },
            {},
        )


STORES: dict[str, type[Store]] = {
    "misarmail": MisarMail,
    "misar-mail": MisarMailApi,
    "misar-io": MisarIO,
    "mailerdash": MailerDash,
}


# --------------------------------------------------------------------------- HTTP


def _handler(api: SeedAPI, target: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet tests
            pass

        def _body(self) -> bytes:
            if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            raw = self._body()
            parts = urlsplit(self.path)
            req = Request(
                self.command,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                self.headers,
                raw,
            )
            status, body, headers, _ = api._serve(target, req)
            if body is None:
                payload = b""
            elif isinstance(body, str):
                payload = body.encode()
            else:
                payload = json.dumps(body, ensure_ascii=False).encode()
                headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

    return Handler


class SeedAPI:
    """The four targets' servers, their state and what they answered."""

    def __init__(self, *, clock: Callable[[], float] = time.time, strict: bool = True) -> None:
        self.clock = clock
        self.strict = strict
        self.stores = {name: cls(self) for name, cls in STORES.items()}
        self.log: list[Exchange] = []
        self._requests: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle
    def start(self) -> SeedAPI:
        for target in TARGETS:
            server = ThreadingHTTPServer((HOST, 0), _handler(self, target))
            server.daemon_threads = True
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll
                name=f"seed-api-{target}",
                daemon=True,
            )
            thread.start()
            self._servers[target] = server
            self._threads.append(thread)
        return self

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> SeedAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses and a client
    def port(self, target: str) -> int:
        return self._servers[self._target(target)].server_address[1]

    def url(self, target: str, path: str = "") -> str:
        return f"http://{HOST}:{self.port(target)}{path}"

    def request(
        self,
        target: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Response:
        """A real HTTP request (http.client) to the target's server. `body`: bytes or str are
        sent as they are, anything else as JSON."""
        hdrs = dict(headers or {})
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body, ensure_ascii=False).encode()
            content_type = content_type or "application/json"
        if content_type:
            hdrs["Content-Type"] = content_type
        conn = HTTPConnection(HOST, self.port(target), timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            resp_headers = dict(resp.getheaders())
        finally:
            conn.close()
        parsed: Any = raw.decode("utf-8", "replace")
        if "json" in resp_headers.get("Content-Type", ""):
            parsed = json.loads(raw)
        return Response(resp.status, parsed, resp_headers, raw)

    # -- account state
    def _target(self, target: str) -> str:
        if target not in STORES:
            raise KeyError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
        return target

    def store(self, target: str) -> Store:
        """The target's store, for its settings (plan, contact_limit, key_id, write_limit...)."""
        return self.stores[self._target(target)]

    def preload(self, target: str, contacts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Put contacts in the account as they are (no validation beyond email, unique email
        and id, and a status the account can hold). Fields: the target's create fields, plus
        `id` (else generated), `status`, and the timestamps of its list shape (misar-io also
        takes its snake_case answer fields, mailerdash `key_id`). Returns them as stored."""
        return self.store(target).preload(contacts)

    def preload_export(self, target: str, path: str | Path) -> list[dict[str, Any]]:
        """Preload from an account export as the target lists it: a JSON array, an object
        with `data` or `contacts`, or (mailerdash) a CSV with `metadata` as JSON text."""
        path = Path(path)
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows: list[dict[str, Any]] = []
                for row in csv.DictReader(fh):
                    out: dict[str, Any] = {k: v for k, v in row.items() if v != ""}
                    if "metadata" in out:
                        out["metadata"] = json.loads(out["metadata"])
                    if "id" in out and out["id"].isdigit():
                        out["id"] = int(out["id"])
                    rows.append(out)
        else:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            rows = data if isinstance(data, list) else data.get("data", data.get("contacts"))
        return self.preload(target, rows)

    def state(self, target: str, status: str | None = None) -> list[dict[str, Any]]:
        """The account's contacts (copies), as the target's list endpoint shows them."""
        return self.store(target).state(status)

    def contact(self, target: str, email: str) -> dict[str, Any] | None:
        store = self.store(target)
        with store.lock:
            found = store.find(email)
            return store.represent(found) if found is not None else None

    def totals(self, target: str) -> dict[str, int]:
        """Sums of the counts the target answered, in its own words: misarmail imported,
        skipped, failed (+ bulk_updated, deleted); misar-mail imported, updated, skipped,
        errors (+ deleted); misar-io created (201), updated (200), rejected (400),
        conflicts (409), rate_limited (429), dropped_social_keys; mailerdash created,
        updated, failed, previewed, deleted, not_found."""
        store = self.store(target)
        with store.lock:
            return dict(+store.totals)  # zero counts left out

    def outcomes(self, target: str) -> dict[str, int]:
        """Rows by what happened to them, the same words for every target: created,
        updated, skipped, failed (single creates and updates included)."""
        store = self.store(target)
        with store.lock:
            return dict(+store.outcomes)  # zero counts left out

    def status_changes(self, target: str) -> list[dict[str, Any]]:
        """Every status change of an existing contact: {email, id, from, to, via}."""
        store = self.store(target)
        with store.lock:
            return copy.deepcopy(store.status_changes)

    def request_count(self, target: str, route: str | None = None) -> int:
        """Requests the target received on `route` ("POST /v1/contacts/import", the
        documented template; "?" for unknown paths), or in all when None."""
        with self._lock:
            return sum(
                n
                for (t, r), n in self._requests.items()
                if t == target and (route is None or r == route)
            )

    def requests(self, target: str | None = None) -> dict[tuple[str, str], int]:
        with self._lock:
            return {k: n for k, n in self._requests.items() if target is None or k[0] == target}

    # -- serving
    def _serve(self, target: str, req: Request) -> tuple[int, Any, dict[str, str], str]:
        store = self.stores[target]
        route = "?"
        try:
            route, handler, params = store.resolve(req)
            with store.lock:
                status, body, headers = handler(req, **params)
        except ApiError as err:
            status, body, headers = err.status, store.error_body(err), err.headers
            with store.lock:
                if target == "misar-io":
                    counter = {400: "rejected", 409: "conflicts", 429: "rate_limited"}
                    if err.status in counter:
                        store.totals[counter[err.status]] += 1
        except Exception as exc:  # a server bug must be visible, not a hung client
            status, body, headers = 500, {"error": f"{type(exc).__name__}: {exc}"}, {}
        with self._lock:
            self._requests[(target, route)] += 1
            self.log.append(Exchange(target, req.method, req.path, route, status, req.raw, body))
        return status, body, headers, route


@pytest.fixture
def seed_api() -> Iterator[SeedAPI]:
    """A started SeedAPI (real clock; set `seed_api.clock = FakeClock()` to drive time)."""
    with SeedAPI() as api:
        yield api


def quote_email(email: str) -> str:
    """An email as a path segment of `/v1/bulk/contacts/{email}`."""
    return quote(email, safe="")
