"""Shared fixtures: one moto server per test session, fresh template resources per test.

Resources come from template.yaml through zapgate_devstack (never a second definition), and
the apps read their table names from the same environment variables the template sets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from zapgate_devstack.emulator import LOCAL_CREDENTIALS, REGION, MotoServer, create_template_resources
from zapgate_devstack.template import function_environment, load_template, resources_of_type

WORKER_SECRET = "test-worker-secret-0123456789"
API_KEY = "test-api-key-tenant-a-0123456789"
OTHER_API_KEY = "test-api-key-tenant-b-0123456789"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    previous = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                                               "AWS_SECRET_ACCESS_KEY", "POWERTOOLS_METRICS_DISABLED")}
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    yield server
    server.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _clear_caches() -> None:
    from zapgate_control import aws, settings, wiring, worker_secret

    settings.get_settings.cache_clear()
    wiring.get_stores.cache_clear()
    aws.client.cache_clear()
    aws.session.cache_clear()
    worker_secret._secrets_provider.cache_clear()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Fresh tables/bucket/secret for one test; every function's template environment applied."""
    names = create_template_resources(moto_server, secrets={"WorkerSecret": WORKER_SECRET}, prefix="t")
    template = load_template()
    env: dict[str, str] = {}
    for logical_id in resources_of_type(template, "AWS::Serverless::Function"):
        env.update(function_environment(template, logical_id, names))
    # Live pushes go to moto's API Gateway management API here (no local WebSocket gateway runs).
    env["LIVE_ENDPOINT_URL"] = moto_server.endpoint
    env["SIDECAR_PUSH_ENDPOINT_URL"] = moto_server.endpoint  # the sidecars' push channel, likewise
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _clear_caches()
    from zapgate_control.adapters.dynamodb.api_keys import put_api_key

    put_api_key(env["API_KEYS_TABLE"], API_KEY, "tenant-a", "test")
    put_api_key(env["API_KEYS_TABLE"], OTHER_API_KEY, "tenant-b", "test")
    yield env
    _clear_caches()
