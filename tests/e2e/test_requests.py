"""End to end through `make run`'s processes: requests to the phone (docs/requests.md). The public API stores
the request and pushes a `request` frame to the lock holder's sidecar (SidecarPushApi, emulated by the local
gateway), which claims it through the worker-proxy, runs it on the simulated network and answers; the API
answers the caller from that answer while it waits.

The lock TTL is 60 s, so nothing here is found by a renewal: every answer within the API's wait came through
the push channel.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

OWN_PHONE = "5511999990081"
FRIEND = "5511966665555"  # has WhatsApp (registered on the simulated network)
NOBODY = "5511900000000"  # has not


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("requests"), sidecars=1, INSTANCE_LOCK_TTL_MS="60000",
                       DISCOVERY_POLL_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


@pytest.fixture(scope="module")
def instance_id(stack: LocalStack) -> str:
    api, sim = stack.api(), stack.sim_client()
    created = api.post("/instances", json={"name": "requests"})
    assert created.status_code == 201, created.text
    instance = created.json()["id"]
    wait_until(lambda: api.get(f"/instances/{instance}").json()["qr_code"], 20, "QR")
    assert sim.post(f"/instances/{instance}/scan", json={"phone": OWN_PHONE}).status_code == 200
    wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 15, "CONNECTED")
    wait_until(lambda: stack.sidecar_health(0)["push"]["state"] == "up", 10, "push channel up")
    assert sim.post("/accounts", json={"phone": FRIEND, "push_name": "Friend"}).status_code == 200
    return str(instance)


def test_check_numbers_says_which_have_whatsapp(stack: LocalStack, instance_id: str) -> None:
    api = stack.api()
    started = time.monotonic()
    answer = api.post(f"/instances/{instance_id}/contacts/check",
                      json={"numbers": ["+55 11 96666-5555", NOBODY, OWN_PHONE]})
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 5  # woken by the push frame, not by a renewal 30 s away
    checks = answer.json()["numbers"]
    assert [(c["number"], c["exists"]) for c in checks] == [
        ("+55 11 96666-5555", True), (NOBODY, False), (OWN_PHONE, True),  # our own account has WhatsApp too
    ]
    assert checks[0]["jid"] == f"{FRIEND}@s.whatsapp.net" and checks[0]["lid"].endswith("@lid")
    assert checks[1].get("jid") is None and checks[1].get("lid") is None


def test_typing_shows_on_the_other_side(stack: LocalStack, instance_id: str) -> None:
    api, sim = stack.api(), stack.sim_client()
    for state in ("composing", "paused"):
        answer = api.post(f"/instances/{instance_id}/chats/presence", json={"chat": FRIEND, "state": state})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"sent": True}
    seen = sim.get(f"/instances/{instance_id}/presences").json()
    assert [(p["from"], p["chat"], p["state"], p["seen"]) for p in seen] == [
        (f"{OWN_PHONE}@s.whatsapp.net", f"{FRIEND}@s.whatsapp.net", "composing", True),
        (f"{OWN_PHONE}@s.whatsapp.net", f"{FRIEND}@s.whatsapp.net", "paused", True),
    ]


def test_a_replayed_request_answers_the_same_outcome_and_runs_once(stack: LocalStack, instance_id: str) -> None:
    api, sim = stack.api(), stack.sim_client()
    before = len(sim.get(f"/instances/{instance_id}/presences").json())
    body = {"chat": FRIEND, "state": "recording"}
    headers = {"Idempotency-Key": "typing-once"}
    first = api.post(f"/instances/{instance_id}/chats/presence", json=body, headers=headers)
    again = api.post(f"/instances/{instance_id}/chats/presence", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json() == {"sent": True}
    time.sleep(0.5)  # a second run, had there been one, lands within this
    states = [p["state"] for p in sim.get(f"/instances/{instance_id}/presences").json()[before:]]
    assert states == ["recording"]
