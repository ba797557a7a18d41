"""Pacing settings (issue 13): PATCH /v1/instances/{id} validates and stores them, the answer shows them, the
settings version moves, and the lock holder's settings answer carries them; out-of-range values are 422."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY
from tests.integration.worker_client import make_instance, worker_client


def _public() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


def test_pacing_is_stored_shown_and_reaches_the_lock_holder(aws_env: dict[str, str]) -> None:
    instance = make_instance(aws_env)["id"]
    public = _public()
    assert "pacing" not in public.get(f"/v1/instances/{instance}").json()  # off by default, and not shown
    pacing = {"enabled": True, "delay_ms": {"min": 2_000, "max": 6_000}, "typing": True,
              "first_contact_daily_cap": 50, "check_numbers_interval_ms": 3_000}
    patched = public.patch(f"/v1/instances/{instance}", json={"pacing": pacing})
    assert patched.status_code == 200, patched.text
    assert patched.json()["pacing"] == pacing
    assert public.get(f"/v1/instances/{instance}").json()["pacing"] == pacing
    lock = worker_client().post("/worker-proxy/instance-lock/acquire",
                                json={"instanceId": instance, "instance_owner": "sc-1", "ttl_ms": 30_000}).json()
    settings = worker_client().get(f"/worker-proxy/instances/{instance}/settings",
                                   params={"instanceOwner": "sc-1", "lockToken": lock["lock_token"]}).json()
    assert settings["pacing"] == pacing and settings["version"] == 1
    # Defaults fill what is not given; {"enabled": false} turns it off (and still moves the version).
    off = public.patch(f"/v1/instances/{instance}", json={"pacing": {"enabled": False}})
    assert off.status_code == 200 and off.json()["pacing"]["enabled"] is False
    assert off.json()["pacing"]["delay_ms"] == {"min": 1_000, "max": 4_000}


@pytest.mark.parametrize("pacing", [
    {"enabled": True, "delay_ms": {"min": 5_000, "max": 1_000}},
    {"enabled": True, "delay_ms": {"min": 0, "max": 600_000}},
    {"enabled": True, "delay_ms": {"min": -5, "max": 10}},
    {"enabled": True, "first_contact_daily_cap": -1},
    {"enabled": True, "check_numbers_interval_ms": 120_000},
    {"enabled": "yes"},
    {"enabled": True, "typing": "on"},
])
def test_out_of_range_pacing_is_422(aws_env: dict[str, str], pacing: dict[str, Any]) -> None:
    instance = make_instance(aws_env)["id"]
    answer = _public().patch(f"/v1/instances/{instance}", json={"pacing": pacing})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"
