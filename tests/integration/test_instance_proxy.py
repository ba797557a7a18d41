"""Proxy per instance (issue 13): validated, kept as a secret (Secrets Manager), never answered or logged whole,
handed to the live lock holder only through the instance-settings channel."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.worker_client import make_instance, worker_client

PASSWORD = "Zq9-proxy-pass-4471"
URL = f"socks5://zapuser:{PASSWORD}@proxy.example.com:1080"


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    yield aws_env


def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _secret(instance_id: str) -> str | None:
    from zapgate_control.wiring import get_stores

    return get_stores().proxy_secrets.get(instance_id)


def _item(env: dict[str, str], instance_id: str) -> dict[str, Any]:
    from zapgate_control.adapters.dynamodb.codec import from_item
    from zapgate_control.aws import client

    raw = client("dynamodb").get_item(TableName=env["INSTANCES_TABLE"], Key={"id": {"S": instance_id}},
                                      ConsistentRead=True)["Item"]
    return from_item(raw) or {}


def _hold(instance_id: str, owner: str) -> str:
    answer = worker_client().post("/worker-proxy/instance-lock/acquire",
                                  json={"instanceId": instance_id, "instance_owner": owner, "ttl_ms": 30_000})
    assert answer.json()["acquired"], answer.text
    return str(answer.json()["lock_token"])


def _settings(instance_id: str, owner: str, token: str) -> Any:
    return worker_client().get(f"/worker-proxy/instances/{instance_id}/settings",
                               params={"instanceOwner": owner, "lockToken": token})


def test_a_proxy_is_stored_as_a_secret_answered_in_part_and_handed_to_the_lock_holder_only(
    env: dict[str, str], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore's request and response bodies included
    instance = make_instance(env)["id"]
    api = _public()
    patched = api.patch(f"/v1/instances/{instance}", json={"proxy": {"url": URL}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["proxy"] == {"scheme": "socks5", "host": "proxy.example.com", "port": 1080,
                                       "has_credentials": True}
    shown = api.get(f"/v1/instances/{instance}")
    listed = api.get("/v1/instances")
    assert shown.json()["proxy"] == patched.json()["proxy"]
    assert _secret(instance) == URL  # the whole URL lives in Secrets Manager only
    item = _item(env, instance)
    assert item["settings_version"] == 1 and PASSWORD not in repr(item)

    token = _hold(instance, "sc-1")
    assert _settings(instance, "sc-1", token).json()["proxy"] == {"url": URL}  # the holder gets it whole
    assert _settings(instance, "sc-2", token).status_code == 409  # nobody else does
    assert _public(OTHER_API_KEY).get(f"/v1/instances/{instance}").status_code == 404

    for answer in (patched, shown, listed):
        assert PASSWORD not in answer.text and "zapuser" not in answer.text
    logged = caplog.text + "".join(capsys.readouterr())
    assert PASSWORD not in logged


@pytest.mark.parametrize(("proxy", "why"), [
    ({"url": f"ftp://u:{PASSWORD}@h:21"}, "scheme must be one of http, https, socks5"),
    ({"url": f"http://u:{PASSWORD}@h:0"}, "port must be 1..65535"),
    ({"url": f"http://u:{PASSWORD}@h:70000"}, "port must be a number 1..65535"),
    ({"url": f"socks5://u:{PASSWORD}@:1080"}, "needs a host"),
    ({"url": f"http://u:{PASSWORD}@h"}, "needs a port"),
    ({"url": ""}, "proxy.url"),
    ({"url": URL, "extra": 1}, "proxy.extra"),
    ({}, "proxy.url"),
    ("socks5://h:1080", "proxy"),
])
def test_a_bad_proxy_is_a_clear_422_and_nothing_is_stored(env: dict[str, str], proxy: Any, why: str) -> None:
    instance = make_instance(env)["id"]
    before = _item(env, instance)
    answer = _public().patch(f"/v1/instances/{instance}", json={"proxy": proxy, "name": "renamed"})
    assert answer.status_code == 422, answer.text
    body = answer.json()["error"]
    assert body["code"] == "validation_error" and why in body["message"], body
    assert PASSWORD not in answer.text
    assert _secret(instance) is None and _item(env, instance) == before  # not even the name changed


def test_changing_and_removing_the_proxy_bumps_the_version_and_removing_deletes_the_secret(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    api = _public()
    assert api.patch(f"/v1/instances/{instance}", json={"proxy": None}).status_code == 200  # none to remove
    assert "proxy" not in api.get(f"/v1/instances/{instance}").json() and _item(env, instance).get(
        "settings_version", 0) == 0
    assert api.patch(f"/v1/instances/{instance}", json={"proxy": {"url": URL}}).status_code == 200
    second = "http://10.1.2.3:3128"
    changed = api.patch(f"/v1/instances/{instance}", json={"proxy": {"url": second}, "name": "b"})
    assert changed.json()["proxy"] == {"scheme": "http", "host": "10.1.2.3", "port": 3128, "has_credentials": False}
    assert changed.json()["name"] == "b"
    token = _hold(instance, "sc-1")
    assert _settings(instance, "sc-1", token).json()["proxy"] == {"url": second}
    removed = api.patch(f"/v1/instances/{instance}", json={"proxy": None})
    assert removed.status_code == 200 and "proxy" not in removed.json()
    assert _secret(instance) is None
    settings = _settings(instance, "sc-1", token).json()
    assert (settings["version"], settings["proxy"]) == (3, None)
    assert api.patch(f"/v1/instances/{instance}", json={"name": None}).status_code == 422  # other nulls still refused


def test_deleting_the_instance_deletes_its_proxy_secret(env: dict[str, str]) -> None:
    instance = make_instance(env)["id"]
    api = _public()
    assert api.patch(f"/v1/instances/{instance}", json={"proxy": {"url": URL}}).status_code == 200
    assert api.delete(f"/v1/instances/{instance}").status_code == 204
    assert _secret(instance) is None


def test_a_missing_secret_is_a_503_never_no_proxy(env: dict[str, str]) -> None:
    from zapgate_control.wiring import get_stores

    instance = make_instance(env)["id"]
    assert _public().patch(f"/v1/instances/{instance}", json={"proxy": {"url": URL}}).status_code == 200
    get_stores().proxy_secrets.delete(instance)  # lost under us: the holder must not connect directly
    answer = _settings(instance, "sc-1", _hold(instance, "sc-1"))
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "proxy_unavailable"
