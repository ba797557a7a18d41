"""The local stack reads every function setting and route from template.yaml; these pin how."""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from zapgate_devstack.gateway import (
    EnvironmentConflictError,
    Gateway,
    Route,
    build_gateway,
    function_environments,
    shared_environment,
)
from zapgate_devstack.template import (
    LocalNames,
    function_environment,
    http_routes,
    load_template,
    parameter_defaults,
    resources_of_type,
)

LOCALLY_CREATED = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SecretsManager::Secret")


def _local_names(template: dict[str, Any]) -> LocalNames:
    """What create_template_resources would return, without a moto server."""
    physical = {
        logical_id: f"local-{logical_id}"
        for resource_type in LOCALLY_CREATED
        for logical_id in resources_of_type(template, resource_type)
    }
    physical["WorkerSecret"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:local-WorkerSecret"
    return LocalNames(physical=physical, parameters=parameter_defaults(template))


# ------------------------------------------------------------------ template.py


def test_function_environment_merges_globals_with_the_functions_own_variables() -> None:
    template = load_template()
    env = function_environment(template, "WorkerProxyFunction", _local_names(template))

    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Zapgate"  # from Globals
    assert env["INSTANCES_TABLE"] == "local-InstancesTable"  # !Ref to a resource: its local name
    assert env["WORKER_SECRET_ARN"].endswith(":secret:local-WorkerSecret")  # the function's own
    assert env["MAX_ACTIVE_INSTANCES"] == "0"  # !Ref to a parameter: its default
    assert env["MEDIA_MAX_BYTES"] == "4194304"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert all(isinstance(value, str) for value in env.values())


def test_function_variables_override_globals() -> None:
    template = {
        "Globals": {"Function": {"Environment": {"Variables": {"LEVEL": "INFO", "KEPT": "yes"}}}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Environment": {"Variables": {"LEVEL": "DEBUG"}}},
            }
        },
    }
    assert function_environment(template, "Fn", LocalNames()) == {"LEVEL": "DEBUG", "KEPT": "yes"}


def test_unknown_refs_and_unresolvable_intrinsics_are_refused() -> None:
    template = load_template()
    names = _local_names(template)
    del names.physical["MessagesTable"]
    with pytest.raises(KeyError, match="MessagesTable"):
        function_environment(template, "PublicApiFunction", names)

    with pytest.raises(ValueError, match="Fn::GetAtt"):
        LocalNames().resolve({"Fn::GetAtt": ["Table", "Arn"]})


def test_yaml_tags_load_as_intrinsics(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            """
            Resources:
              Fn:
                Properties:
                  A: !Ref Table
                  B: !GetAtt Table.Arn
                  C: !Sub "${Table.Arn}/index/*"
            """
        )
    )
    props = load_template(path)["Resources"]["Fn"]["Properties"]
    assert props == {
        "A": {"Ref": "Table"},
        "B": {"Fn::GetAtt": ["Table", "Arn"]},
        "C": {"Fn::Sub": "${Table.Arn}/index/*"},
    }


def test_http_routes_give_both_prefixes_with_their_handlers() -> None:
    assert sorted(http_routes(load_template())) == [
        ("/console", "zapgate_public_api.handler.handler"),  # the console (issue 12): /console and /console/{proxy+}
        ("/v1", "zapgate_public_api.handler.handler"),
        ("/worker-proxy", "zapgate_worker_proxy.handler.handler"),
    ]


# ------------------------------------------------------------------ gateway.py: environment


def test_shared_environment_unions_functions_and_refuses_disagreement() -> None:
    merged = shared_environment({"A": {"X": "1", "ONLY_A": "a"}, "B": {"X": "1", "ONLY_B": "b"}})
    assert merged == {"X": "1", "ONLY_A": "a", "ONLY_B": "b"}

    with pytest.raises(EnvironmentConflictError, match=r"X is '1' for A but '2' for B"):
        shared_environment({"A": {"X": "1"}, "B": {"X": "2"}})


def test_the_real_template_has_no_conflicting_variables() -> None:
    template = load_template()
    merged = shared_environment(function_environments(template, _local_names(template)))  # raises on conflict
    assert merged["INSTANCES_TABLE"] and merged["MESSAGES_TABLE"]


# ------------------------------------------------------------------ gateway.py: routing


def _echo_app(prefix: str, events: list[str] | None = None, name: str = "") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if events is not None:
            events.append(f"start {name}")
        yield
        if events is not None:
            events.append(f"stop {name}")

    app = FastAPI(lifespan=lifespan)

    @app.api_route(prefix + "/{rest:path}", methods=["GET", "POST"])
    async def echo(rest: str) -> dict[str, str]:
        return {"app": name or prefix, "rest": rest}

    return app


def test_gateway_forwards_the_full_path_to_the_app_owning_the_prefix() -> None:
    gateway = Gateway([Route("/worker-proxy", _echo_app("/worker-proxy")), Route("/v1", _echo_app("/v1"))])
    with TestClient(gateway) as client:
        response = client.get("/worker-proxy/worker-settings")
        assert response.status_code == 200
        assert response.json() == {"app": "/worker-proxy", "rest": "worker-settings"}
        assert client.post("/v1/instances/abc/send").json() == {"app": "/v1", "rest": "instances/abc/send"}


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/v10/x", "/other/v1/x", "/worker-proxyx/a"])
def test_gateway_answers_unrouted_paths_with_a_json_404(path: str) -> None:
    with TestClient(Gateway([Route("/v1", _echo_app("/v1"))])) as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"]


def test_longer_prefix_wins() -> None:
    outer, inner = _echo_app("/v1", name="outer"), _echo_app("/v1/admin")
    gateway = Gateway([Route("/v1", outer), Route("/v1/admin", inner)])
    with TestClient(gateway) as client:
        assert client.get("/v1/admin/x").json()["app"] == "/v1/admin"
        assert client.get("/v1/x").json()["app"] == "outer"


def test_gateway_runs_app_lifespans_unless_the_handler_turns_them_off() -> None:
    events: list[str] = []
    gateway = Gateway(
        [
            Route("/a", _echo_app("/a", events, "a")),
            Route("/b", _echo_app("/b", events, "b"), lifespan=False),
        ]
    )
    with TestClient(gateway):
        assert events == ["start a"]
    assert events == ["start a", "stop a"]


# ------------------------------------------------------------------ gateway.py: build_gateway


def _write_standin_handler(root: Path, package: str, prefix: str) -> None:
    pkg = root / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "handler.py").write_text(
        textwrap.dedent(
            f"""
            import os
            from fastapi import FastAPI
            from mangum import Mangum

            TABLE_AT_IMPORT = os.environ.get("INSTANCES_TABLE")
            app = FastAPI()

            @app.get("{prefix}/env/{{name}}")
            def env(name: str) -> dict:
                return {{"value": os.environ.get(name), "table_at_import": TABLE_AT_IMPORT}}

            handler = Mangum(app, lifespan="off")
            """
        )
    )


def _with_handlers(template: dict[str, Any], handlers: dict[str, str], extra_env: dict[str, dict[str, str]]) -> Any:
    """A copy of the template whose functions point at other handlers and carry extra variables."""
    resources = dict(template["Resources"])
    for logical_id, handler in handlers.items():
        props = dict(resources[logical_id]["Properties"])
        props["Handler"] = handler
        variables = {**props.get("Environment", {}).get("Variables", {}), **extra_env.get(logical_id, {})}
        props["Environment"] = {"Variables": variables}
        resources[logical_id] = {**resources[logical_id], "Properties": props}
    return {**template, "Resources": resources}


def test_build_gateway_imports_each_handler_with_the_template_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:8]
    worker, public = f"standin_worker_{suffix}", f"standin_public_{suffix}"
    _write_standin_handler(tmp_path, worker, "/worker-proxy")
    _write_standin_handler(tmp_path, public, "/v1")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(os, "environ", dict(os.environ))  # build_gateway writes os.environ; keep it local
    handlers = {"WorkerProxyFunction": f"{worker}.handler.handler", "PublicApiFunction": f"{public}.handler.handler"}
    template = _with_handlers(load_template(), handlers, {})

    gateway = build_gateway(_local_names(template), template)
    try:
        with TestClient(gateway) as client:
            # Settings were in place before the module was imported, as in a Lambda container.
            worker_env = client.get("/worker-proxy/env/INSTANCES_TABLE").json()
            assert worker_env == {"value": "local-InstancesTable", "table_at_import": "local-InstancesTable"}
            # A variable only one function declares is still set: one process serves both.
            assert client.get("/v1/env/WORKER_SECRET_ARN").json()["value"].endswith("local-WorkerSecret")
            assert client.get("/nowhere").status_code == 404
    finally:
        for name in [m for m in sys.modules if m.startswith((worker, public))]:
            del sys.modules[name]
    assert all(not route.lifespan for route in gateway.routes)  # the stand-ins use Mangum(lifespan="off")


def test_build_gateway_refuses_conflicting_settings_before_importing_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "environ", dict(os.environ))
    missing = f"module_that_does_not_exist_{uuid.uuid4().hex[:8]}.handler.handler"
    template = _with_handlers(
        load_template(),
        {"WorkerProxyFunction": missing, "PublicApiFunction": missing},
        {"WorkerProxyFunction": {"LOG_FORMAT": "json"}, "PublicApiFunction": {"LOG_FORMAT": "text"}},
    )
    with pytest.raises(EnvironmentConflictError, match="LOG_FORMAT is 'json' for WorkerProxyFunction but 'text'"):
        build_gateway(_local_names(template), template)
    assert "LOG_FORMAT" not in os.environ
