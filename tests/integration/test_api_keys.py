"""/v1/keys against moto: a tenant's own API keys, from creation to revocation.

The key is answered once (POST) and then never again: not by the listing, not in logs. A
revoked key is refused from the next request on. Keys of another tenant are 404, and a tenant
can never revoke its way to zero active keys.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY

KEY_FIELDS = {"id", "label", "created_at", "revoked", "revoked_at", "last4"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _public(key: str | None) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key} if key is not None else {}, raise_server_exceptions=False)


@pytest.fixture
def api(aws_env: dict[str, str]) -> TestClient:
    """Tenant A."""
    return _public(API_KEY)


@pytest.fixture
def other(aws_env: dict[str, str]) -> TestClient:
    """Tenant B."""
    return _public(OTHER_API_KEY)


def new_key(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def keys_of(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/keys")
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return response.json()["keys"]


def id_of(client: TestClient, raw_key: str) -> str:
    (match,) = [k for k in keys_of(client) if k["last4"] == raw_key[-4:]]
    return match["id"]


def error_code(response: Any) -> str:
    assert set(response.json()) == {"error"}, response.text
    return response.json()["error"]["code"]


# ------------------------------------------------------------------ lifecycle
def test_create_use_list_revoke_then_refused(api: TestClient) -> None:
    created = new_key(api, label="  ci deploys  ")
    assert set(created) == {"id", "key", "label", "created_at"}
    assert created["key"].startswith("zg_") and len(created["key"]) >= 40
    assert UUID.match(created["id"]) and created["label"] == "ci deploys"

    mine = _public(created["key"])
    instance = mine.post("/v1/instances", json={"name": "made with the new key"}).json()
    assert api.get(f"/v1/instances/{instance['id']}").status_code == 200  # same tenant as the creator

    listed = {k["id"]: k for k in keys_of(api)}
    assert set(listed) == {id_of(api, API_KEY), created["id"]}
    entry = listed[created["id"]]
    assert set(entry) == KEY_FIELDS
    assert entry == {"id": created["id"], "label": "ci deploys", "created_at": created["created_at"],
                     "revoked": False, "revoked_at": None, "last4": created["key"][-4:]}  # fmt: skip

    assert api.delete(f"/v1/keys/{created['id']}").status_code == 204
    refused = mine.get("/v1/instances")  # the very next request: nothing cached the key
    assert refused.status_code == 401 and error_code(refused) == "unauthorized"
    revoked = {k["id"]: k for k in keys_of(api)}[created["id"]]
    assert revoked["revoked"] is True and revoked["revoked_at"] >= created["created_at"]
    assert api.delete(f"/v1/keys/{created['id']}").status_code == 204  # again: already done
    assert api.get("/v1/instances").status_code == 200  # the revoking key is untouched


def test_create_without_a_body_or_label(api: TestClient) -> None:
    bare = api.post("/v1/keys")
    assert bare.status_code == 201, bare.text
    assert bare.json()["label"] is None
    assert new_key(api, label="   ")["label"] is None


def test_create_refuses_bad_bodies(api: TestClient) -> None:
    for body in ({"label": "x" * 101}, {"label": 7}, {"name": "x"}, {"label": "x", "tenant_id": "tenant-b"}):
        response = api.post("/v1/keys", json=body)
        assert response.status_code == 422 and error_code(response) == "validation_error", body
    assert len(keys_of(api)) == 1


def test_the_operators_key_is_listed_and_the_list_pages_with_its_own_cursors(api: TestClient) -> None:
    made = [new_key(api, label=f"k{n}")["id"] for n in range(4)]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        response = api.get("/v1/keys", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        seen += [k["id"] for k in response.json()["keys"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [id_of(api, API_KEY), *made]  # creation order, each once
    (fixture_key,) = [k for k in keys_of(api) if k["last4"] == API_KEY[-4:]]
    assert fixture_key["label"] == "test"
    for cursor in ("garbage", "0000000000000#not-a-uuid", "1800000000000#" + "0" * 36):
        response = api.get("/v1/keys", params={"cursor": cursor})
        assert response.status_code == 400 and error_code(response) == "invalid_cursor", cursor
    assert api.get("/v1/keys", params={"cursor": "x" * 65}).status_code == 422


def test_key_routes_need_a_valid_key(api: TestClient) -> None:
    key_id = id_of(api, API_KEY)
    for method, path in (("POST", "/v1/keys"), ("GET", "/v1/keys"), ("DELETE", f"/v1/keys/{key_id}")):
        for key in (None, "", "wrong-key", API_KEY[:-1]):
            response = _public(key).request(method, path)
            assert response.status_code == 401 and error_code(response) == "unauthorized", (method, key)
    assert len(keys_of(api)) == 1 and not keys_of(api)[0]["revoked"]


# ------------------------------------------------------------------ tenants
def test_tenants_see_and_revoke_only_their_own_keys(api: TestClient, other: TestClient) -> None:
    theirs = new_key(other, label="b's")
    assert {k["id"] for k in keys_of(api)} == {id_of(api, API_KEY)}
    assert theirs["id"] not in {k["id"] for k in keys_of(api)}

    for client, key_id in ((api, theirs["id"]), (other, id_of(api, API_KEY)), (api, "no-such-key")):
        response = client.delete(f"/v1/keys/{key_id}")
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert _public(theirs["key"]).get("/v1/keys").status_code == 200
    assert api.get("/v1/keys").status_code == 200


# ------------------------------------------------------------------ never locked out
def test_the_last_active_key_cannot_revoke_itself(other: TestClient) -> None:
    own_id = id_of(other, OTHER_API_KEY)
    refused = other.delete(f"/v1/keys/{own_id}")
    assert refused.status_code == 409 and error_code(refused) == "last_active_key"
    assert other.get("/v1/keys").status_code == 200

    # Rotation: a new key first, then the old one may go, even by its own hand.
    replacement = new_key(other, label="rotated")
    assert other.delete(f"/v1/keys/{own_id}").status_code == 204
    assert other.get("/v1/keys").status_code == 401
    fresh = _public(replacement["key"])
    assert [k["revoked"] for k in keys_of(fresh)] == [True, False]
    assert error_code(fresh.delete(f"/v1/keys/{replacement['id']}")) == "last_active_key"


def test_two_keys_cannot_revoke_each_other_to_zero(api: TestClient, aws_env: dict[str, str]) -> None:
    # The race, played in order: B was revoked after A authenticated but before A's revocation of C
    # commits. The witness check in the same transaction (A still active) must refuse it.
    from zapgate_control.adapters.dynamodb.api_keys import DynamoApiKeyStore, LastActiveKey, hash_key

    store = DynamoApiKeyStore(aws_env["API_KEYS_TABLE"])
    second = new_key(api)
    assert api.delete(f"/v1/keys/{id_of(api, API_KEY)}").status_code == 204  # A is gone now
    with pytest.raises(LastActiveKey):
        store.revoke("tenant-a", second["id"], caller_hash=hash_key(API_KEY))  # A, already revoked, revokes B
    assert _public(second["key"]).get("/v1/keys").status_code == 200


# ------------------------------------------------------------------ secrets stay secret
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    from zapgate_control.observability import logger

    handler = _Records()
    level = logger.log_level
    logger.setLevel(logging.DEBUG)  # successful requests log at DEBUG: see them too
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_keys_and_hashes_never_leave_in_listings_or_logs(
    api: TestClient, log_records: list[logging.LogRecord], capsys: pytest.CaptureFixture[str]
) -> None:
    from zapgate_control.adapters.dynamodb.api_keys import hash_key

    created = new_key(api, label="secret-holder")
    raw = created["key"]
    mine = _public(raw)
    mine.get("/v1/keys")
    mine.get("/v1/keys", params={"cursor": "garbage"})
    api.delete(f"/v1/keys/{created['id']}")
    refused = mine.get("/v1/keys")
    assert refused.status_code == 401

    secrets = [raw, hash_key(raw), API_KEY, hash_key(API_KEY)]
    listing = api.get("/v1/keys").text
    assert created["id"] in listing
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in log_records) + " ".join(capsys.readouterr())
    assert any(r.__dict__.get("route") == "/v1/keys" for r in log_records), "the capture saw the requests"
    for secret in secrets:
        assert secret not in listing
        assert secret not in logged
        assert secret not in refused.text
    assert hash_key(raw) not in str(created)


# ------------------------------------------------------------------ operators
def test_operator_backfill_makes_pre_id_keys_listable_and_revocable(api: TestClient, aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.api_keys import hash_key
    from zapgate_control.admin import main
    from zapgate_control.aws import client

    legacy = "zg_legacy-key-stored-before-ids-0123456789"
    client("dynamodb").put_item(  # the item as the former put_api_key wrote it
        TableName=aws_env["API_KEYS_TABLE"],
        Item={"key_hash": {"S": hash_key(legacy)}, "tenant_id": {"S": "tenant-a"}, "label": {"S": "old"},
              "revoked": {"BOOL": False}},
    )  # fmt: skip
    assert _public(legacy).get("/v1/keys").status_code == 200  # it authenticates
    assert len(keys_of(api)) == 1  # but is not listed

    assert main(["backfill-key-ids", "--table", aws_env["API_KEYS_TABLE"]]) == 0
    assert main(["backfill-key-ids", "--table", aws_env["API_KEYS_TABLE"]]) == 0  # idempotent
    (entry,) = [k for k in keys_of(api) if k["label"] == "old"]
    assert entry["last4"] is None and UUID.match(entry["id"])
    assert len(keys_of(api)) == 2
    assert api.delete(f"/v1/keys/{entry['id']}").status_code == 204
    assert _public(legacy).get("/v1/keys").status_code == 401
