"""SnapStart hooks (zapgate_control/snapstart.py), called directly as Lambda's runtime would call them."""

from __future__ import annotations

import importlib
import random
import sys
import types
from functools import cache
from typing import Any

import pytest
from starlette.testclient import TestClient

from zapgate_control import aws, snapstart, wiring
from zapgate_control.lazy_routes import built_routes, lazy_inclusions


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "snapshot-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "snapshot-secret")
    monkeypatch.setattr(snapstart, "_primers", [])
    monkeypatch.setattr(snapstart, "_resets", [])
    monkeypatch.setattr(snapstart, "_registered", False)


def test_after_restore_gives_new_sessions_clients_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    before_session, before_client = aws.session(), aws.client("dynamodb")
    loader = before_session._session.get_component("data_loader")
    assert before_client._request_signer._credentials.access_key == "snapshot-key"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "restored-key")  # what the restored environment is given

    snapstart.after_restore()

    after_client = aws.client("dynamodb")
    assert aws.session() is not before_session and after_client is not before_client
    assert after_client._endpoint.http_session is not before_client._endpoint.http_session  # a new pool
    assert after_client._request_signer._credentials.access_key == "restored-key"
    # Only the parsed service models are carried over (pure data), so the new client is cheap to make.
    assert aws.session()._session.get_component("data_loader") is loader


def test_environments_restored_from_one_snapshot_draw_different_random_numbers() -> None:
    snapshot = random.getstate()
    snapstart.after_restore()
    first = [random.random() for _ in range(4)]
    random.setstate(snapshot)  # a second environment resumed from the same snapshot
    snapstart.after_restore()
    second = [random.random() for _ in range(4)]
    random.setstate(snapshot)
    without_hook = [random.random() for _ in range(4)]
    random.setstate(snapshot)
    assert first != second and [random.random() for _ in range(4)] == without_hook  # what the hook prevents


def test_after_restore_rebuilds_stores_handler_caches_and_secret_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    @cache
    def handler_deps() -> object:
        return object()

    from aws_lambda_powertools.utilities import parameters

    import zapgate_control.worker_secret as worker_secret

    monkeypatch.setattr(parameters, "clear_caches", lambda: calls.append("powertools"))
    snapstart.install_hooks(resets=(handler_deps, lambda: calls.append("plain callable")))
    stores, deps, provider = wiring.get_stores(), handler_deps(), worker_secret._secrets_provider()

    snapstart.after_restore()

    assert wiring.get_stores() is not stores and handler_deps() is not deps
    assert worker_secret._secrets_provider() is not provider  # its cached secret value goes with it
    assert calls == ["plain callable", "powertools"]


def test_hooks_register_with_the_runtime_once_and_not_outside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # not Lambda's runtime: the import fails
    assert snapstart.install_hooks(clients=("sqs",)) is False

    registered: dict[str, list[Any]] = {"before": [], "after": []}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = registered["before"].append  # type: ignore[attr-defined]
    runtime.register_after_restore = registered["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    assert snapstart.install_hooks(clients=("dynamodb",)) is True
    assert snapstart.install_hooks(clients=("sqs",)) is True
    assert registered == {"before": [snapstart.before_snapshot], "after": [snapstart.after_restore]}


def test_priming_warms_the_clients_a_function_uses() -> None:
    aws.reset()
    snapstart.install_hooks(prime=lambda: None, clients=("sqs",))
    assert aws.client.cache_info().currsize == 0
    snapstart.before_snapshot()
    assert aws.client.cache_info().currsize == 1


@pytest.mark.parametrize(("package", "prime", "then"), [
    ("zapgate_public_api", "/v1/healthz", "/v1/instances"),
    ("zapgate_worker_proxy", "/worker-proxy/worker-settings", "/worker-proxy/eligible-instances"),
])  # fmt: skip
def test_priming_leaves_no_route_to_build_for_the_first_real_request(package: str, prime: str, then: str) -> None:
    from zapgate_control.observability import lambda_handler_for

    app = importlib.import_module(f"{package}.app").create_app()  # its own app: other tests' requests do not count
    total = sum(len(inclusion.original_router.routes) for inclusion in lazy_inclusions(app))
    assert snapstart.prime_http(app, lambda_handler_for(app), prime) in (200, 401)  # 401: no bearer, no AWS call
    assert built_routes(app) == total
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get(then)  # no key / no bearer: 401, after the route was matched
    assert built_routes(app) == total


@pytest.mark.parametrize("module", [f"zapgate_{name}.handler" for name in (
    "public_api", "worker_proxy", "events", "outbox", "automations", "live", "push")])  # fmt: skip
def test_every_handler_installs_its_priming(module: str) -> None:
    handler = importlib.import_module(module)
    snapstart._primers.clear()  # its first import may have registered into this test's list already
    importlib.reload(handler)
    assert len(snapstart._primers) == 1
    snapstart.before_snapshot()  # runs without any AWS call (no endpoint is reachable from here)
    assert aws.client.cache_info().currsize >= 1
