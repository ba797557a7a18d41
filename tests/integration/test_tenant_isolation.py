"""Tenant isolation over EVERY route the public app serves, enumerated from the app itself.

The routes are read from the running app (every route, included routers flattened, docs too)
and cross-checked against its OpenAPI, then each must fall under one rule encoded here:

- docs (`DOCS`): served without a key;
- a path naming tenant-owned objects (each path parameter is a kind in `UNKNOWN`): tenant B
  calling it with A's ids (every mix of A's and B's own ids) and a valid body gets the very
  404 an unknown id gets, and A's objects are left as they were; the same call by A then
  succeeds, proving the body was valid;
- a path parameter that filters within a tenant-owned object rather than naming one (`FILTERS`,
  e.g. a chat id inside an instance: any chat id is a valid, possibly empty, filter) is given a
  fixed value; the route must still name a tenant-owned object, which is tested as above;
- no tenant-owned path parameter (`NOT_OBJECT_ROUTES`): listed with the reason it needs no
  cross-tenant call; B's creations must not reach A, and the listings among them
  (`LISTINGS`) must not show B anything of A's.

A route added without a rule fails test_every_route_falls_under_a_rule, so it cannot be
missed. Every route but the docs must also answer 401 without a key or with a wrong one.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.phone_requests import StandInSidecar, found_everywhere, hold
from zapgate_public_api.app import app

PHONE = "5511999999999"

# ------------------------------------------------------------------ the rules
# The console's static files (issue 12): served to anyone, the same bytes for every caller, not in the OpenAPI;
# the pages read tenant data only through the API routes enumerated here. Checked on their own below.
CONSOLE = {("GET", "/console"), ("GET", "/console/"), ("GET", "/console/assets/{name}")}
DOCS = {
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/docs"),
    ("GET", "/v1/docs/oauth2-redirect"),
}
# Served to anyone, with or without a key: they must read no tenant data (checked below).
UNAUTHENTICATED = {("GET", "/v1/healthz")}
# Path parameters naming something a tenant owns: each tenant gets such objects made by _seed,
# and an id of that kind that exists nowhere (what "unknown" answers are compared against).
UNKNOWN = {
    "instance_id": "00000000-0000-4000-8000-000000000000",
    "message_id": "00000000-0000-4000-8000-000000000001",
    "jid": "120363999999999999@g.us",
    "key_id": "00000000-0000-4000-8000-000000000002",
    "webhook_id": "wh_00000000000000000000000000000000",
    "request_id": "00000000-0000-4000-8000-000000000003",
    "automation_id": "00000000-0000-4000-8000-000000000004",
    "event_id": "00000000-0000-4000-8000-000000000005",  # a webhook's dead delivery (webhook_deliveries.py)
}
# Path parameters that filter inside a tenant-owned object (never an object themselves), with the
# value used: the owning object next to them (the instance) carries the isolation.
FILTERS = {
    "chat_id": f"{PHONE}@s.whatsapp.net",  # a chat of an instance: both tenants' seeds have this chat
    "contact": PHONE,  # a WhatsApp user the instance's phone is asked about (requests to the phone)
}
# Path parameters that name something on WhatsApp, asked live of the instance's phone (requests to the
# phone), not an object zapgate keeps for a tenant: per route, since `jid` names a tenant-owned group
# elsewhere (PATCH .../groups/{jid}: zapgate's record of a discovered group). Given a fixed value like
# FILTERS; the instance next to them carries the isolation.
ASKED_GROUP = {"jid": "120363333333333333@g.us"}
ASKED_OF_THE_PHONE: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/instances/{instance_id}/groups/{jid}"): ASKED_GROUP,
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/name"): ASKED_GROUP,
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/description"): ASKED_GROUP,
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/settings"): ASKED_GROUP,
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/participants"): ASKED_GROUP,
    ("GET", "/v1/instances/{instance_id}/groups/{jid}/invite-link"): ASKED_GROUP,
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/invite-link/reset"): ASKED_GROUP,
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/leave"): ASKED_GROUP,
}
NOT_OBJECT_ROUTES = {
    ("GET", "/v1/instances"): "lists the caller's own instances: see LISTINGS",
    ("POST", "/v1/instances"): "creates an instance in the caller's tenant; names no existing object",
    ("GET", "/v1/keys"): "lists the caller's own keys: see LISTINGS",
    ("POST", "/v1/keys"): "creates a key for the caller's tenant; names no existing object",
    ("GET", "/v1/webhooks"): "lists the caller's own webhooks: see LISTINGS",
    ("POST", "/v1/webhooks"): "creates a webhook for the caller's tenant; names no existing object",
    ("POST", "/v1/media-uploads"): "mints an upload ticket under the caller's own tenant prefix; names no object",
    ("POST", "/v1/live/tickets"): "mints a live ticket for the caller's tenant; names no object (instanceId on "
                                  "connect is checked against the ticket's tenant: test_live_updates.py)",
}
# Listing route → the key of the page's items; B's listing must not contain A's ids.
LISTINGS = {("GET", "/v1/instances"): "instances", ("GET", "/v1/keys"): "keys", ("GET", "/v1/webhooks"): "webhooks"}
RULE = {"kind": "rule", "name": "Preço", "trigger": {"type": "keyword", "keywords": ["preço"]},
        "reply": {"type": "text", "text": "a partir de R$ 50"}}  # fmt: skip
# A syntactically valid body for every route that takes one (the same body A then succeeds with).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/instances/{instance_id}/automations"): RULE,
    ("PUT", "/v1/instances/{instance_id}/automations/{automation_id}"): {**RULE, "name": "Preço 2", "position": 3},
    ("PATCH", "/v1/instances/{instance_id}/automations/{automation_id}"): {"enabled": False},
    ("POST", "/v1/instances"): {"name": "made-by-test"},
    ("PATCH", "/v1/instances/{instance_id}"): {"name": "renamed", "priority": 7, "enabled": False},
    ("POST", "/v1/instances/{instance_id}/messages"): {"to": PHONE, "body": "hi", "queue_if_offline": True},
    ("POST", "/v1/instances/{instance_id}/commands"): {"type": "refresh_qr"},
    ("POST", "/v1/instances/{instance_id}/contacts/check"): {"numbers": [PHONE]},
    ("POST", "/v1/instances/{instance_id}/chats/presence"): {"chat": PHONE, "state": "composing"},
    ("POST", "/v1/instances/{instance_id}/messages/{message_id}/edit"): {"text": "edited"},
    ("POST", "/v1/instances/{instance_id}/chats/read"): {"chat": PHONE},
    ("POST", "/v1/instances/{instance_id}/presence"): {"state": "available"},
    ("POST", "/v1/instances/{instance_id}/groups"): {"name": "made-by-test", "participants": [PHONE]},
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/name"): {"name": "renamed"},
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/description"): {"description": "about us"},
    ("PUT", "/v1/instances/{instance_id}/groups/{jid}/settings"): {"announce": True},
    ("POST", "/v1/instances/{instance_id}/groups/{jid}/participants"): {"action": "add", "participants": [PHONE]},
    ("POST", "/v1/instances/{instance_id}/groups/join"): {"link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"},
    ("PUT", "/v1/instances/{instance_id}/profile/name"): {"name": "Zap"},
    ("PUT", "/v1/instances/{instance_id}/profile/about"): {"about": "at work"},
    ("PATCH", "/v1/instances/{instance_id}/groups/{jid}"): {"monitor": True},
    ("POST", "/v1/media-uploads"): {"media_type": "image", "mime_type": "image/png", "size": 1024},
    ("POST", "/v1/keys"): {"label": "made-by-test"},
    ("POST", "/v1/webhooks"): {"url": "https://hooks.example.com/made-by-test"},
}


# ------------------------------------------------------------------ enumeration
def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app, included routers flattened; HEAD is Starlette's shadow of GET."""
    routes: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or repr(route)
        methods = route.methods or {"*"}  # a Mount or websocket has no methods: it must be ruled on too
        routes.update((method, path) for method in methods if method != "HEAD")
    return routes


def openapi_operations() -> dict[tuple[str, str], dict[str, Any]]:
    spec = app.openapi()
    return {(method.upper(), path): op for path, ops in spec["paths"].items() for method, op in ops.items()}


def path_params(path: str) -> list[str]:
    return re.findall(r"{([^}:]+)(?::[^}]*)?}", path)


def _ids(routes: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in routes]


ROUTES = sorted(served_routes() - CONSOLE)
API_ROUTES = [route for route in ROUTES if route not in DOCS | UNAUTHENTICATED]
OBJECT_ROUTES = [route for route in API_ROUTES if path_params(route[1])]
CREATIONS = sorted(route for route in NOT_OBJECT_ROUTES if route[0] != "GET")


def test_routes_are_read_from_the_app_and_match_its_openapi() -> None:
    assert len(ROUTES) >= 11  # the enumeration itself works (8 routes + docs at first, and growing)
    assert set(openapi_operations()) == set(ROUTES) - DOCS


def test_every_route_falls_under_a_rule() -> None:
    unruled = []
    for method, path in ROUTES:
        params = path_params(path)
        if (method, path) in DOCS | UNAUTHENTICATED:
            assert not params, f"{method} {path} names objects in its path: it cannot go without a key"
            continue
        if (method, path) in NOT_OBJECT_ROUTES:
            assert not params, f"{method} {path} names objects in its path: give it no NOT_OBJECT_ROUTES entry"
            assert method != "GET" or (method, path) in LISTINGS, f"{method} {path} reads tenant data: a LISTING"
            continue
        owned = [p for p in params if p not in FILTERS and p not in ASKED_OF_THE_PHONE.get((method, path), {})]
        if not owned or any(p not in UNKNOWN for p in owned):
            unruled.append((method, path))
    assert unruled == [], (
        "routes with no isolation rule: add their path params to UNKNOWN and seed such objects in _seed, "
        "or list them in NOT_OBJECT_ROUTES with the reason they need no cross-tenant check"
    )
    stale = (set(NOT_OBJECT_ROUTES) | set(BODIES) | set(LISTINGS) | set(ASKED_OF_THE_PHONE) | DOCS
             | UNAUTHENTICATED) - set(ROUTES)
    assert stale == set(), "rules for routes the app no longer serves"


def test_every_route_with_a_body_has_a_valid_body_here() -> None:
    with_body = {route for route, op in openapi_operations().items() if "requestBody" in op}
    assert with_body - set(BODIES) == set(), "add a syntactically valid body to BODIES"


# ------------------------------------------------------------------ each tenant's objects
@dataclass(frozen=True)
class Owned:
    name: str
    ids: dict[str, tuple[str, ...]]  # path parameter → this tenant's objects of that kind, the main one first

    def main(self) -> dict[str, str]:
        return {param: values[0] for param, values in self.ids.items()}

    def secrets(self) -> set[str]:
        return {self.name} | {value for values in self.ids.values() for value in values}


def _client(key: str | None) -> TestClient:
    headers = {"X-API-Key": key} if key is not None else {}
    return TestClient(app, headers=headers, raise_server_exceptions=False)


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def _seed(client: TestClient, name: str, group_jid: str, env: dict[str, str], sidecar: StandInSidecar) -> Owned:
    """One object of every kind a path can name, made through the APIs as a client and a sidecar would.
    The instance is connected and held by a sidecar that answers requests to the phone (`sidecar`)."""
    from tests.integration.worker_client import worker_client

    worker = worker_client()
    instance_id = _ok(client.post("/v1/instances", json={"name": name}), 201)["id"]
    sidecar.helds.append(hold(env, instance_id, f"sidecar-of-{instance_id}"))
    _ok(client.post(f"/v1/instances/{instance_id}/contacts/check", json={"numbers": [PHONE]}), 200)
    request_id = sidecar.ran[-1]["request_id"]
    sent = _ok(client.post(f"/v1/instances/{instance_id}/messages",
                           json={"to": PHONE, "body": f"from {name}", "queue_if_offline": True}), 202)  # fmt: skip
    # Sent, so the requests about it (edit, revoke) have WhatsApp's id to name.
    _ok(worker.get("/worker-proxy/queued-messages", params={"instanceId": instance_id}), 200)
    _ok(worker.post("/worker-proxy/mark-sent", json={"messageId": sent["id"], "wa_message_id": f"WA-{name}"}), 200)
    chat = f"{PHONE}@s.whatsapp.net"
    inbound = _ok(worker.post("/worker-proxy/inbound", json={
        "instanceId": instance_id, "from": chat, "chat_id": chat, "body": f"to {name}", "wa_message_id": name,
    }), 200)  # fmt: skip
    _ok(worker.post("/worker-proxy/groups",
                    json={"instanceId": instance_id, "groups": [{"jid": group_jid, "name": f"{name} group"}]}), 200)
    key = _ok(client.post("/v1/keys", json={"label": f"{name} key"}), 201)
    webhook = _ok(client.post("/v1/webhooks", json={"url": f"https://hooks.example.com/{name}"}), 201)
    automation = _ok(client.post(f"/v1/instances/{instance_id}/automations", json={**RULE, "name": f"{name} rule"}),
                     201)  # fmt: skip
    dead_event_id = _dead_delivery(client, webhook["id"])
    return Owned(name, {
        "instance_id": (instance_id,),
        "message_id": (sent["id"], inbound["id"]),
        "jid": (group_jid,),
        "key_id": (key["id"],),
        "webhook_id": (webhook["id"],),
        "request_id": (request_id,),
        "automation_id": (automation["id"],),
        "event_id": (dead_event_id,),
    })  # fmt: skip


def _dead_delivery(client: TestClient, webhook_id: str) -> str:
    """A dead delivery of the webhook, as the events processor records one (its last failed attempt)."""
    import uuid

    from zapgate_control.ports.delivery_log import DeliveryAttempt
    from zapgate_control.wiring import get_stores

    tenant_id = "tenant-a" if client.headers.get("X-API-Key") == API_KEY else "tenant-b"
    event_id = str(uuid.uuid4())
    envelope = {"id": event_id, "type": "MESSAGE_STATUS", "instanceId": "i", "timestamp": "2026-01-01T00:00:00.000Z",
                "payload": {}}
    get_stores().delivery_log.record(DeliveryAttempt(tenant_id, webhook_id, event_id, "MESSAGE_STATUS", 5, "HTTP 500",
                                                     "dead", envelope))
    return event_id


@pytest.fixture
def tenants(aws_env: dict[str, str]) -> Iterator[tuple[TestClient, TestClient, Owned, Owned]]:
    a, b = _client(API_KEY), _client(OTHER_API_KEY)
    with StandInSidecar([], found_everywhere) as sidecar:
        owned_a = _seed(a, "tenant-a-secret-name", "120363111111111111@g.us", aws_env, sidecar)
        owned_b = _seed(b, "b-own", "120363222222222222@g.us", aws_env, sidecar)
        assert set(owned_a.ids) == set(UNKNOWN), "seed an object of every kind a path can name"
        yield a, b, owned_a, owned_b


def _url(path: str, values: dict[str, str]) -> str:
    values = {**FILTERS, **values}
    return re.sub(r"{([^}:]+)(?::[^}]*)?}", lambda m: values[m.group(1)], path)


def _view_of(client: TestClient, owned: Owned) -> dict[str, Any]:
    """Everything the tenant can read about its objects: every GET that names at most its instance."""
    view: dict[str, Any] = {}
    for method, path in API_ROUTES:
        if method == "GET" and set(path_params(path)) <= {"instance_id"}:
            url = _url(path, owned.main())
            view[url] = _ok(client.get(url), 200)
    messages = f"/v1/instances/{owned.main()['instance_id']}/messages"
    view["inbound"] = _ok(client.get(messages, params={"direction": "inbound"}), 200)
    return view


def _attempts(method: str, path: str, a: Owned, b: Owned) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(values naming at least one of A's objects, the same with A's ids replaced by unknown ones)."""
    fixed = ASKED_OF_THE_PHONE.get((method, path), {})
    params = [p for p in path_params(path) if p not in FILTERS and p not in fixed]
    choices = [[(value, True) for value in a.ids[p]] + [(b.ids[p][0], False)] for p in params]
    attempts = []
    for combo in itertools.product(*choices):
        if not any(is_a for _, is_a in combo):
            continue  # B's own objects only: not a cross-tenant call
        values = {**fixed, **{p: value for p, (value, _) in zip(params, combo, strict=True)}}
        unknown = {**fixed,
                   **{p: UNKNOWN[p] if is_a else value for p, (value, is_a) in zip(params, combo, strict=True)}}
        attempts.append((values, unknown))
    return attempts


# ------------------------------------------------------------------ isolation
@pytest.mark.parametrize(("method", "path"), OBJECT_ROUTES, ids=_ids(OBJECT_ROUTES))
def test_another_tenants_object_is_a_404_exactly_like_an_unknown_one(
    tenants: tuple[TestClient, TestClient, Owned, Owned], method: str, path: str
) -> None:
    a, b, owned_a, owned_b = tenants
    body = BODIES.get((method, path))
    before = _view_of(a, owned_a)
    for values, unknown_values in _attempts(method, path, owned_a, owned_b):
        unknown = b.request(method, _url(path, unknown_values), json=body)
        assert unknown.status_code == 404, (unknown_values, unknown.text)
        response = b.request(method, _url(path, values), json=body)
        assert response.status_code == 404, (values, response.status_code, response.text)
        assert response.json() == unknown.json(), values  # not a word more than for an id that does not exist
        leaked = {secret for secret in owned_a.secrets() | {"tenant-a"} if secret in response.text}
        assert leaked == set()
    assert _view_of(a, owned_a) == before, "B's calls changed what A has"

    # The same request by A succeeds: the 404s above were isolation, not a bad request.
    own = a.request(method, _url(path, owned_a.main()), json=body)
    assert 200 <= own.status_code < 300, own.text


@pytest.mark.parametrize(("method", "path"), CREATIONS, ids=_ids(CREATIONS))
def test_what_another_tenant_creates_never_reaches_ones_own(
    tenants: tuple[TestClient, TestClient, Owned, Owned], method: str, path: str
) -> None:
    a, b, owned_a, _ = tenants
    before = _view_of(a, owned_a)
    created = b.request(method, path, json=BODIES.get((method, path)))
    assert 200 <= created.status_code < 300, created.text
    assert _view_of(a, owned_a) == before


@pytest.mark.parametrize(("method", "path"), sorted(LISTINGS), ids=_ids(sorted(LISTINGS)))
def test_listings_never_show_another_tenants_objects(
    tenants: tuple[TestClient, TestClient, Owned, Owned], method: str, path: str
) -> None:
    a, b, owned_a, owned_b = tenants
    key = LISTINGS[(method, path)]
    ids_seen_by_b = {item["id"] for item in _ok(b.request(method, path), 200)[key]}
    ids_seen_by_a = {item["id"] for item in _ok(a.request(method, path), 200)[key]}
    assert ids_seen_by_a & owned_a.secrets(), "the listing shows A its own objects (else this test proves nothing)"
    assert ids_seen_by_b & owned_b.secrets()
    assert ids_seen_by_a.isdisjoint(ids_seen_by_b)
    assert ids_seen_by_b.isdisjoint(owned_a.secrets())
    assert "tenant-a" not in b.request(method, path).text


def test_a_listing_of_ones_own_instance_shows_no_other_tenants_objects(
    tenants: tuple[TestClient, TestClient, Owned, Owned],
) -> None:
    _, b, owned_a, owned_b = tenants
    view = json.dumps(_view_of(b, owned_b))
    assert owned_b.main()["message_id"] in view and owned_b.main()["jid"] in view  # B does see its own
    assert {secret for secret in owned_a.secrets() if secret in view} == set()


def test_the_same_idempotency_key_in_two_tenants_makes_two_messages(
    tenants: tuple[TestClient, TestClient, Owned, Owned],
) -> None:
    a, b, owned_a, owned_b = tenants
    body = BODIES[("POST", "/v1/instances/{instance_id}/messages")]
    headers = {"Idempotency-Key": "shared-key-1"}
    path_a = f"/v1/instances/{owned_a.main()['instance_id']}/messages"
    path_b = f"/v1/instances/{owned_b.main()['instance_id']}/messages"
    id_a = _ok(a.post(path_a, json=body, headers=headers), 202)["id"]
    id_b = _ok(b.post(path_b, json=body, headers=headers), 202)["id"]
    assert id_a != id_b
    assert b.get(f"{path_b}/{id_a}").status_code == 404


# ------------------------------------------------------------------ authentication
@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=_ids(API_ROUTES))
def test_every_api_route_needs_an_api_key(
    tenants: tuple[TestClient, TestClient, Owned, Owned], method: str, path: str
) -> None:
    _, _, owned_a, _ = tenants
    url = _url(path, owned_a.main())
    body = BODIES.get((method, path))
    for key in (None, "", "wrong-key", API_KEY.upper(), API_KEY[:-1], "x" * 300):
        response = _client(key).request(method, url, json=body)
        assert response.status_code == 401, (key, response.status_code, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert {secret for secret in owned_a.secrets() if secret in response.text} == set()


@pytest.mark.parametrize(("method", "path"), sorted(DOCS), ids=_ids(sorted(DOCS)))
def test_docs_are_served_without_a_key(aws_env: dict[str, str], method: str, path: str) -> None:
    assert _client(None).request(method, path).status_code == 200


def test_the_console_files_are_the_only_routes_left_out_and_are_the_same_for_every_caller(
    tenants: tuple[TestClient, TestClient, Owned, Owned],
) -> None:
    assert served_routes() >= CONSOLE
    a, b, owned_a, owned_b = tenants
    for path in ("/console/", "/console/assets/app.js"):
        answers = [client.get(path) for client in (a, b, _client(None))]
        assert [r.status_code for r in answers] == [200, 200, 200], path
        assert answers[0].content == answers[1].content == answers[2].content
        assert not any(secret in answers[0].text for secret in owned_a.secrets() | owned_b.secrets())


@pytest.mark.parametrize(("method", "path"), sorted(UNAUTHENTICATED), ids=_ids(sorted(UNAUTHENTICATED)))
def test_unauthenticated_routes_answer_the_same_to_every_caller(
    tenants: tuple[TestClient, TestClient, Owned, Owned], method: str, path: str
) -> None:
    a, b, owned_a, owned_b = tenants
    answers = [client.request(method, path) for client in (a, b, _client(None))]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert not any(secret in answers[0].text for secret in owned_a.secrets() | owned_b.secrets())
