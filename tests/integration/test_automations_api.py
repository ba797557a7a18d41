"""The automations' public API and stores (issue 11) against moto: configurations, provider keys in
Secrets Manager, interactions, escalation pauses and cooldowns (docs/automations.md#storage-and-api)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from zapgate_control.ports.automations import ChatPauseRecord, Firing, InteractionRecord, ToolCallRecord
from zapgate_public_api.app import app

PHONE = "5511988887777"
CHAT = f"{PHONE}@s.whatsapp.net"
KEY = "sk-test-NEVER-SHOWN-0123456789abcdef"
RULE: dict[str, Any] = {
    "kind": "rule", "name": "Preço", "position": 10,
    "trigger": {"type": "keyword", "keywords": ["preço", "quanto custa"]},
    "reply": {"type": "text", "text": "Banho a partir de R$ 50"}, "cooldown_s": 600,
}  # fmt: skip
TOOL = {
    "name": "book_appointment", "description": "Agenda um serviço", "url": "https://tenant.example/book",
    "parameters": {"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]},
}  # fmt: skip
AGENT: dict[str, Any] = {
    "kind": "agent", "name": "Client AI", "audience": "customer", "provider": "openai", "model": "gpt-4o-mini",
    "system_prompt": "Você é a recepcionista do pet shop", "tools": [TOOL],
}  # fmt: skip


@pytest.fixture
def client(aws_env: dict[str, str]) -> TestClient:
    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


@pytest.fixture
def instance(client: TestClient) -> str:
    return str(_ok(client.post("/v1/instances", json={"name": "shop"}), 201)["id"])


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, str]) -> Iterator[None]:
    """As a deployed stack: the template's AUTOMATIONS_ALLOW_HTTP is false (the local stack sets true)."""
    from zapgate_control import settings, wiring

    monkeypatch.setenv("AUTOMATIONS_ALLOW_HTTP", "false")
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    yield
    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _base(instance: str) -> str:
    return f"/v1/instances/{instance}/automations"


def _stores() -> Any:
    from zapgate_control.wiring import get_stores

    return get_stores()


def _secret(automation_id: str) -> str | None:
    """What Secrets Manager holds for the automation (read as the runner would)."""
    return _stores().provider_secrets.get(automation_id)


# ------------------------------------------------------------------ configurations
def test_a_rule_round_trips_create_read_replace_pause_delete(client: TestClient, instance: str) -> None:
    created = _ok(client.post(_base(instance), json=RULE), 201)
    assert created["kind"] == "rule" and created["version"] == 1 and created["enabled"] is True
    assert created["trigger"] == RULE["trigger"] and created["cooldown_s"] == 600
    assert created["owner_numbers"] == [] and created["include_groups"] is False  # defaults filled in
    assert created["api_key_set"] is False and created["instance_id"] == instance
    url = f"{_base(instance)}/{created['id']}"
    assert _ok(client.get(url)) == created

    # PUT what GET answered, edited: the read-only fields are dropped, the version moves on.
    edited = {**created, "name": "Preço novo", "reply": {"type": "text", "text": "R$ 60"}}
    replaced = _ok(client.put(url, json=edited))
    assert replaced["version"] == 2 and replaced["name"] == "Preço novo" and replaced["reply"]["text"] == "R$ 60"
    assert replaced["created_at"] == created["created_at"] and replaced["id"] == created["id"]

    paused = _ok(client.patch(url, json={"enabled": False}))
    assert paused["enabled"] is False and paused["version"] == 3 and paused["name"] == "Preço novo"
    assert _ok(client.patch(url, json={"enabled": False}))["version"] == 3  # already paused: no write
    assert _ok(client.patch(url, json={"enabled": True}))["enabled"] is True

    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert _ok(client.get(_base(instance))) == {"automations": []}


def test_listing_is_in_evaluation_order_rules_then_agents_each_by_position(client: TestClient, instance: str) -> None:
    made = {}
    owner_agent = {**AGENT, "position": 2, "audience": "owner", "owner_numbers": [PHONE]}
    for name, body in (("agent0", {**AGENT, "position": 0}), ("rule5", {**RULE, "position": 5}),
                       ("ruleA1", {**RULE, "position": 1}), ("ruleB1", {**RULE, "position": 1}),
                       ("agent2", owner_agent)):  # fmt: skip
        made[name] = _ok(client.post(_base(instance), json={**body, "name": name}), 201)["id"]
    names = [item["name"] for item in _ok(client.get(_base(instance)))["automations"]]
    ones = sorted(["ruleA1", "ruleB1"], key=lambda n: made[n])  # a tie in position: by id
    assert names == [*ones, "rule5", "agent0", "agent2"]


def test_enable_and_pause_drive_the_instances_enabled_answer(client: TestClient, instance: str) -> None:
    store = _stores().automations
    assert store.has_enabled(instance) is False
    first = _ok(client.post(_base(instance), json=RULE), 201)["id"]
    second = _ok(client.post(_base(instance), json={**RULE, "enabled": False}), 201)["id"]
    assert store.has_enabled(instance) is True
    _ok(client.patch(f"{_base(instance)}/{first}", json={"enabled": False}))
    assert store.has_enabled(instance) is False
    _ok(client.put(f"{_base(instance)}/{second}", json={**RULE, "enabled": True}))
    assert store.has_enabled(instance) is True
    assert client.delete(f"{_base(instance)}/{second}").status_code == 204
    assert store.has_enabled(instance) is False


def test_if_match_guards_a_change_against_another_version(client: TestClient, instance: str) -> None:
    url = f"{_base(instance)}/{_ok(client.post(_base(instance), json=RULE), 201)['id']}"
    stale = client.put(url, json=RULE, headers={"If-Match": '"7"'})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["version"] == 1
    assert _ok(client.patch(url, json={"enabled": False}, headers={"If-Match": '"1"'}))["version"] == 2
    assert client.delete(url, headers={"If-Match": "1"}).status_code == 409
    assert client.put(url, json=RULE, headers={"If-Match": "two"}).status_code == 422
    assert client.delete(url, headers={"If-Match": "2"}).status_code == 204


def test_an_instance_holds_a_bounded_number(client: TestClient, instance: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from zapgate_control.services import automations

    monkeypatch.setattr(automations, "MAX_AUTOMATIONS_PER_INSTANCE", 2)
    for _ in range(2):
        _ok(client.post(_base(instance), json=RULE), 201)
    refused = client.post(_base(instance), json={**AGENT, "api_key": KEY})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "automation_limit"
    assert len(_ok(client.get(_base(instance)))["automations"]) == 2
    # The key put before the refused write does not stay behind.
    names = [s["Name"] for s in _secretsmanager().list_secrets()["SecretList"]]
    assert not [n for n in names if n.startswith(_stores().settings.provider_secrets_prefix)]


def test_an_idempotency_key_makes_one_automation(client: TestClient, instance: str) -> None:
    headers = {"Idempotency-Key": "create-price-rule"}
    first = _ok(client.post(_base(instance), json=RULE, headers=headers), 201)
    again = _ok(client.post(_base(instance), json=RULE, headers=headers), 201)
    assert again == first
    other = client.post(_base(instance), json={**RULE, "name": "other"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(_ok(client.get(_base(instance)))["automations"]) == 1


def test_another_tenants_instance_and_automation_are_404(client: TestClient, instance: str) -> None:
    automation = _ok(client.post(_base(instance), json=RULE), 201)["id"]
    other = TestClient(app, headers={"X-API-Key": OTHER_API_KEY})
    assert other.get(_base(instance)).status_code == 404
    assert other.get(f"{_base(instance)}/{automation}").status_code == 404
    theirs = _ok(other.post("/v1/instances", json={"name": "theirs"}), 201)["id"]
    assert other.get(f"{_base(theirs)}/{automation}").status_code == 404
    assert other.delete(f"{_base(theirs)}/{automation}").status_code == 404
    assert _ok(client.get(f"{_base(instance)}/{automation}"))["version"] == 1


# ------------------------------------------------------------------ refusals: 422, nothing stored
BAD_BODIES = {
    "tool schema": ({**AGENT, "tools": [{**TOOL, "parameters": {"type": "object", "properties": {
        "date": {"type": "string", "minLength": -1}}}}]},
        "tools.0.parameters: tool parameters are not a valid JSON Schema (Draft 2020-12): "
        "$.properties.date.minLength breaks its 'minimum'"),
    "tool schema not an object": ({**AGENT, "tools": [{**TOOL, "parameters": {"type": "string"}}]},
                                  'tools.0.parameters: tool parameters must be an object schema ("type": "object")'),
    "unknown provider": ({**AGENT, "provider": "gemini"}, "provider: Input should be 'openai' or 'bedrock'"),
    "cooldown out of range": ({**RULE, "cooldown_s": 604_801},
                              "cooldown_s: Input should be less than or equal to 604800"),
    "negative cooldown": ({**RULE, "cooldown_s": -1}, "cooldown_s: Input should be greater than or equal to 0"),
    "hours out of range": ({**RULE, "trigger": {"type": "away", "timezone": "America/Sao_Paulo",
                                                "hours": {"mon": [{"start": "09:00", "end": "25:00"}]}}},
                           "trigger.away.hours.mon.0: "),
    "range across midnight": ({**RULE, "trigger": {"type": "away", "timezone": "America/Sao_Paulo",
                                                   "hours": {"fri": [{"start": "22:00", "end": "02:00"}]}}},
                              "trigger.away.hours.fri.0: "),
    "unknown time zone": ({**RULE, "trigger": {"type": "away", "timezone": "Mars/Olympus", "hours": {}}},
                          "trigger.away.timezone: "),
    "unknown field": ({**RULE, "coldown_s": 5}, "coldown_s: Extra inputs are not permitted"),
    "unknown kind": ({**RULE, "kind": "workflow-SECRET-VALUE"}, "kind: must be 'rule' or 'agent'"),
    "no kind": ({k: v for k, v in RULE.items() if k != "kind"}, "kind: required, 'rule' or 'agent'"),
    "bedrock with a key": ({**AGENT, "provider": "bedrock", "api_key": KEY}, "bedrock takes no base_url or api_key"),
    "owner agent without owners": ({**AGENT, "audience": "owner"}, "an owner agent needs owner_numbers"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_bad_configuration_is_a_422_that_says_what_to_change_and_stores_nothing(
    client: TestClient, instance: str, case: str
) -> None:
    body, message = BAD_BODIES[case]
    response = client.post(_base(instance), json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(message), error["message"]
    assert "SECRET-VALUE" not in response.text and KEY not in response.text
    assert _ok(client.get(_base(instance))) == {"automations": []}
    assert _stores().automations.has_enabled(instance) is False
    assert [s["Name"] for s in _secretsmanager().list_secrets()["SecretList"]
            if s["Name"].startswith(_stores().settings.provider_secrets_prefix)] == []  # fmt: skip


def test_a_bad_replacement_is_a_422_and_leaves_the_stored_one(client: TestClient, instance: str) -> None:
    created = _ok(client.post(_base(instance), json=RULE), 201)
    url = f"{_base(instance)}/{created['id']}"
    assert client.put(url, json={**RULE, "cooldown_s": 10**9}).status_code == 422
    assert client.patch(url, json={"enabled": "yes"}).status_code == 422
    assert client.patch(url, json={"enabled": True, "name": "x"}).status_code == 422
    assert _ok(client.get(url)) == created


@pytest.mark.usefixtures("deployed")
def test_a_deployed_stack_refuses_http_and_internal_tool_urls(client: TestClient, instance: str) -> None:
    for url in ("http://tenant.example/book", "https://127.0.0.1/book", "https://169.254.169.254/latest",
                "https://localhost/book", "https://user:pw@tenant.example/book"):  # fmt: skip
        response = client.post(_base(instance), json={**AGENT, "tools": [{**TOOL, "url": url}]})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["message"].startswith("tools.0.url: URL must")
        assert "tenant.example" not in response.text and "169.254" not in response.text
    base = client.post(_base(instance), json={**AGENT, "base_url": "http://ollama.internal:11434/v1"})
    assert base.status_code == 422 and base.json()["error"]["message"].startswith("base_url: URL must")
    assert _ok(client.get(_base(instance))) == {"automations": []}
    _ok(client.post(_base(instance), json=AGENT), 201)  # https to a public host is fine


def test_the_local_stack_allows_http_tools(client: TestClient, instance: str) -> None:
    # aws_env is the local stack's template environment: AutomationsAllowHttp=true.
    local = {**AGENT, "base_url": "http://127.0.0.1:8010/v1", "tools": [{**TOOL, "url": "http://127.0.0.1:9000/book"}]}
    created = _ok(client.post(_base(instance), json=local), 201)
    assert created["tools"][0]["url"] == "http://127.0.0.1:9000/book"


# ------------------------------------------------------------------ the provider key: write-only
def _secretsmanager() -> Any:
    from zapgate_control.aws import client

    return client("secretsmanager")


def test_the_api_key_lands_in_secrets_manager_and_in_no_answer_or_log(
    client: TestClient, instance: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore logs request and response bodies at DEBUG
    answers = []
    created = _ok(client.post(_base(instance), json={**AGENT, "api_key": KEY}), 201)
    answers.append(created)
    assert created["api_key_set"] is True and "api_key" not in created
    automation_id = created["id"]
    url = f"{_base(instance)}/{automation_id}"
    name = f"{_stores().settings.provider_secrets_prefix}{automation_id}"
    assert name.startswith("zapgate-local/automations/")  # the template's "<stack>/automations/" prefix
    assert _secretsmanager().get_secret_value(SecretId=name)["SecretString"] == KEY
    assert _secret(automation_id) == KEY
    stored = _stores().automations.get(instance, automation_id)
    assert KEY not in repr(stored) and _stores().provider_secrets.get(automation_id, stored.api_key_version) == KEY

    answers += [_ok(client.get(url)), _ok(client.get(_base(instance))), _ok(client.patch(url, json={"enabled": False}))]
    # PUT without api_key keeps the key; with a new one replaces it; the old version stays readable by version.
    kept = _ok(client.put(url, json={**created, "temperature": 0.2}))
    answers.append(kept)
    assert kept["api_key_set"] is True and _secret(automation_id) == KEY
    rotated = _ok(client.put(url, json={**AGENT, "api_key": KEY + "-v2"}))
    answers.append(rotated)
    assert _secret(automation_id) == KEY + "-v2"
    assert _stores().provider_secrets.get(automation_id, stored.api_key_version) == KEY
    # null removes it (the secret goes too).
    removed = _ok(client.put(url, json={**AGENT, "api_key": None}))
    answers.append(removed)
    assert removed["api_key_set"] is False and _secret(automation_id) is None

    refused = client.post(_base(instance), json={**AGENT, "provider": "bedrock", "api_key": KEY})
    answers.append(refused.json())
    output = capfd.readouterr()
    for text in [str(a) for a in answers] + [caplog.text, output.out, output.err]:
        assert KEY not in text and "NEVER-SHOWN" not in text
    # The checks above saw botocore's records and the request log lines.
    assert "secrets-manager" in caplog.text
    assert any(getattr(record, "route", "").endswith("/automations") for record in caplog.records)
    for record in caplog.records:
        assert KEY not in str(record.__dict__)  # structured fields (Powertools' extra) too


def test_a_keyless_provider_or_a_delete_removes_the_key(client: TestClient, instance: str) -> None:
    created = _ok(client.post(_base(instance), json={**AGENT, "api_key": KEY}), 201)
    url = f"{_base(instance)}/{created['id']}"
    bedrock = _ok(client.put(url, json={**AGENT, "provider": "bedrock", "model": "amazon.nova-lite-v1:0"}))
    assert bedrock["api_key_set"] is False and _secret(created["id"]) is None

    other = _ok(client.post(_base(instance), json={**AGENT, "api_key": KEY}), 201)
    assert _secret(other["id"]) == KEY
    assert client.delete(f"{_base(instance)}/{other['id']}").status_code == 204
    assert _secret(other["id"]) is None


def test_a_media_reply_by_upload_id_must_name_an_upload_of_the_tenant(client: TestClient, instance: str) -> None:
    import httpx

    data = b"%PDF-1.4"
    ticket = _ok(client.post("/v1/media-uploads", json={"media_type": "document", "mime_type": "application/pdf",
                                                        "size": len(data)}), 201)
    rule = {**RULE, "reply": {"type": "media", "media_type": "document", "upload_id": ticket["upload_id"]}}
    refused = client.post(_base(instance), json=rule)  # the ticket alone: nothing uploaded yet
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "upload_not_found"
    assert _ok(client.get(_base(instance)))["automations"] == []
    upload = ticket["upload"]
    httpx.post(upload["url"], data=upload["fields"], files={"file": ("a.pdf", data, "application/pdf")})
    created = _ok(client.post(_base(instance), json=rule), 201)
    assert created["reply"]["upload_id"] == ticket["upload_id"]
    # Another tenant cannot name it (its key is under this tenant), on create or on replace.
    other = TestClient(app, headers={"X-API-Key": OTHER_API_KEY}, raise_server_exceptions=False)
    theirs = str(_ok(other.post("/v1/instances", json={"name": "theirs"}), 201)["id"])
    stolen = other.post(_base(theirs), json=rule)
    assert stolen.status_code == 422 and stolen.json()["error"]["code"] == "upload_not_found"
    nothing = "00000000-0000-4000-8000-000000000000"
    replaced = client.put(f"{_base(instance)}/{created['id']}",
                          json={**rule, "reply": {**rule["reply"], "upload_id": nothing}})
    assert replaced.status_code == 422 and replaced.json()["error"]["code"] == "upload_not_found"


def test_deleting_the_instance_removes_its_automations_and_their_keys(client: TestClient, instance: str) -> None:
    keyed = _ok(client.post(_base(instance), json={**AGENT, "api_key": KEY}), 201)
    rule = _ok(client.post(_base(instance), json=RULE), 201)
    kept_instance = str(_ok(client.post("/v1/instances", json={"name": "other shop"}), 201)["id"])
    kept = _ok(client.post(_base(kept_instance), json={**AGENT, "api_key": KEY}), 201)

    assert client.delete(f"/v1/instances/{instance}").status_code == 204
    assert _stores().automations.list_for_instance(instance) == []
    assert _stores().automations.get(instance, rule["id"]) is None
    assert _secret(keyed["id"]) is None  # the secret itself, not only the item naming it
    with pytest.raises(_secretsmanager().exceptions.ResourceNotFoundException):
        _secretsmanager().describe_secret(SecretId=f"{_stores().settings.provider_secrets_prefix}{keyed['id']}")
    # Another instance's automations and key are untouched.
    assert [a.id for a in _stores().automations.list_for_instance(kept_instance)] == [kept["id"]]
    assert _secret(kept["id"]) == KEY


def test_the_public_api_may_not_read_provider_keys() -> None:
    from zapgate_devstack.template import load_template

    function = load_template()["Resources"]["PublicApiFunction"]["Properties"]
    actions = [a for s in function["Policies"][0]["Statement"] for a in
               (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]  # fmt: skip
    assert "secretsmanager:CreateSecret" in actions and "secretsmanager:GetSecretValue" not in actions


# ------------------------------------------------------------------ interactions
def _interaction(instance: str, n: int, chat: str = CHAT, **fields: Any) -> InteractionRecord:
    values: dict[str, Any] = {
        "id": f"ixn-{n:03d}", "tenant_id": "tenant-a", "instance_id": instance, "chat": chat,
        "message_id": f"msg-{n}", "outcome": "replied", "created_at_ms": 1_780_000_000_000 + n * 1000,
        "automation_id": "auto-1", "automation_kind": "agent", "provider": "openai", "model": "gpt-4o-mini",
        "tokens_in": 100 + n, "tokens_out": 20, "latency_ms": 900, "provider_latency_ms": 700, "model_calls": 1,
        "tool_calls": (ToolCallRecord("book_appointment", "ok", 120),), "reply_message_id": f"reply-{n}",
    }  # fmt: skip
    return InteractionRecord(**{**values, **fields})


def test_interactions_are_listed_newest_first_per_instance_and_per_chat(client: TestClient, instance: str) -> None:
    store = _stores().interactions
    other_chat = "5511977776666@s.whatsapp.net"
    for n in range(5):
        store.record(_interaction(instance, n, CHAT if n % 2 == 0 else other_chat), ttl_s=3600)
    store.record(_interaction(instance, 9, outcome="failed", reason="provider_unavailable", error="HTTP 500",
                              tool_calls=()), ttl_s=3600)  # fmt: skip
    other = _ok(client.post("/v1/instances", json={"name": "other"}), 201)["id"]
    store.record(_interaction(other, 7), ttl_s=3600)

    url = f"/v1/instances/{instance}/interactions"
    seen, cursor = [], None
    while True:
        page = _ok(client.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
        seen += [item["id"] for item in page["interactions"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["ixn-009", "ixn-004", "ixn-003", "ixn-002", "ixn-001", "ixn-000"]

    first = _ok(client.get(url, params={"limit": 1}))["interactions"][0]
    assert first["outcome"] == "failed" and first["reason"] == "provider_unavailable" and first["error"] == "HTTP 500"
    assert first["created_at"] == "2026-05-28T20:26:49.000Z" and first["tool_calls"] == []
    full = _ok(client.get(url, params={"chat": PHONE}))["interactions"]  # the chat as a phone number
    assert [item["id"] for item in full] == ["ixn-009", "ixn-004", "ixn-002", "ixn-000"]
    assert full[1]["tool_calls"] == [{"name": "book_appointment", "status": "ok", "duration_ms": 120}]
    assert full[1]["tokens_in"] == 104 and full[1]["provider"] == "openai" and full[1]["chat"] == CHAT

    page = _ok(client.get(url, params={"chat": CHAT, "limit": 3}))
    rest = _ok(client.get(url, params={"chat": CHAT, "cursor": page["next_cursor"]}))
    assert [item["id"] for item in page["interactions"] + rest["interactions"]] == [i["id"] for i in full]
    # A cursor is good only for the listing that handed it out.
    for params in ({"cursor": page["next_cursor"]}, {"chat": other_chat, "cursor": page["next_cursor"]},
                   {"cursor": "bm90LWEtY3Vyc29y"}):  # fmt: skip
        bad = client.get(url, params=params)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor", params
    assert _ok(client.get(f"/v1/instances/{other}/interactions"))["interactions"][0]["id"] == "ixn-007"


# ------------------------------------------------------------------ escalation pauses
def test_a_paused_chat_is_shown_and_resumed_through_the_api(client: TestClient, instance: str) -> None:
    import time

    now = int(time.time() * 1000)
    _stores().escalations.pause(ChatPauseRecord(instance, CHAT, "auto-1", now - 1000, now + 3_600_000, "quer falar"))
    url = f"/v1/instances/{instance}/chats/{PHONE}/escalation"
    shown = _ok(client.get(url))
    assert shown["paused"] is True and shown["chat"] == CHAT and shown["reason"] == "quer falar"
    assert shown["automation_id"] == "auto-1" and shown["until"] > shown["paused_at"]
    assert _ok(client.get(f"/v1/instances/{instance}/chats/{CHAT}/escalation")) == shown

    assert client.delete(url).status_code == 204
    assert _ok(client.get(url)) == {"chat": CHAT, "paused": False, "automation_id": None, "reason": None,
                                    "paused_at": None, "until": None}  # fmt: skip
    assert client.delete(url).status_code == 204  # not paused: nothing to do
    assert _stores().escalations.get(instance, CHAT) is None

    _stores().escalations.pause(ChatPauseRecord(instance, CHAT, "auto-1", now - 7_200_000, now - 1))
    assert _ok(client.get(url))["paused"] is False  # past its TTL: the item may linger, the pause does not


def test_a_persons_reply_clears_only_a_pause_made_before_it(aws_env: dict[str, str]) -> None:
    escalations = _stores().escalations
    escalations.pause(ChatPauseRecord("i-1", CHAT, "auto-1", 5_000, 90_000))
    assert escalations.clear("i-1", CHAT, replied_at_ms=4_999) is None  # older than the escalation
    assert escalations.get("i-1", CHAT) is not None
    assert escalations.clear("i-1", CHAT, replied_at_ms=5_000) is not None
    assert escalations.get("i-1", CHAT) is None


# ------------------------------------------------------------------ cooldowns and first messages
def test_of_two_concurrent_runs_one_fires_a_rule(aws_env: dict[str, str]) -> None:
    cooldowns = _stores().cooldowns
    start = threading.Barrier(8)
    results: list[bool] = []

    def fire() -> None:
        start.wait()
        results.append(cooldowns.try_fire("i-1", "rule-1", CHAT, 1_000_000, 600))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert cooldowns.last_fired("i-1", CHAT) == {"rule-1": Firing(1_000_000)}
    assert cooldowns.try_fire("i-1", "rule-1", CHAT, 1_599_999, 600) is False
    assert cooldowns.try_fire("i-1", "rule-1", CHAT, 1_600_000, 600) is True  # exactly cooldown_s later
    assert cooldowns.try_fire("i-1", "rule-2", CHAT, 1_600_000, 600) is True  # another rule, its own cooldown
    assert cooldowns.try_fire("i-1", "rule-1", "5511900000000@s.whatsapp.net", 1_600_001, 600) is True
    assert cooldowns.last_fired("i-1", CHAT) == {"rule-1": Firing(1_600_000), "rule-2": Firing(1_600_000)}
    assert cooldowns.try_fire("i-1", "rule-2", CHAT, 2_200_000, 600, message_id="m-7") is True
    assert cooldowns.last_fired("i-1", CHAT)["rule-2"] == Firing(2_200_000, "m-7")  # which message fired it
    assert cooldowns.try_fire("i-1", "rule-3", CHAT, 1_600_000, 0) is True  # no cooldown: no write
    assert "rule-3" not in cooldowns.last_fired("i-1", CHAT)


def test_the_first_message_of_a_chat_is_recognised_once(aws_env: dict[str, str]) -> None:
    cooldowns = _stores().cooldowns
    assert cooldowns.first_message("i-1", CHAT, "m-1", 1) is True
    assert cooldowns.first_message("i-1", CHAT, "m-1", 2) is True  # a retry of the same message
    assert cooldowns.first_message("i-1", CHAT, "m-2", 3) is False
    assert cooldowns.first_message("i-2", CHAT, "m-9", 3) is True  # another instance


def test_a_stored_configuration_becomes_the_domains_automation(client: TestClient, instance: str) -> None:
    from zapgate_control.services.automations import definition

    created = _ok(client.post(_base(instance), json={**AGENT, "api_key": KEY}), 201)
    record = _stores().automations.get(instance, created["id"])
    automation = definition(record)
    assert automation.id == created["id"] and automation.kind == "agent"
    assert automation.behaviour.tools[0].name == "book_appointment"  # type: ignore[union-attr]
    assert definition(record) is automation  # cached per (id, version)
