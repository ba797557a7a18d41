"""Live updates end to end, through `make run`'s processes: the WebSocket API (LiveApi in template.yaml)
served by the devstack's gateway, the real LiveFunction behind its routes, the real events processor
pushing through the management API, a sidecar on the simulated WhatsApp network making things happen.

    POST /v1/live/tickets → ws://…/live?ticket=… ($connect) ← pushes: INSTANCE_QR, INSTANCE_STATUS,
    MESSAGE_INBOUND (sidecar → worker-proxy → EventsQueue → processor → POST @connections/{id})
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.stack import LocalStack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("live"), sidecars=1, DISCOVERY_POLL_MS="500",
                       STOP_COOLDOWN_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def _moto_endpoint(stack: LocalStack) -> str:
    for line in stack.output:
        found = re.search(r"AWS \(moto\)\s+(http://\S+)", line)
        if found:
            return found[1]
    raise AssertionError("the banner names no moto endpoint")


@pytest.fixture(scope="module")
def other_tenant_key(stack: LocalStack) -> str:
    """A key of a second tenant, made as an operator makes one (docs/api.md): the admin command."""
    endpoint = _moto_endpoint(stack)
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    (table,) = [name for name in dynamodb.list_tables()["TableNames"] if "-ApiKeysTable-" in name]
    created = subprocess.run(
        [sys.executable, "-m", "zapgate_control.admin", "create-key", "--table", table, "--tenant", "other"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def _ticket_url(stack: LocalStack, api_key: str | None = None) -> str:
    headers = {"X-API-Key": api_key} if api_key else {}
    answer = stack.api().post("/live/tickets", headers=headers)
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    assert body["expiresInSeconds"] == 60
    assert body["url"] == f"ws://{stack.url.removeprefix('http://')}/live?ticket={body['ticket']}"
    return str(body["url"])


def _frames_until(ws: ClientConnection, done: Callable[[list[dict[str, Any]]], bool], timeout: float,
                  what: str) -> list[dict[str, Any]]:
    """Every frame received until `done(frames)` holds; fails after `timeout` seconds."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(frames):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {what}; got {[f.get('type') for f in frames]}")
        try:
            frames.append(json.loads(ws.recv(timeout=remaining)))
        except TimeoutError:
            continue
    return frames


def _quiet(ws: ClientConnection, seconds: float) -> list[Any]:
    """Whatever arrives within `seconds` (nothing, for a connection that must not hear of it)."""
    frames = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frames.append(ws.recv(timeout=remaining))
        except TimeoutError:
            break
    return frames


def _has(event_type: str, instance_id: str, **payload: Any) -> Callable[[list[dict[str, Any]]], bool]:
    def check(frames: list[dict[str, Any]]) -> bool:
        return any(
            f.get("type") == event_type and f.get("instanceId") == instance_id
            and all(f.get("payload", {}).get(k) == v for k, v in payload.items())
            for f in frames
        )

    return check


def test_a_tenant_sees_its_instance_live_and_another_tenant_sees_nothing(
    stack: LocalStack, other_tenant_key: str
) -> None:
    assert any("python -m websockets" in line for line in stack.output)  # make run says how to watch
    api, sim = stack.api(), stack.sim_client()
    url = _ticket_url(stack)
    with connect(url, open_timeout=15) as mine, connect(
        f"ws://{stack.url.removeprefix('http://')}/live", additional_headers={"X-API-Key": other_tenant_key},
        open_timeout=15,
    ) as theirs:
        mine.send(json.dumps({"action": "ping"}))  # the $default route answers (its route response)
        assert json.loads(mine.recv(timeout=10)) == {"type": "pong"}
        with pytest.raises(InvalidStatus) as reused:  # a ticket works once
            connect(url, open_timeout=15)
        assert reused.value.response.status_code == 401

        instance_id = api.post("/instances", json={"name": "live"}).json()["id"]
        frames = _frames_until(mine, _has("INSTANCE_QR", instance_id), 30, "INSTANCE_QR")
        qr = next(f for f in frames if f["type"] == "INSTANCE_QR")
        assert qr["payload"], qr
        assert sim.post(f"/instances/{instance_id}/scan", json={"phone": "5511999990010", "push_name": "Live"}
                        ).status_code == 200
        frames += _frames_until(mine, _has("INSTANCE_STATUS", instance_id, status="CONNECTED"), 30,
                                "INSTANCE_STATUS CONNECTED")
        assert sim.post(f"/instances/{instance_id}/inbound", json={
            "id": "E2E-LIVE-1", "chat": "5511977775555@s.whatsapp.net", "sender": "5511977775555@s.whatsapp.net",
            "push_name": "Cliente", "body": "oi, ao vivo"}).status_code == 200
        frames += _frames_until(mine, _has("MESSAGE_INBOUND", instance_id), 30, "MESSAGE_INBOUND")
        inbound = next(f for f in frames if f["type"] == "MESSAGE_INBOUND")
        assert inbound["payload"]["message"]["text"] == "oi, ao vivo"
        assert inbound["payload"]["message"]["waMessageId"] == "E2E-LIVE-1"
        assert {f["instanceId"] for f in frames if "instanceId" in f} == {instance_id}

        # The other tenant's connection heard none of it (its tenant has no instances at all).
        assert _quiet(theirs, 1.5) == []
        theirs.send(json.dumps({"action": "ping"}))
        assert json.loads(theirs.recv(timeout=10)) == {"type": "pong"}  # it was open all along


def test_refused_handshakes(stack: LocalStack, other_tenant_key: str) -> None:
    live = f"ws://{stack.url.removeprefix('http://')}/live"
    mine = stack.api().post("/instances", json={"name": "not-theirs"}).json()["id"]
    cases = [
        (f"{live}?ticket=zlt_never-issued", {}, 401),
        (live, {}, 401),  # no credentials
        (live, {"Authorization": "Bearer zg_not-a-key"}, 401),
        (f"{live}?instanceId={mine}", {"X-API-Key": other_tenant_key}, 403),  # another tenant's instance
    ]
    for url, headers, status in cases:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, open_timeout=15)
        assert refused.value.response.status_code == status, (url, headers)
    with connect(f"{live}?instanceId={mine}", additional_headers={"X-API-Key": stack.api_key},
                 open_timeout=15) as ws:
        ws.send("not json")  # $default answers in the error shape, the connection stays
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
        ws.send(json.dumps({"action": "ping"}))
        # The instance was just created: its status events (a sidecar taking it) may come before the pong.
        frame = json.loads(ws.recv(timeout=10))
        while frame.get("type") == "INSTANCE_STATUS" and frame.get("instanceId") == mine:
            frame = json.loads(ws.recv(timeout=10))
        assert frame == {"type": "pong"}
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=1)
    # A refusal is a complete handshake: uvicorn's spurious error for it (Kludex/uvicorn#3138) is filtered.
    assert not any("without completing handshake" in line for line in stack.output)
