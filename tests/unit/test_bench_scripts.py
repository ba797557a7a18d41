"""The benchmark scripts' own logic, without running a benchmark: fast, no moto, no subprocess.

The scripts live in bench/ (not a package on the path), so they are loaded from their files.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request

from tests.bench_loader import load_bench
from zapgate_devstack.template import LocalNames, load_template, parameter_defaults, resources_of_type

_load = load_bench


@pytest.fixture(scope="module")
def cold_start() -> ModuleType:
    return _load("cold_start")


@pytest.fixture(scope="module")
def dynamodb_ops() -> ModuleType:
    return _load("dynamodb_ops")


def _call(counter: Any, operation: str, **params: Any) -> None:
    counter(model=SimpleNamespace(name=operation), params=params)


def test_counter_attributes_calls_to_the_active_stage_only(dynamodb_ops: ModuleType) -> None:
    counter = dynamodb_ops.DynamoCounter()
    _call(counter, "PutItem")  # set-up traffic: no stage active
    with counter.stage("s", samples=2):
        _call(counter, "GetItem")
        _call(counter, "Query")
        _call(counter, "PutItem")
        _call(counter, "UpdateItem")
        _call(counter, "Scan")
        _call(counter, "BatchWriteItem", RequestItems={"a": [{}, {}], "b": [{}]})
        _call(counter, "TransactWriteItems", TransactItems=[{}, {}])
    tally = counter.stages["s"]
    assert (tally.reads, tally.writes, tally.scans) == (2, 7, 1)
    assert tally.operations["PutItem"] == 1 and tally.per(tally.writes) == 3.5


def test_importtime_lines_are_grouped_by_phase(cold_start: ModuleType) -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 | boto3",
            f"{cold_start.PHASE_MARK} import",
            "import time:      2000 |       2000 |   zapgate_core.contract",
            "import time:       500 |       2500 | zapgate_worker_proxy.app",
            f"{cold_start.PHASE_MARK} request",
            "import time:        70 |         70 | anyio.streams.memory",
        ]
    )
    phases = cold_start.imports_by_phase(stderr)
    assert [i.module for i in phases["import"]] == ["zapgate_core.contract", "zapgate_worker_proxy.app"]
    assert phases["import"][1].cumulative_us == 2500
    assert [i.module for i in phases["request"]] == ["anyio.streams.memory"]


def test_http_api_event_is_served_by_mangum(cold_start: ModuleType) -> None:
    from mangum import Mangum

    app = FastAPI()

    @app.get("/worker-proxy/{rest:path}")
    def echo(rest: str, request: Request) -> dict[str, Any]:
        return {"rest": rest, "limit": request.query_params.get("limit"), "auth": request.headers["authorization"]}

    event = cold_start.http_api_event(
        "GET", "/worker-proxy/eligible-instances", "limit=50", {"authorization": "Bearer s"},
        "ANY /worker-proxy/{proxy+}",
    )  # fmt: skip
    context = SimpleNamespace(aws_request_id="r", function_name="f", memory_limit_in_mb=512,
                              invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f")  # fmt: skip
    response = Mangum(app, lifespan="off")(event, context)
    assert response["statusCode"] == 200
    assert '"rest":"eligible-instances"' in response["body"] and '"limit":"50"' in response["body"]


def test_every_template_function_gets_a_child_that_compiles(cold_start: ModuleType, tmp_path: Path) -> None:
    template = load_template()
    names = LocalNames(
        physical={logical_id: f"local-{logical_id}" for logical_id in template["Resources"]},
        parameters=parameter_defaults(template),
    )
    targets = cold_start.function_targets(SimpleNamespace(endpoint="http://127.0.0.1:9"), names, tmp_path)
    handlers = {r["Properties"]["Handler"] for r in resources_of_type(template, "AWS::Serverless::Function").values()}
    assert {f"{t.spec.module}.{t.spec.attr}" for t in targets} == handlers
    for target in targets:
        compile(target.code, target.label, "exec")
        assert target.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
        assert target.env["PYTHONPYCACHEPREFIX"] == str(tmp_path)
        assert "PYTHONDONTWRITEBYTECODE" not in target.env
