"""Test helpers: a worker-proxy client with the bearer set, and direct store access for set-up."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import WORKER_SECRET

AUTH = {"Authorization": f"Bearer {WORKER_SECRET}"}


def worker_client() -> TestClient:
    from zapgate_worker_proxy.app import app

    return TestClient(app, headers=AUTH, raise_server_exceptions=False)


def make_instance(env: dict[str, str], name: str = "inst", priority: int = 0, enabled: bool = True,
                  tenant: str = "tenant-a") -> dict[str, Any]:
    from dataclasses import asdict

    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    return asdict(DynamoInstanceStore(env["INSTANCES_TABLE"]).create(tenant, name, priority, enabled))


def enqueue(env: dict[str, str], instance_id: str, to: str = "5511999999999", body: str = "hi",
            queue_owner: str | None = None, **extra: Any) -> dict[str, Any]:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_core.contract.outbound_content import OutboundContent

    store = DynamoMessageStore(env["MESSAGES_TABLE"])
    message = store.enqueue(
        "tenant-a", instance_id, OutboundContent(to=to, body=body, **extra), queue_owner=queue_owner
    )
    return store.item(message.id) or {}  # the stored item, as set-up code reads it
