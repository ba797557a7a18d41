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
def cold_start_explain() -> ModuleType:
    return _load("cold_start_explain")


@pytest.fixture(scope="module")
def cold_start_events() -> ModuleType:
    return _load("cold_start_events")


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


def test_importtime_lines_are_grouped_by_phase(cold_start_explain: ModuleType) -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 | boto3",
            f"{cold_start_explain.PHASE_MARK} import",
            "import time:      2000 |       2000 |   zapgate_core.contract",
            "import time:       500 |       2500 | zapgate_worker_proxy.app",
            f"{cold_start_explain.PHASE_MARK} request",
            "import time:        70 |         70 | anyio.streams.memory",
        ]
    )
    phases = cold_start_explain.imports_by_phase(stderr)
    assert [i.module for i in phases["import"]] == ["zapgate_core.contract", "zapgate_worker_proxy.app"]
    assert phases["import"][1].cumulative_us == 2500
    assert [i.module for i in phases["request"]] == ["anyio.streams.memory"]


def test_http_api_event_is_served_by_mangum(cold_start_events: ModuleType) -> None:
    from mangum import Mangum

    app = FastAPI()

    @app.get("/worker-proxy/{rest:path}")
    def echo(rest: str, request: Request) -> dict[str, Any]:
        return {"rest": rest, "limit": request.query_params.get("limit"), "auth": request.headers["authorization"]}

    event = cold_start_events.http_api_event(
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


# --------------------------------------------------------------------------- cold_start.py --compare REV
@pytest.fixture(scope="module")
def compare(cold_start: ModuleType) -> ModuleType:
    import cold_start_compare  # bench/ is on sys.path once cold_start is loaded

    return cold_start_compare


def test_ratios_and_verdicts_from_given_samples(compare: ModuleType) -> None:
    rev = {
        "import": [100.0, 90.0, 110.0, 100.0, 105.0],
        "first": [200.0, 190.0, 210.0, 200.0, 205.0],
        "cpu_import": [95.0, 95.0, 95.0, 95.0, 95.0],
        "cpu_first": [180.0, 180.0, 181.0, 179.0, 180.0],
    }
    same = compare.compare("Same", {**rev, "first": [201.0, 199.0, 212.0, 198.0, 203.0]}, rev, 1.05)
    assert same.ratios["first"] == pytest.approx(201 / 200) and same.ratios["import"] == 1.0
    assert same.judgements == {"first": "no worse", "cpu_first": "no worse"}
    assert same.verdict == "no worse (wall and cpu)"
    slower = compare.compare(
        "Slower", {**rev, "first": [230.0, 225.0, 240.0, 232.0, 236.0], "cpu_first": [207.0] * 5}, rev, 1.05
    )
    assert slower.ratios["first"] == pytest.approx(232 / 200) and slower.intervals["first"][0] > 1.0
    assert slower.verdict == "WORSE (wall and cpu)"
    # The same median slowdown in wall time, but the rounds scatter so widely that the run cannot tell
    # it from none; CPU time unchanged.
    noisy = compare.compare("Noisy", {**rev, "first": [150.0, 232.0, 300.0, 180.0, 240.0]}, rev, 1.05)
    assert noisy.ratios["first"] == pytest.approx(232 / 200) and noisy.intervals["first"][0] <= 1.0
    assert noisy.verdict == "inconclusive by wall time, no worse by cpu time"
    lucky = compare.compare("Lucky", {**rev, "first": [150.0, 200.0, 300.0, 180.0, 240.0]}, rev, 1.05)
    assert lucky.judgements["first"] == "no worse (noisy)" and lucky.intervals["first"][1] > 1.05
    assert compare.noise_interval([5.0] * 5, [5.0] * 5) == (1.0, 1.0)
    # One round (--runs 1) proves nothing either way.
    one = compare.compare(
        "One", {"first": [300.0], "cpu_first": [100.0]}, {"first": [200.0], "cpu_first": [100.0]}, 1.05
    )
    assert one.verdict == "inconclusive by wall time, no worse (noisy) by cpu time"
    assert compare.comparison_table([one], "x")[2].split()[:5] == ["One", "1.50x", "-", "1.00x", "-"]

    table = compare.comparison_table([same, slower], "f872664")
    assert table[0].split() == [
        "function", "import+1st", "90%", "interval", "cpu", "+1st", "90%", "interval", "import", "cpu", "import",
        "verdict", "(work/f872664)",
    ]  # fmt: skip
    assert table[2].split()[:2] == ["Same", "1.00x"] and table[2].endswith("no worse (wall and cpu)")
    assert table[3].split()[:2] == ["Slower", "1.16x"] and table[3].split()[3] == "1.15x"
    assert compare.summary([same, slower, noisy, lucky]) == [
        "by wall time: WORSE for Slower; inconclusive for Noisy; no worse for Same, Lucky",
        "by cpu time: WORSE for Slower; no worse for Same, Noisy, Lucky",
    ]
    assert compare.summary([same])[1] == "by cpu time: no worse for every compared function"
    assert compare.load_note(0.5, 1.2, 2) == ["load average 0.5 at start, 1.2 at end, on 2 CPUs"]
    assert compare.load_note(0.5, 4.2, 2)[1].startswith("warning: more runnable work than CPUs")


def test_functions_pair_by_logical_id_and_pairs_alternate_order(compare: ModuleType) -> None:
    pairing = compare.pair_functions(["Api", "Live", "New"], ["Old", "Api", "Live"])
    assert (pairing.both, pairing.only_work, pairing.only_rev) == (["Api", "Live"], ["New"], ["Old"])
    work = [("Api", "api"), ("Live", "live"), ("New", "new")]
    rev = {"Api": "api@rev", "Live": "live@rev"}
    assert compare.round_order("base", work, rev, 0) == ["base", "api", "api@rev", "live", "live@rev", "new"]
    assert compare.round_order("base", work, rev, 1) == ["base", "api@rev", "api", "live@rev", "live", "new"]


def test_rev_children_get_revs_folders_first_and_none_of_the_work_tree(compare: ModuleType, tmp_path: Path) -> None:
    env, drop = compare.path_setup(tmp_path, [compare.ROOT])
    assert env["PYTHONPATH"].split(":") == [str(tmp_path / f) for f in ("shared", "functions", "sidecar", "infra")]
    # The venv's .pth appends the work tree's folders after site-packages; the prelude drops them.
    sys_path = ["", *env["PYTHONPATH"].split(":"), "/stdlib", "/venv/site-packages", *map(str, drop)]
    fake_sys = SimpleNamespace(path=list(sys_path))
    exec(compare.PATH_PRELUDE.format(drop=drop), {"sys": fake_sys})
    assert fake_sys.path == sys_path[: -len(drop)]
    assert str(compare.ROOT / "functions") in drop


def test_a_rev_child_that_imported_work_tree_code_reports_it(compare: ModuleType, tmp_path: Path) -> None:
    def run(modules: dict[str, Any], handler: str) -> list[str]:
        scope = {"sys": SimpleNamespace(modules=modules), "_module": modules[handler]}
        exec(compare.postlude(tmp_path, [compare.ROOT], handler), scope)
        return list(scope["_stray"])

    rev_file = str(tmp_path / "functions" / "zapgate_live" / "handler.py")
    work_file = str(compare.ROOT / "shared" / "zapgate_core" / "__init__.py")
    venv_file = str(compare.ROOT / ".venv" / "lib" / "fastapi" / "__init__.py")  # the venv is inside the work tree
    modules = {
        "zapgate_live.handler": SimpleNamespace(__file__=rev_file),
        "fastapi": SimpleNamespace(__file__=venv_file),
        "zapgate_ns": SimpleNamespace(__file__=None, __path__=[str(tmp_path / "shared" / "zapgate_ns")]),
    }
    work_module = SimpleNamespace(__file__=work_file)
    assert run(modules, "zapgate_live.handler") == []
    assert run({**modules, "zapgate_core": work_module}, "zapgate_live.handler") == ["zapgate_core"]
    assert run({"zapgate_core": work_module}, "zapgate_core") == ["zapgate_core"]  # the handler itself
    assert run({"handler": SimpleNamespace(__file__="/elsewhere/handler.py")}, "handler") == ["handler"]


def test_rev_targets_import_from_rev_and_skip_functions_needing_missing_resources(
    cold_start: ModuleType, tmp_path: Path
) -> None:
    rev_root = tmp_path / "rev"
    rev_root.mkdir()
    (rev_root / "template.yaml").write_text((cold_start.compare.ROOT / "template.yaml").read_text())
    template = load_template()
    functions = resources_of_type(template, "AWS::Serverless::Function")
    names = LocalNames(
        physical={i: f"local-{i}" for i in template["Resources"] if i != "InstancesTable"},
        parameters=parameter_defaults(template),
    )
    unresolved: dict[str, str] = {}
    targets = cold_start.function_targets(
        SimpleNamespace(endpoint="http://127.0.0.1:9"), names, tmp_path, root=rev_root,
        other_roots=[cold_start.compare.ROOT], suffix="@rev", unresolved=unresolved,
    )  # fmt: skip
    assert unresolved and all("InstancesTable" in why for why in unresolved.values())
    assert {t.logical_id for t in targets} | set(unresolved) == set(functions)
    for target in targets:
        assert target.label == f"{target.logical_id}@rev"
        assert target.env["PYTHONPATH"].split(":")[0] == str(rev_root / "shared")
        assert repr(str(cold_start.compare.ROOT / "functions")) in target.code  # dropped from sys.path
        compile(target.code, target.label, "exec")


@pytest.fixture(scope="module")
def request_latency() -> ModuleType:
    return _load("request_latency")


def test_request_calls_are_labelled_by_the_route_that_made_them(request_latency: ModuleType) -> None:
    label = request_latency.route_label
    assert label("public", "/v1/instances/i-1/contacts/check") == "API contacts/check"
    assert label("public", "/v1/instances/i-1/chats/presence") == "API chats/presence"
    assert label("edge", "/worker-proxy/requests/claim") == "sidecar claim"
    assert label("edge", "/worker-proxy/requests/answer") == "sidecar answer"
    assert label("edge", "/worker-proxy/heartbeat") == request_latency.BACKGROUND

    counter = request_latency.WireCounter({"bench-requests": "Requests"})
    _call(counter, "PutItem", TableName="bench-requests")  # no route active
    token = request_latency.ROUTE.set("sidecar claim")
    try:
        _call(counter, "GetItem", TableName="bench-requests", ConsistentRead=True)
    finally:
        request_latency.ROUTE.reset(token)
    assert counter.take() == {("unlabelled", "PutItem Requests"): 1,
                              ("sidecar claim", "GetItem Requests (consistent)"): 1}
    assert counter.take() == {}
