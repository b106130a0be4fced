"""The local seed API server (tests/seed_api.py) over real HTTP: every documented import
endpoint of seeds 000, 001, 003 and 004, their 400 messages, caps, 409/upsert, the Misar
IO rate limit on an injected clock, MailerDash's 207 and import preview."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
from seed_api import HOST, TARGETS, FakeClock, SeedAPI, compact_json_bytes, email_ok

EXISTING = Path(__file__).resolve().parent / "existing"


def urllib_call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """A second, independent client: urllib.request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# --------------------------------------------------------------------------- general


def test_every_target_listens_on_loopback_only(seed_api: SeedAPI) -> None:
    ports = set()
    for target in TARGETS:
        server = seed_api._servers[target]
        assert server.server_address[0] == HOST == "127.0.0.1"
        assert seed_api.url(target).startswith("http://127.0.0.1:")
        ports.add(seed_api.port(target))
    assert len(ports) == 4  # one host per target: 000 and 001 share a path spelling


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("misarmail", "/mail/v1/contacts/import"),
        ("misar-mail", "/api/v1/contacts/import"),
        ("misar-io", "/io/contacts/contacts"),
        ("mailerdash", "/v1/bulk/contacts/import"),
    ],
)
def test_malformed_json_is_400_and_unknown_paths_404(
    seed_api: SeedAPI, target: str, path: str
) -> None:
    r = seed_api.request(target, "POST", path, b'{"contacts": [', content_type="application/json")
    assert r.status == 400
    assert r.body["error"].startswith("Malformed JSON body")
    assert seed_api.request(target, "POST", "/v2/nothing/here", {}).status == 404
    assert seed_api.request(target, "GET", path + "/x/y/z").status == 404
    assert seed_api.request_count(target, "?") == 2
    assert seed_api.state(target) == []


def test_wrong_method_is_405_with_allow(seed_api: SeedAPI) -> None:
    r = seed_api.request("misar-io", "GET", "/io/contacts/contacts")
    assert r.status == 405
    assert r.headers["Allow"] == "POST"


def test_email_check() -> None:
    for ok in ("a@example.com", "first.last+tag@sub.example.test", "josé@exämple.test"):
        assert email_ok(ok), ok
    for bad in (
        "",
        "plain",
        "a@b",
        "a@@example.com",
        ".a@example.com",
        "a..b@example.com",
        "a b@example.com",
        "a@-example.com",
        "a@example.123",
        "a@exa_mple.com",
        "x" * 65 + "@example.com",
        None,
        5,
    ):
        assert not email_ok(bad), bad


def test_chunked_request_body_is_read(seed_api: SeedAPI) -> None:
    conn = HTTPConnection(HOST, seed_api.port("mailerdash"), timeout=30)
    body = json.dumps([{"email": "chunk@example.com"}]).encode()
    conn.request(
        "POST",
        "/v1/bulk/contacts/import",
        body=iter([body[:5], body[5:]]),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    assert resp.status == 207
    assert json.loads(resp.read())["created"] == 1
    conn.close()


def test_preload_export_reads_the_existing_fixtures(seed_api: SeedAPI) -> None:
    rows = seed_api.preload_export("misarmail", EXISTING / "misarmail_contacts.json")
    assert [r["id"] for r in rows] == ["con_01AAA", "con_02BBB", "con_03CCC"]
    assert seed_api.contact("misarmail", "alice.smith@example.com")["status"] == "active"
    rows = seed_api.preload_export("misar-mail", EXISTING / "misar_mail_contacts.json")
    assert [r["status"] for r in rows] == ["subscribed", "bounced"]
    seed_api.preload_export("mailerdash", EXISTING / "mailerdash_contacts.csv")
    seed_api.preload_export("mailerdash", EXISTING / "mailerdash_contacts.json")
    ana = seed_api.contact("mailerdash", "ANA@empresa.example")
    assert ana is not None
    assert (ana["id"], ana["metadata"], ana["key_id"]) == (101, {"plan": "pro"}, "key_1")
    assert len(seed_api.state("mailerdash")) == 4
    with pytest.raises(ValueError, match="already in the account"):
        seed_api.preload("mailerdash", [{"email": "Ana@Empresa.example"}])
    with pytest.raises(ValueError, match="status"):
        seed_api.preload("misar-io", [{"email": "x@example.com", "status": "active"}])


def test_non_strict_server_ignores_unknown_fields() -> None:
    with SeedAPI(strict=False) as api:
        r = api.request(
            "misar-io",
            "POST",
            "/io/contacts/contacts",
            {"email": "a@example.com", "first_name": "A"},
        )
        assert r.status == 201
        r = api.request(
            "mailerdash",
            "POST",
            "/v1/bulk/contacts/import",
            [{"email": "b@example.com", "status": "unsubscribed"}],
        )
        assert (r.status, r.body["created"]) == (207, 1)
        assert api.contact("mailerdash", "b@example.com")["status"] == "active"


# --------------------------------------------------------------------------- misarmail (000)


def test_misarmail_import_creates_updates_and_tags(seed_api: SeedAPI) -> None:
    seed_api.preload(
        "misarmail",
        [
            {
                "id": "con_01ABC",
                "email": "Alice@Example.com",
                "firstName": "Al",
                "tags": ["vip"],
                "status": "unsubscribed",
            },
        ],
    )
    body = {
        "contacts": [
            {"email": "alice@example.com", "firstName": "Alice"},
            {
                "email": "b@example.com",
                "firstName": "B",
                "lastName": "Bee",
                "phone": "+1 555",
                "tags": ["customer"],
                "metadata": {"plan": "pro"},
                "status": "unsubscribed",
            },
        ],
        "skipExisting": False,
        "tags": ["imported-june-2025"],
    }
    r = seed_api.request("misarmail", "POST", "/mail/v1/contacts/import", body)
    assert r.status == 200
    assert r.body == {"success": True, "imported": 2, "skipped": 0, "failed": 0, "errors": []}
    alice = seed_api.contact("misarmail", "ALICE@example.com")
    assert alice["email"] == "Alice@Example.com"  # the first spelling stays
    assert alice["firstName"] == "Alice"
    assert alice["tags"] == ["vip", "imported-june-2025"]
    assert alice["status"] == "unsubscribed"  # no status given: unchanged
    b = seed_api.contact("misarmail", "b@example.com")
    assert b["id"].startswith("con_")
    assert b["tags"] == ["customer", "imported-june-2025"]
    assert (b["metadata"], b["status"], b["score"]) == ({"plan": "pro"}, "unsubscribed", 0)
    assert seed_api.outcomes("misarmail") == {"created": 1, "updated": 1}
    assert seed_api.status_changes("misarmail") == []

    # the same body again on the other path spelling, skipping existing contacts
    r = seed_api.request("misarmail", "POST", "/v1/contacts/import", {**body, "skipExisting": True})
    assert r.body == {"success": True, "imported": 0, "skipped": 2, "failed": 0, "errors": []}
    assert seed_api.totals("misarmail") == {"imported": 2, "skipped": 2}
    assert seed_api.request_count("misarmail", "POST /v1/contacts/import") == 2


def test_misarmail_import_row_errors(seed_api: SeedAPI) -> None:
    contacts = [
        {"email": "ok@example.com"},
        {"firstName": "no email"},
        {"email": "not-an-address"},
        {"email": "s@example.com", "status": "bounced"},
        {"email": "t@example.com", "tags": "vip"},
        {"email": "m@example.com", "metadata": ["x"]},
        {"email": "f@example.com", "firstName": 7},
        {"email": "u@example.com", "first_name": "typo"},
        "not an object",
        {"email": "ok@example.com", "status": "active"},  # the same email again: existing
    ]
    r = seed_api.request("misarmail", "POST", "/v1/contacts/import", {"contacts": contacts})
    assert r.status == 200
    assert (r.body["imported"], r.body["skipped"], r.body["failed"]) == (2, 0, 8)
    assert r.body["errors"] == [
        {"row": 2, "email": None, "error": "email is required"},
        {"row": 3, "email": "not-an-address", "error": "Invalid email format"},
        {"row": 4, "email": "s@example.com", "error": "status must be active or unsubscribed"},
        {"row": 5, "email": "t@example.com", "error": "tags must be an array of strings"},
        {"row": 6, "email": "m@example.com", "error": "metadata must be an object"},
        {"row": 7, "email": "f@example.com", "error": "firstName must be a string"},
        {"row": 8, "email": "u@example.com", "error": "Unknown field: first_name"},
        {"row": 9, "email": None, "error": "contact must be an object"},
    ]
    assert [c["email"] for c in seed_api.state("misarmail")] == ["ok@example.com"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"skipExisting": False}, "contacts must be an array"),
        ({"contacts": {"email": "a@example.com"}}, "contacts must be an array"),
        ({"contacts": [], "skipExisting": "yes"}, "skipExisting must be a boolean"),
        ({"contacts": [], "tags": "x"}, "tags must be an array of strings"),
        ({"contacts": [], "update_existing": True}, "Unknown field: update_existing"),
    ],
)
def test_misarmail_import_request_errors(seed_api: SeedAPI, body: dict, message: str) -> None:
    r = seed_api.request("misarmail", "POST", "/v1/contacts/import", body)
    assert (r.status, r.body) == (400, {"success": False, "error": message})


def test_misarmail_import_cap_is_10000(seed_api: SeedAPI) -> None:
    contacts = [{"email": f"u{i}@example.com"} for i in range(10_001)]
    r = seed_api.request("misarmail", "POST", "/v1/contacts/import", {"contacts": contacts})
    assert r.status == 400
    assert r.body == {
        "success": False,
        "error": "Too many contacts: max 10 000 per request, got 10001",
    }
    assert seed_api.state("misarmail") == []
    r = seed_api.request("misarmail", "POST", "/v1/contacts/import", {"contacts": contacts[:-1]})
    assert r.status == 200
    assert (r.body["imported"], r.body["failed"]) == (10_000, 0)
    assert len(seed_api.state("misarmail")) == 10_000


def test_misarmail_single_create_list_and_get(seed_api: SeedAPI) -> None:
    url = seed_api.url("misarmail")
    status, body = urllib_call(
        url + "/v1/contacts",
        "POST",
        {
            "email": "alice@example.com",
            "firstName": "Alice",
            "tags": ["customer"],
            "metadata": {"plan": "pro"},
        },
    )
    assert status == 201
    assert body["data"]["status"] == "active"
    cid = body["data"]["id"]
    status, body = urllib_call(url + "/mail/v1/contacts", "POST", {"email": "ALICE@example.com"})
    assert (status, body) == (409, {"success": False, "error": "Contact already exists"})
    status, body = urllib_call(
        url + "/v1/contacts", "POST", {"email": "x@example.com", "status": "complained"}
    )
    assert (status, body["error"]) == (400, "status must be active or unsubscribed")
    status, body = urllib_call(url + f"/v1/contacts/{cid}")
    assert (status, body["data"]["email"]) == (200, "alice@example.com")
    assert urllib_call(url + "/v1/contacts/con_nope")[0] == 404
    seed_api.preload("misarmail", [{"email": "b@example.com", "status": "bounced"}])
    status, body = urllib_call(url + "/v1/contacts?status=bounced")
    assert [c["email"] for c in body["data"]] == ["b@example.com"]
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 1}
    status, body = urllib_call(url + "/v1/contacts?search=ALICE&limit=1")
    assert [c["id"] for c in body["data"]] == [cid]


def test_misarmail_bulk_update_and_delete_use_preloaded_ids(seed_api: SeedAPI) -> None:
    seed_api.preload(
        "misarmail",
        [
            {"id": "con_01ABC", "email": "a@example.com", "tags": ["old"]},
            {"id": "con_02DEF", "email": "b@example.com"},
            {"id": "con_03GHI", "email": "c@example.com"},
        ],
    )
    path = "/mail/v1/contacts/bulk"
    body = {
        "ids": ["con_01ABC", "con_02DEF"],
        "update": {"tags": ["churned"], "status": "unsubscribed"},
    }
    r = seed_api.request("misarmail", "PATCH", path, body)
    assert (r.status, r.body) == (200, {"success": True, "updated": 2})
    assert [c["tags"] for c in seed_api.state("misarmail")] == [["churned"], ["churned"], []]
    assert seed_api.state("misarmail", "unsubscribed")[1]["id"] == "con_02DEF"
    assert [(c["id"], c["from"], c["to"]) for c in seed_api.status_changes("misarmail")] == [
        ("con_01ABC", "active", "unsubscribed"),
        ("con_02DEF", "active", "unsubscribed"),
    ]
    r = seed_api.request(
        "misarmail", "PATCH", path, {"ids": ["con_03GHI", "con_404"], "update": {"tags": ["x"]}}
    )
    assert (r.status, r.body["error"], r.body["ids"]) == (
        404,
        "Contact not found: con_404",
        ["con_404"],
    )
    assert seed_api.contact("misarmail", "c@example.com")["tags"] == []  # all or nothing
    r = seed_api.request(
        "misarmail", "PATCH", path, {"ids": ["con_03GHI"], "update": {"email": "z@example.com"}}
    )
    assert (r.status, r.body["error"]) == (400, "email cannot be changed")
    r = seed_api.request("misarmail", "PATCH", path, {"ids": [], "update": {}})
    assert (r.status, r.body["error"]) == (400, "ids must be a non-empty array of contact ids")
    r = seed_api.request("misarmail", "PATCH", "/v1/contacts/con_03GHI", {"firstName": "C"})
    assert (r.status, r.body["data"]["firstName"]) == (200, "C")
    r = seed_api.request("misarmail", "DELETE", path, {"ids": ["con_01ABC"]})
    assert (r.status, r.body) == (200, {"success": True, "deleted": 1})
    assert [c["id"] for c in seed_api.state("misarmail")] == ["con_02DEF", "con_03GHI"]


# --------------------------------------------------------------------------- misar-mail (001)


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts/import", "/mail/api/v1/contacts/import", "/mail/v1/contacts/import"]
)
def test_misar_mail_json_import(seed_api: SeedAPI, path: str) -> None:
    seed_api.preload(
        "misar-mail", [{"email": "alice@example.com", "firstName": "Al", "status": "unsubscribed"}]
    )
    body = {
        "contacts": [
            {"email": "Alice@example.com", "firstName": "Alice", "tags": ["newsletter"]},
            {
                "email": "bob@example.com",
                "firstName": "Bob",
                "status": "bounced",
                "customFields": {"plan": "pro"},
                "phone": "+1234567890",
                "lastName": "Jones",
            },
        ],
        "update_existing": True,
    }
    r = seed_api.request("misar-mail", "POST", path, body)
    assert r.status == 200
    assert r.body == {"success": True, "imported": 1, "updated": 1, "skipped": 0, "errors": []}
    alice = seed_api.contact("misar-mail", "alice@example.com")
    assert (alice["firstName"], alice["tags"], alice["status"]) == (
        "Alice",
        ["newsletter"],
        "unsubscribed",
    )
    bob = seed_api.contact("misar-mail", "bob@example.com")
    assert len(bob["id"]) == 36
    assert (bob["status"], bob["customFields"]) == ("bounced", {"plan": "pro"})
    del body["update_existing"]  # default: existing contacts are skipped
    r = seed_api.request("misar-mail", "POST", path, body)
    assert r.body == {"success": True, "imported": 0, "updated": 0, "skipped": 2, "errors": []}
    assert seed_api.totals("misar-mail") == {"imported": 1, "updated": 1, "skipped": 2}


def test_misar_mail_import_row_errors_are_skipped_rows(seed_api: SeedAPI) -> None:
    contacts = [
        {"email": "a@example.com"},
        {"email": "b@example.com", "tags": [f"t{i}" for i in range(50)]},
        {"email": "invalid-email"},
        {"email": "c@example.com", "tags": [f"t{i}" for i in range(51)]},
        {"email": "d@example.com", "status": "active"},
        {"email": "e@example.com", "customFields": "plan=pro"},
        {"email": "f@example.com", "metadata": {}},
        {"lastName": "no email"},
    ]
    r = seed_api.request("misar-mail", "POST", "/api/v1/contacts/import", {"contacts": contacts})
    assert r.status == 200
    assert (r.body["imported"], r.body["updated"], r.body["skipped"]) == (2, 0, 6)
    assert r.body["errors"] == [
        {"row": 3, "email": "invalid-email", "error": "Invalid email format"},
        {"row": 4, "email": "c@example.com", "error": "Too many tags (max 50)"},
        {
            "row": 5,
            "email": "d@example.com",
            "error": "status must be subscribed, unsubscribed, bounced, or complained",
        },
        {"row": 6, "email": "e@example.com", "error": "customFields must be an object"},
        {"row": 7, "email": "f@example.com", "error": "Unknown field: metadata"},
        {"row": 8, "email": None, "error": "email is required"},
    ]
    assert seed_api.contact("misar-mail", "a@example.com")["status"] == "subscribed"


def test_misar_mail_csv_import(seed_api: SeedAPI) -> None:
    seed_api.preload("misar-mail", [{"email": "bob@example.com", "lastName": "Old"}])
    csv_body = (
        "\ufeffemail,firstName,lastName,tags\r\n"
        "alice@example.com,Alice,Smith,newsletter\r\n"
        "bob@example.com,Bob,Jones,\r\n"
        'carol@example.com,Carol,"Doe, Jr.","a; b,c"\r\n'
        "invalid-email,X,Y,\r\n"
    )
    path = "/api/v1/contacts/import"
    r = seed_api.request(
        "misar-mail", "POST", path, csv_body, content_type="text/csv; charset=utf-8"
    )
    assert r.status == 200
    assert r.body == {
        "success": True,
        "imported": 2,
        "updated": 0,
        "skipped": 2,
        "errors": [{"row": 5, "email": "invalid-email", "error": "Invalid email format"}],
    }
    carol = seed_api.contact("misar-mail", "carol@example.com")
    assert (carol["lastName"], carol["tags"]) == ("Doe, Jr.", ["a", "b", "c"])
    assert seed_api.contact("misar-mail", "alice@example.com")["tags"] == ["newsletter"]
    r = seed_api.request(
        "misar-mail",
        "POST",
        path + "?update_existing=true",
        "email,lastName\nbob@example.com,Jones\n",
        content_type="text/csv",
    )
    assert (r.body["updated"], r.body["skipped"]) == (1, 0)
    assert seed_api.contact("misar-mail", "bob@example.com")["lastName"] == "Jones"


@pytest.mark.parametrize(
    "csv_body",
    [
        "",
        "firstName,lastName\nAlice,Smith\n",
        "email,firstName\nalice@example.com,Alice,extra\n",
        'email,firstName\n"alice@example.com,Alice\n',
    ],
)
def test_misar_mail_bad_csv_is_400(seed_api: SeedAPI, csv_body: str) -> None:
    r = seed_api.request(
        "misar-mail", "POST", "/api/v1/contacts/import", csv_body, content_type="text/csv"
    )
    assert (r.status, r.body) == (
        400,
        {"success": False, "error": "Invalid CSV format or missing email column"},
    )
    assert seed_api.state("misar-mail") == []


@pytest.mark.parametrize("column", ["status", "phone", "customFields", "company"])
def test_misar_mail_csv_takes_only_the_seed_columns(column: str) -> None:
    csv_body = f"email,firstName,{column}\na@example.com,A,unsubscribed\n"
    with SeedAPI() as api:
        r = api.request("misar-mail", "POST", "/api/v1/contacts/import", csv_body,
                        content_type="text/csv")  # fmt: skip
        assert (r.status, r.body["error"]) == (400, f"Unknown CSV column: {column}")
    with SeedAPI(strict=False) as api:  # ignored: the contact is created subscribed
        r = api.request("misar-mail", "POST", "/api/v1/contacts/import", csv_body,
                        content_type="text/csv")  # fmt: skip
        assert (r.status, r.body["imported"]) == (200, 1)
        assert api.contact("misar-mail", "a@example.com")["status"] == "subscribed"


def test_misar_mail_csv_must_be_utf8(seed_api: SeedAPI) -> None:
    r = seed_api.request("misar-mail", "POST", "/api/v1/contacts/import",
                         b"email\n\xff@example.com\n", content_type="text/csv")  # fmt: skip
    assert (r.status, r.body["error"]) == (400, "Invalid CSV format or missing email column")


def test_misar_mail_create_409_and_plans(seed_api: SeedAPI) -> None:
    body = {
        "email": "jane@example.com",
        "firstName": "Jane",
        "lastName": "Doe",
        "phone": "+1234567890",
        "tags": ["customer"],
        "customFields": {"plan": "pro", "signup_source": "website"},
        "status": "subscribed",
    }
    r = seed_api.request("misar-mail", "POST", "/api/v1/contacts", body)
    assert r.status == 201
    assert r.body == {
        "success": True,
        "contact": {"id": r.body["contact"]["id"], "email": "jane@example.com"},
    }
    r = seed_api.request("misar-mail", "POST", "/mail/v1/contacts", {"email": "JANE@example.com"})
    assert (r.status, r.body) == (
        409,
        {"success": False, "error": "Email already exists in your contacts"},
    )
    r = seed_api.request("misar-mail", "POST", "/api/v1/contacts", {"email": "nope"})
    assert (r.status, r.body["error"]) == (400, "Invalid email format")
    store = seed_api.store("misar-mail")
    store.contact_limit = 2
    r = seed_api.request(
        "misar-mail",
        "POST",
        "/api/v1/contacts/import",
        {"contacts": [{"email": "a@example.com"}, {"email": "b@example.com"}]},
    )
    assert (r.status, r.body["error"]) == (403, "Contact limit would be exceeded by this import")
    assert (
        seed_api.request(
            "misar-mail", "POST", "/api/v1/contacts", {"email": "a@example.com"}
        ).status
        == 201
    )
    r = seed_api.request("misar-mail", "POST", "/api/v1/contacts", {"email": "b@example.com"})
    assert (r.status, r.body["error"]) == (403, "Contact limit reached for your plan")
    store.plan = "free"
    r = seed_api.request("misar-mail", "POST", "/api/v1/contacts/import", {"contacts": []})
    assert (r.status, r.body["error"]) == (403, "Bulk import not available on Free plan")


def test_misar_mail_list_update_delete(seed_api: SeedAPI) -> None:
    rows = seed_api.preload("misar-mail", [{"email": f"u{i}@example.com"} for i in range(120)])
    r = seed_api.request("misar-mail", "GET", "/api/v1/contacts?limit=500&page=2")
    assert r.body["pagination"] == {"page": 2, "limit": 100, "total": 120, "total_pages": 2}
    assert len(r.body["contacts"]) == 20
    cid = rows[0]["id"]
    r = seed_api.request(
        "misar-mail", "PATCH", f"/api/v1/contacts/{cid}", {"status": "unsubscribed"}
    )
    assert (r.status, r.body["contact"]["status"]) == (200, "unsubscribed")
    r = seed_api.request("misar-mail", "GET", "/api/v1/contacts?status=unsubscribed")
    assert [c["id"] for c in r.body["contacts"]] == [cid]
    assert seed_api.request("misar-mail", "DELETE", f"/api/v1/contacts/{cid}").body == {
        "success": True
    }
    assert seed_api.request("misar-mail", "DELETE", f"/api/v1/contacts/{cid}").status == 404


# --------------------------------------------------------------------------- misar-io (003)

IO = "/io/contacts/contacts"


def test_misar_io_create_409_and_upsert(seed_api: SeedAPI) -> None:
    seed_api.clock = FakeClock(1_781_179_200)  # 2026-06-11T12:00:00Z
    body = {
        "email": "bob@example.com",
        "firstName": "Bob",
        "lastName": "Smith",
        "phone": "+1 555 000 1234",
        "company": "Acme Corp",
        "jobTitle": "Product Manager",
        "socialProfiles": {"linkedin": "https://linkedin.com/in/bobsmith", "twitter": "@bobsmith"},
        "status": "subscribed",
        "source": "signup",
    }
    r = seed_api.request("misar-io", "POST", IO, body)
    assert r.status == 201
    assert r.body == {
        "data": {
            "id": "cnt_000001",
            "email": "bob@example.com",
            "first_name": "Bob",
            "last_name": "Smith",
            "phone": "+1 555 000 1234",
            "company": "Acme Corp",
            "job_title": "Product Manager",
            "social_profiles": {
                "linkedin": "https://linkedin.com/in/bobsmith",
                "twitter": "@bobsmith",
            },
            "status": "subscribed",
            "lead_score": 0,
            "custom_fields": {},
            "source": "signup",
            "workspace_id": None,
            "created_at": "2026-06-11T12:00:00Z",
            "updated_at": "2026-06-11T12:00:00Z",
        }
    }
    r = seed_api.request("misar-io", "POST", IO, {"email": "BOB@example.com"})
    assert (r.status, r.body) == (409, {"error": "A contact with this email already exists"})
    seed_api.clock.advance(5)
    r = seed_api.request(
        "misar-io",
        "POST",
        IO + "?upsert=1",
        {"email": "BOB@example.com", "jobTitle": "CTO", "status": "unsubscribed"},
    )
    assert r.status == 200
    assert (r.body["data"]["id"], r.body["data"]["job_title"], r.body["data"]["company"]) == (
        "cnt_000001",
        "CTO",
        "Acme Corp",
    )
    assert r.body["data"]["updated_at"] == "2026-06-11T12:00:05Z"
    r = seed_api.request("misar-io", "POST", IO + "?upsert=1", {"email": "new@example.com"})
    assert (r.status, r.body["data"]["status"]) == (201, "subscribed")
    assert seed_api.totals("misar-io") == {"created": 2, "updated": 1, "conflicts": 1}
    assert [c["to"] for c in seed_api.status_changes("misar-io")] == ["unsubscribed"]


def _email_of_length(n: int) -> str:
    """A valid address of exactly n characters: 64-character local part, labels <= 63."""
    remaining, labels = n - len("@") - 64 - len(".com"), []
    while remaining > 0:
        if labels:
            remaining -= 1  # the dot before this label
        take = min(63, remaining)
        if remaining - take == 1:
            take -= 1  # never leave a lone dot for the next label
        labels.append("d" * take)
        remaining -= take
    email = "l" * 64 + "@" + ".".join([*labels, "com"])
    assert len(email) == n and email_ok(email) == (n <= 254)
    return email


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("firstName", 100),
        ("lastName", 100),
        ("phone", 50),
        ("company", 150),
        ("jobTitle", 100),
        ("source", 100),
    ],
)
def test_misar_io_string_limits(seed_api: SeedAPI, field: str, limit: int) -> None:
    r = seed_api.request("misar-io", "POST", IO, {"email": "a@example.com", field: "x" * limit})
    assert r.status == 201
    r = seed_api.request(
        "misar-io", "POST", IO, {"email": "b@example.com", field: "x" * (limit + 1)}
    )
    assert (r.status, r.body) == (400, {"error": f"{field} must be {limit} characters or fewer"})
    r = seed_api.request("misar-io", "POST", IO, {"email": "c@example.com", field: 12})
    assert (r.status, r.body) == (400, {"error": f"{field} must be a string"})


def test_misar_io_characters_are_utf16_units(seed_api: SeedAPI) -> None:
    r = seed_api.request("misar-io", "POST", IO, {"email": "a@example.com", "firstName": "é" * 100})
    assert r.status == 201
    r = seed_api.request("misar-io", "POST", IO, {"email": "b@example.com", "firstName": "😀" * 50})
    assert r.status == 201
    r = seed_api.request(
        "misar-io", "POST", IO, {"email": "c@example.com", "firstName": "😀" * 50 + "x"}
    )
    assert (r.status, r.body["error"]) == (400, "firstName must be 100 characters or fewer")


def test_misar_io_email_rules(seed_api: SeedAPI) -> None:
    for body in ({}, {"email": ""}, {"email": 5}, {"email": "not-an-email"}, {"email": "a@b"}):
        r = seed_api.request("misar-io", "POST", IO, body)
        assert (r.status, r.body) == (400, {"error": "A valid email is required"}), body
    assert seed_api.request("misar-io", "POST", IO, {"email": _email_of_length(254)}).status == 201
    r = seed_api.request("misar-io", "POST", IO, {"email": _email_of_length(255)})
    assert (r.status, r.body) == (400, {"error": "email must be 254 characters or fewer"})


def test_misar_io_social_profiles(seed_api: SeedAPI) -> None:
    profiles = {
        "linkedin": "l" * 500,
        "twitter": None,
        "instagram": "@i",
        "telegram": "@t",
        "whatsapp": "+1",
        "reddit": "u/r",
        "youtube": "@y",
        "mastodon": "@m@x.test",
        "facebook": 12,
    }
    r = seed_api.request(
        "misar-io", "POST", IO, {"email": "a@example.com", "socialProfiles": profiles}
    )
    assert r.status == 201
    kept = {k: v for k, v in profiles.items() if k not in ("mastodon", "facebook")}
    assert r.body["data"]["social_profiles"] == kept
    assert seed_api.totals("misar-io")["dropped_social_keys"] == 2
    cases = [
        ({"linkedin": "l" * 501}, "socialProfiles.linkedin must be 500 characters or fewer"),
        ({"twitter": 5}, "socialProfiles.twitter must be a string or null"),
        (["@x"], "socialProfiles must be an object"),
    ]
    for value, message in cases:
        r = seed_api.request(
            "misar-io", "POST", IO, {"email": "b@example.com", "socialProfiles": value}
        )
        assert (r.status, r.body) == (400, {"error": message})


def test_misar_io_custom_fields_limits(seed_api: SeedAPI) -> None:
    twenty = {f"k{i}": i for i in range(20)}
    assert (
        seed_api.request(
            "misar-io", "POST", IO, {"email": "a@example.com", "customFields": twenty}
        ).status
        == 201
    )
    r = seed_api.request(
        "misar-io", "POST", IO, {"email": "b@example.com", "customFields": {**twenty, "k20": 1}}
    )
    assert (r.status, r.body) == (400, {"error": "customFields must have 20 keys or fewer"})
    # 8 KB = 8,192 bytes of compact UTF-8 JSON: {"n":"ééé…"} with 2-byte characters
    exact = {"n": "é" * ((8192 - len('{"n":""}')) // 2)}
    assert compact_json_bytes(exact) == 8192
    r = seed_api.request("misar-io", "POST", IO, {"email": "c@example.com", "customFields": exact})
    assert r.status == 201
    over = {"n": exact["n"] + "x"}
    r = seed_api.request("misar-io", "POST", IO, {"email": "d@example.com", "customFields": over})
    assert (r.status, r.body) == (400, {"error": "customFields must be 8 KB or smaller"})
    r = seed_api.request("misar-io", "POST", IO, {"email": "e@example.com", "customFields": [1]})
    assert (r.status, r.body) == (400, {"error": "customFields must be an object"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "active"}, "status must be subscribed, unsubscribed, bounced, or complained"),
        ({"workspaceId": "ws-1"}, "workspaceId must be a UUID"),
        ({"first_name": "Bob"}, "Unknown field: first_name"),
    ],
)
def test_misar_io_other_400s(seed_api: SeedAPI, body: dict, message: str) -> None:
    r = seed_api.request("misar-io", "POST", IO, {"email": "a@example.com", **body})
    assert (r.status, r.body) == (400, {"error": message})
    assert seed_api.totals("misar-io") == {"rejected": 1}


def test_misar_io_rate_limit_on_injected_clock(seed_api: SeedAPI) -> None:
    clock = seed_api.clock = FakeClock()
    auth = {"Authorization": "Bearer user-1"}
    for i in range(200):
        r = seed_api.request(
            "misar-io", "POST", IO + "?upsert=1", {"email": f"u{i % 150}@example.com"}, headers=auth
        )
        assert r.status in (200, 201), (i, r.body)
        if i == 99:
            clock.advance(30)  # 100 writes at t0, 100 at t0 + 30 s
    r = seed_api.request("misar-io", "POST", IO, {"email": "late@example.com"}, headers=auth)
    assert (r.status, r.body, r.headers["Retry-After"]) == (
        429,
        {"error": "Too many requests"},
        "30",
    )
    other = seed_api.request(
        "misar-io",
        "POST",
        IO,
        {"email": "other@example.com"},
        headers={"Authorization": "Bearer user-2"},
    )
    assert other.status == 201  # per user
    clock.advance(29.999)
    assert (
        seed_api.request("misar-io", "POST", IO, {"email": "late@example.com"}, headers=auth).status
        == 429
    )
    clock.advance(0.001)  # the first 100 writes are now 60 s old: out of the window
    for i in range(100):
        r = seed_api.request(
            "misar-io", "POST", IO, {"email": f"late{i}@example.com"}, headers=auth
        )
        assert r.status == 201, i
    assert (
        seed_api.request("misar-io", "POST", IO, {"email": "x@example.com"}, headers=auth).status
        == 429
    )
    clock.advance(60)
    r = seed_api.request("misar-io", "POST", IO, {"email": "u0@example.com"}, headers=auth)
    assert r.status == 409  # admitted again; a rejected write still counts as a write
    totals = seed_api.totals("misar-io")
    assert (totals["created"], totals["updated"], totals["rate_limited"]) == (251, 50, 3)
    assert seed_api.request_count("misar-io", "POST /io/contacts/contacts") == 305


# --------------------------------------------------------------------------- mailerdash (004)

MD = "/v1/bulk/contacts"


def test_mailerdash_import_207(seed_api: SeedAPI) -> None:
    seed_api.preload(
        "mailerdash",
        [{"id": 7, "email": "ana@empresa.example", "name": "Ana", "status": "unsubscribed"}],
    )
    body = [
        {"email": "ANA@empresa.example", "name": "Ana García", "metadata": {"plan": "pro"}},
        {"email": "pedro@cliente.test", "name": "Pedro Sánchez", "metadata": {"region": "CDMX"}},
        {"email": "maria@otro.test"},
        {"email": "bad-address"},
        {"name": "no email"},
        {"email": "s@otro.test", "status": "active"},
        {"email": "n@otro.test", "name": 3},
        {"email": "maria@otro.test", "name": "María"},
    ]
    r = seed_api.request("mailerdash", "POST", MD + "/import", body)
    assert r.status == 207
    assert r.body == {
        "created": 2,
        "updated": 2,
        "failed": 4,
        "errors": [
            {"index": 3, "email": "bad-address", "error": "Invalid email"},
            {"index": 4, "email": None, "error": "email is required"},
            {"index": 5, "email": "s@otro.test", "error": "Unknown field: status"},
            {"index": 6, "email": "n@otro.test", "error": "name must be a string"},
        ],
    }
    ana = seed_api.contact("mailerdash", "ana@empresa.example")
    assert (ana["id"], ana["name"], ana["status"], ana["metadata"]) == (
        7,
        "Ana García",
        "unsubscribed",
        {"plan": "pro"},
    )
    maria = seed_api.contact("mailerdash", "maria@otro.test")
    assert (maria["name"], maria["status"], maria["metadata"]) == ("María", "active", None)
    assert seed_api.totals("mailerdash") == {"created": 2, "updated": 2, "failed": 4}
    r = seed_api.request("mailerdash", "POST", MD + "/import", {"contacts": body})
    assert (r.status, r.body) == (400, {"error": "Request body must be a JSON array of contacts"})


def test_mailerdash_import_preview(seed_api: SeedAPI) -> None:
    seed_api.preload("mailerdash", [{"email": "ana@empresa.example"}, {"email": "b@x.test"}])
    emails = ["Ana@Empresa.example", "nuevo@dominio.test", "ana@empresa.example", "b@x.test"]
    r = seed_api.request("mailerdash", "POST", MD + "/import-preview", {"emails": emails})
    assert (r.status, r.body) == (
        200,
        {
            "existing": ["Ana@Empresa.example", "b@x.test"],
            "total_unique": 3,
            "total_received": 4,
        },
    )
    assert len(seed_api.state("mailerdash")) == 2  # nothing modified
    r = seed_api.request("mailerdash", "POST", MD + "/import-preview", {"emails": "a@x.test"})
    assert (r.status, r.body) == (400, {"error": "emails must be an array of strings"})


def test_mailerdash_delete(seed_api: SeedAPI) -> None:
    seed_api.preload(
        "mailerdash",
        [
            {"email": "ana@empresa.example", "key_id": "key_1"},
            {"email": "pedro@cliente.test", "key_id": "key_1"},
            {"email": "other@cliente.test", "key_id": "key_2"},
        ],
    )
    r = seed_api.request(
        "mailerdash",
        "POST",
        MD + "/delete",
        {"emails": ["ANA@empresa.example", "ghost@nowhere.test"]},
    )
    assert (r.status, r.body) == (
        200,
        {"requested": 2, "deleted": 1, "not_found": ["ghost@nowhere.test"], "forbidden": []},
    )
    seed_api.store("mailerdash").key_id = "key_1"
    r = seed_api.request(
        "mailerdash",
        "POST",
        MD + "/delete",
        {"emails": ["pedro@cliente.test", "other@cliente.test"]},
    )
    assert r.body == {
        "requested": 2,
        "deleted": 1,
        "not_found": [],
        "forbidden": ["other@cliente.test"],
    }
    assert [c["email"] for c in seed_api.state("mailerdash")] == ["other@cliente.test"]
    assert seed_api.totals("mailerdash") == {"deleted": 2, "not_found": 1}


def test_mailerdash_single_contact_endpoints(seed_api: SeedAPI) -> None:
    url = seed_api.url("mailerdash")
    status, body = urllib_call(
        url + MD,
        "POST",
        {"email": "ana@empresa.example", "name": "Ana", "metadata": {"plan": "pro"}},
    )
    assert (status, body["id"], body["status"]) == (201, 1, "active")
    status, body = urllib_call(url + MD, "POST", {"email": "ana@empresa.example", "name": "Ana G"})
    assert (status, body["id"], body["name"]) == (201, 1, "Ana G")  # updated, still 201
    status, body = urllib_call(
        url + MD + "/ana%40empresa.example",
        "PATCH",
        {"status": "unsubscribed", "metadata": {"plan": "enterprise"}},
    )
    assert (status, body["status"], body["metadata"]) == (
        200,
        "unsubscribed",
        {"plan": "enterprise"},
    )
    status, body = urllib_call(url + MD + "/ana@empresa.example")
    assert (status, body["name"]) == (200, "Ana G")
    status, body = urllib_call(url + MD + "?status=unsubscribed&limit=10")
    assert (body["total"], body["limit"], body["offset"]) == (1, 10, 0)
    r = seed_api.request("mailerdash", "GET", MD + "?format=csv")
    assert r.body.splitlines()[0] == "id,email,name,metadata,status,key_id,created_at,updated_at"
    assert seed_api.request("mailerdash", "DELETE", MD + "/ana@empresa.example").status == 204
    assert urllib_call(url + MD + "/ana@empresa.example")[0] == 404
