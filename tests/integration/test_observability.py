"""Operations: infra/observability.yaml (dashboard, alarms, SNS) is valid, wired into template.yaml,
and names only metrics the code really emits; the sidecar's EMF telemetry is well-formed.

Offline: cfn-lint and the SAM translator run locally; the dashboard body is assembled from its
Fn::Join/Fn::If/Fn::Sub pieces here, with dummy values, and parsed as JSON.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from cfnlint.api import lint_file
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from tests.integration.test_template import ACCEPTED_LINT_WARNINGS, _with_fake_artifacts
from tests.integration.test_worker_proxy_locks import FakeClock
from tests.integration.worker_client import make_instance
from zapgate_devstack.template import TEMPLATE_PATH, load_template, resources_of_type
from zapgate_sidecar import telemetry as sidecar_telemetry

ROOT = TEMPLATE_PATH.parent
OBSERVABILITY_PATH = ROOT / "infra" / "observability.yaml"
CODE_ROOTS = {"functions": ROOT / "functions", "sidecar": ROOT / "sidecar"}
# Calls that emit a metric by name: Powertools' add_metric (functions) and the sidecar telemetry helpers.
EMITTING_CALLS = {"add_metric", "incr", "gauge"}
OPTIONAL_PARAMETERS = ("EventsProcessorFunctionName", "EventsProcessorLogGroupName", "EventsQueueName",
                       "EventsDeadLetterQueueName", "EventsPublisherFunctionName", "OutboxFailuresQueueName",
                       "SidecarClusterName", "SidecarServiceName", "SidecarLogGroupName",
                       "AlarmEmail")


def _observability() -> dict[str, Any]:
    return load_template(OBSERVABILITY_PATH)


# ------------------------------------------------------------------ cfn-lint


@pytest.mark.parametrize("path", [OBSERVABILITY_PATH, TEMPLATE_PATH], ids=["observability", "template"])
def test_cfn_lint_passes(path: Path) -> None:
    # On template.yaml this also checks the nested stack's parameters against infra/observability.yaml
    # (E3043: a parameter passed that does not exist there, or a required one not passed).
    findings = [
        f"{match.rule.id} line {match.linenumber}: {match.message}"
        for match in lint_file(path)
        if match.rule.id not in ACCEPTED_LINT_WARNINGS or match.rule.id.startswith("E")
    ]
    assert findings == [], "\n".join(findings)


# ------------------------------------------------------------------ wiring into template.yaml


def _application() -> dict[str, Any]:
    (application,) = resources_of_type(load_template(), "AWS::Serverless::Application").values()
    return application


def _referenced(node: Any) -> set[str]:
    """Logical ids named by Ref / Fn::GetAtt anywhere inside `node`."""
    if isinstance(node, dict):
        found: set[str] = set()
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".", 1)[0])
            else:
                found |= _referenced(value)
        return found
    if isinstance(node, list):
        return set().union(*(_referenced(item) for item in node)) if node else set()
    return set()


def test_template_deploys_the_observability_stack_with_the_same_sam_deploy() -> None:
    application = _application()
    assert application["Properties"]["Location"] == "infra/observability.yaml"
    assert (ROOT / application["Properties"]["Location"]).is_file()


@pytest.mark.parametrize("resource_type", ["AWS::Serverless::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue"])
def test_every_function_table_and_queue_is_watched(resource_type: str) -> None:
    # A function without a Lambda-errors alarm, a table without throttle graphs or a queue without a
    # depth graph is a blind spot: pass each one to the Observability stack (optional parameters exist
    # for EventsProcessorFunctionName, EventsQueueName and EventsDeadLetterQueueName).
    passed = _referenced(_application()["Properties"]["Parameters"])
    missing = sorted(set(resources_of_type(load_template(), resource_type)) - passed)
    assert missing == [], f"pass these to Resources.Observability.Parameters in template.yaml: {missing}"


def test_sam_expands_the_application_into_a_nested_stack() -> None:
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="offline",
                                    aws_secret_access_key="offline")
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    expanded = translator.translate(_with_fake_artifacts(load_template()), parameter_values={})
    (stack,) = resources_of_type(expanded, "AWS::CloudFormation::Stack").values()
    assert stack["Properties"]["TemplateURL"] == "infra/observability.yaml"  # `sam deploy` uploads and rewrites it


# ------------------------------------------------------------------ dashboard body


class _Resolver:
    """Evaluates the intrinsics the observability template uses, with dummy values for the unknowns."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        defaults = {name: str(spec.get("Default", f"test-{name}")) for name, spec in template["Parameters"].items()}
        self.parameters = {**defaults, **parameters, "AWS::Region": "us-east-1", "AWS::StackName": "test-stack",
                           "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}

    def condition(self, name: str) -> bool:
        return bool(self._value(self.template["Conditions"][name]))

    def _value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._value(item) for item in node]
        if not isinstance(node, dict) or len(node) != 1:
            return node
        (key, arg), = node.items()
        if key == "Ref":
            return self.parameters.get(arg, f"ref-{arg}")
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = self._value(arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._value(arg[0])
        if key == "Fn::And":
            return all(self._value(item) for item in arg)
        if key == "Fn::Or":
            return any(self._value(item) for item in arg)
        if key == "Fn::If":
            name, if_true, if_false = arg
            return self._value(if_true if self.condition(name) else if_false)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in self._value(items))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::GetAtt":
            return f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{arg[0]}"
        return node

    def _sub(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name and not name.startswith("AWS::"):
                resource = name.split(".", 1)[0]
                assert resource in self.template["Resources"], f"${{{name}}} names no resource"
                return f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{resource}"
            assert name in self.parameters or name in self.template["Resources"], f"${{{name}}} is unknown"
            return self.parameters.get(name, f"ref-{name}")

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1 and next(iter(node)).startswith(("Fn::", "Ref")):
            return self._value(node)
        if isinstance(node, dict):
            return {key: self.resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        return node


SCENARIOS = {
    # The nested stack given only its required parameters: every optional widget and alarm left out.
    "required-only": {},
    "everything": {name: f"given-{name}" for name in OPTIONAL_PARAMETERS} | {"AlarmEmail": "ops@example.com"},
}


def _dashboard(parameters: dict[str, str]) -> dict[str, Any]:
    template = _observability()
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = _Resolver(template, parameters).resolve(dashboard["Properties"]["DashboardBody"])
    assert isinstance(body, str) and "${" not in body
    return json.loads(body)


def _alarms(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    template = _observability()
    resolver = _Resolver(template, parameters)
    return {
        logical_id: resolver.resolve(alarm["Properties"])
        for logical_id, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items()
        if "Condition" not in alarm or resolver.condition(alarm["Condition"])
    }


def _widget_metrics(dashboard: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of every metric line; expressions (SEARCH, math) are skipped."""
    found = []
    for widget in dashboard["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            if not line or not isinstance(line[0], str):
                continue
            names = [item for item in line if isinstance(item, str)]
            assert "." not in names, "write metric lines out in full (no '.' shorthand): the tests read them"
            namespace, metric, *dimensions = names
            assert len(dimensions) % 2 == 0, f"{namespace}/{metric}: dimension names and values must pair up"
            found.append((namespace, metric, dict(zip(dimensions[::2], dimensions[1::2], strict=True))))
    return found


def _alarm_metrics(alarms: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for props in alarms.values():
        stats = [props] + [query["MetricStat"]["Metric"] for query in props.get("Metrics", []) if "MetricStat" in query]
        for metric in stats:
            if "MetricName" in metric:
                dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                found.append((metric["Namespace"], metric["MetricName"], dimensions))
    return found


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_dashboard_body_is_valid_json_with_regions_and_sizes(scenario: str) -> None:
    dashboard = _dashboard(SCENARIOS[scenario])
    assert dashboard["widgets"]
    for widget in dashboard["widgets"]:
        assert widget["type"] in {"metric", "text", "alarm", "log"}
        assert 1 <= widget["width"] <= 24 and widget["height"] >= 1
        if widget["type"] in {"metric", "log", "alarm"}:
            assert widget["properties"].get("title")
        if widget["type"] in {"metric", "log"}:
            assert widget["properties"]["region"] == "us-east-1"


def test_optional_resources_add_their_widgets_only_when_given() -> None:
    bare = json.dumps(_dashboard(SCENARIOS["required-only"]))
    full = json.dumps(_dashboard(SCENARIOS["everything"]))
    for service in ("AWS/SQS", "AWS/ECS", "ECS/ContainerInsights", "given-EventsProcessorFunctionName",
                    "SOURCE 'given-EventsProcessorLogGroupName'", "SOURCE 'given-SidecarLogGroupName'"):
        assert service not in bare and service in full
    # The always-there sections.
    for needed in ("InstancesConnected", "MessagesSent", "OutboundQueueAgeMs", "AWS/Lambda", "ThrottledRequests",
                   "ReadThrottleEvents", "WriteThrottleEvents", "AWS/ApiGateway"):
        assert needed in bare


def test_dashboard_covers_what_operators_asked_for() -> None:
    metrics = {(ns, name) for ns, name, _ in _widget_metrics(_dashboard(SCENARIOS["everything"]))}
    wanted = {
        ("Zapgate", "InstancesConnected"), ("Zapgate", "InstancesDisconnected"), ("Zapgate", "InstancesWaitingQr"),
        ("Zapgate", "MessagesSent"), ("Zapgate", "MessagesFailed"), ("Zapgate", "MessagesReceived"),
        ("Zapgate", "OutboundQueueAgeMs"), ("Zapgate", "LockLost"), ("Zapgate", "LockAcquired"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Duration"), ("AWS/Lambda", "Throttles"),
        ("AWS/DynamoDB", "ReadThrottleEvents"), ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization"),
    }
    assert wanted <= metrics, sorted(wanted - metrics)


def test_every_lambda_function_and_table_has_its_lines() -> None:
    lines = _widget_metrics(_dashboard(SCENARIOS["everything"]))
    functions = {dims["FunctionName"] for ns, name, dims in lines if ns == "AWS/Lambda" and name == "Errors"}
    function_params = {p for p in _observability()["Parameters"] if p.endswith("FunctionName")}
    assert functions == {f"test-{p}" if p not in OPTIONAL_PARAMETERS else f"given-{p}" for p in function_params}
    tables = {dims["TableName"] for ns, _n, dims in lines if ns == "AWS/DynamoDB"}
    assert tables == {f"test-{p}" for p in _observability()["Parameters"] if p.endswith("TableName")}


def test_every_alarm_notifies_the_topic_and_shows_on_the_dashboard() -> None:
    template = _observability()
    dashboard = _dashboard(SCENARIOS["everything"])
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    shown = {arn.rsplit(":", 1)[1] for arn in alarm_widget["properties"]["alarms"]}
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert shown == set(alarms)
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert "docs/operations.md#" in props["AlarmDescription"], f"{logical_id} names no runbook section"
        assert props["TreatMissingData"] == "notBreaching", logical_id
    subscription = resources_of_type(template, "AWS::SNS::Subscription")["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"  # empty AlarmEmail: no subscription
    resolver = _Resolver(template, {})
    assert resolver.condition("HasAlarmEmail") is False
    assert _Resolver(template, {"AlarmEmail": "ops@example.com"}).condition("HasAlarmEmail") is True


def test_optional_alarms_exist_only_with_their_resources() -> None:
    optional = {"DeadLetterQueueAlarm", "EventsProcessorErrorsAlarm", "EventsPublisherErrorsAlarm",
                "EventsPublisherIteratorAgeAlarm", "EventsPublisherFailuresAlarm"}
    assert optional.isdisjoint(_alarms(SCENARIOS["required-only"]))
    assert optional <= set(_alarms(SCENARIOS["everything"]))


def test_runbook_has_a_section_per_alarm() -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    for logical_id, alarm in resources_of_type(_observability(), "AWS::CloudWatch::Alarm").items():
        anchor = alarm["Properties"]["AlarmDescription"].split("docs/operations.md#", 1)[1].split()[0]
        assert anchor in anchors, f"{logical_id}: docs/operations.md has no heading for #{anchor}"


# ------------------------------------------------------------------ named metrics are emitted metrics


def _literal_names(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literal_names(node.body) | _literal_names(node.orelse)
    return set()  # f-strings and variables: dynamic names the dashboard cannot rely on


def _emitted(root: Path) -> set[str]:
    names: set[str] = set()
    for path in root.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in EMITTING_CALLS):
                continue
            name = next((kw.value for kw in node.keywords if kw.arg == "name"), node.args[0] if node.args else None)
            if name is not None:
                names |= _literal_names(name)
    return names


def _functions_service() -> tuple[str, str]:
    """(namespace, service) the functions' Powertools Metrics use, from template.yaml."""
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        for key in ("POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"):
            assert key not in own, f"{logical_id} overrides {key}: the dashboard's dimensions would miss it"
    return variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]


def _emitted_by_service() -> dict[str, set[str]]:
    namespace, service = _functions_service()
    assert namespace == sidecar_telemetry.NAMESPACE == "Zapgate"
    return {service: _emitted(CODE_ROOTS["functions"]), sidecar_telemetry.SERVICE: _emitted(CODE_ROOTS["sidecar"])}


def test_the_emitted_metric_walk_finds_what_the_code_emits() -> None:
    # Guards the check below against a walker that silently finds nothing.
    emitted = _emitted_by_service()
    functions = {"MessagesSent", "MessagesFailed", "LockAcquired", "LockConflict", "LockLost", "OutboundQueueAgeMs"}
    assert functions <= emitted["zapgate"]
    gauges = {"InstancesConnected", "InstancesDisconnected", "InstancesWaitingQr", "InstancesManaged"}
    assert set(sidecar_telemetry.COUNTERS) | gauges <= emitted["zapgate-sidecar"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_dashboard_and_alarms_name_only_emitted_metrics(scenario: str) -> None:
    emitted = _emitted_by_service()
    named = _widget_metrics(_dashboard(SCENARIOS[scenario])) + _alarm_metrics(_alarms(SCENARIOS[scenario]))
    zapgate = [(name, dims) for namespace, name, dims in named if namespace == "Zapgate"]
    assert zapgate
    problems = []
    for name, dims in zapgate:
        # Powertools EMF puts exactly one dimension on each metric: service.
        if set(dims) != {"service"}:
            problems.append(f"{name}: dimensions {dims} (EMF emits only 'service')")
        elif dims["service"] not in emitted:
            problems.append(f"{name}: service={dims['service']} emits nothing")
        elif name not in emitted[dims["service"]]:
            problems.append(f"{name}: never emitted with service={dims['service']}")
    assert problems == [], problems
    assert {ns for ns, _n, _d in named} - {"Zapgate"} <= {"AWS/Lambda", "AWS/DynamoDB", "AWS/SQS", "AWS/ECS",
                                                          "ECS/ContainerInsights", "AWS/ApiGateway"}


# ------------------------------------------------------------------ emitters


@pytest.fixture
def emf_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    # The moto fixture disables Powertools metrics process-wide; these tests read what is printed.
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


def _emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


class _Minute:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _manager(tmp_path: Path, clock: _Minute) -> Any:
    from zapgate_sidecar.instance_manager import InstanceManager
    from zapgate_sidecar.runtime import RuntimeDeps
    from zapgate_sidecar.settings import SidecarSettings

    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media",
                               instance_owner="host-7:4242")
    deps = RuntimeDeps(settings=settings, proxy=None, transport=None, http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None,
                       telemetry=sidecar_telemetry.SidecarTelemetry(clock=clock))
    return InstanceManager(settings, None, deps)  # type: ignore[arg-type]


def test_sidecar_flush_prints_emf_with_fleet_gauges_and_counters_and_nothing_personal(
    emf_enabled: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zapgate_core.contract.worker_proxy import LockResponse
    from zapgate_sidecar.runtime import InstanceRuntime

    clock = _Minute()
    manager = _manager(tmp_path, clock)
    jid = "5511988887777@s.whatsapp.net"
    manager.runtimes = {
        "inst-connected-aa11": SimpleNamespace(connected=True, status="CONNECTED", state="connected", own_jid=jid),
        "inst-down-bb22": SimpleNamespace(connected=False, status="DISCONNECTED", state="reconnecting", own_jid=jid),
        "inst-qr-cc33": SimpleNamespace(connected=False, status="CONNECTING", state="waiting_qr", own_jid=None),
        "inst-new-dd44": SimpleNamespace(connected=False, status=None, state="starting", own_jid=None),
    }
    # A real runtime counts its own lost lock through the deps' telemetry.
    lock = LockResponse(acquired=True, instance_owner="host-7:4242", lock_token="lock-token-secret-0001", fence=3)
    runtime = InstanceRuntime("inst-lost-ee55", lock, manager.deps)
    asyncio.run(runtime.stop("lock_lost", release=False))
    manager.deps.telemetry.incr("OutboundSent", 2)

    manager.report_metrics()
    (emf,) = _emf_lines(capsys.readouterr().out)
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Zapgate"
    assert directive["Dimensions"] == [["service"]] and emf["service"] == "zapgate-sidecar"
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {"InstancesManaged", "InstancesConnected", "InstancesDisconnected", "InstancesWaitingQr",
                     "PushChannelUp", *sidecar_telemetry.COUNTERS}
    assert all(m["Unit"] == "Count" for m in directive["Metrics"])
    values = {name: emf[name] for name in names}
    assert values["InstancesManaged"] == [4.0] and values["InstancesConnected"] == [1.0]
    assert values["InstancesDisconnected"] == [1.0] and values["InstancesWaitingQr"] == [1.0]
    assert values["LocksLost"] == [1.0] and values["OutboundSent"] == [2.0] and values["OutboundFailed"] == [0.0]
    assert values["PushChannelUp"] == [0.0]  # the channel of this fleet never connected
    assert isinstance(emf["_aws"]["Timestamp"], int)
    # Names and numbers only: nothing about instances, people, the host or the secret.
    assert set(emf) == {"_aws", "service", *names}
    line = json.dumps(emf)
    for private in ("inst-", "5511988887777", "whatsapp.net", "sidecar-secret-value-123", "lock-token-secret",
                    "host-7", "4242"):
        assert private not in line, private


def test_sidecar_flushes_once_per_wall_clock_minute_and_restarts_counters(
    emf_enabled: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = _Minute()
    manager = _manager(tmp_path, clock)
    telemetry = manager.deps.telemetry
    telemetry.incr("Reconnects")
    manager.report_metrics()
    clock.now += 20
    telemetry.incr("Reconnects")
    manager.report_metrics()  # same minute: kept for the next flush
    assert len(_emf_lines(capsys.readouterr().out)) == 1
    clock.now += 60
    manager.report_metrics()
    (emf,) = _emf_lines(capsys.readouterr().out)
    assert emf["Reconnects"] == [1.0] and emf["InstancesManaged"] == [0.0]


def test_sidecar_telemetry_prints_nothing_and_keeps_nothing_when_metrics_are_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # make run and the tests
    telemetry = sidecar_telemetry.SidecarTelemetry()
    for _ in range(150):  # Powertools serialises on the 100th value of a kept set: it must not grow
        telemetry.incr("OutboundSent")
        telemetry.gauge("InstancesManaged", 1)
        telemetry.flush()
    assert _emf_lines(capsys.readouterr().out) == []


def test_claim_emits_the_oldest_claimed_message_age(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.observability import metrics
    from zapgate_control.services import outbound_claims as outbound
    from zapgate_core.contract.outbound_content import OutboundContent
    from zapgate_core.domain.outbound import ClaimPolicy

    clock = FakeClock()
    store = DynamoMessageStore(aws_env["MESSAGES_TABLE"], clock=clock)
    instance = make_instance(aws_env)
    store.enqueue("tenant-a", instance["id"], OutboundContent(to="5511999999999", body="old"))
    clock.now += 4_000
    store.enqueue("tenant-a", instance["id"], OutboundContent(to="5511999999999", body="new"))
    clock.now += 1_500
    metrics.clear_metrics()
    try:
        assert outbound.claim(store, ClaimPolicy(), instance["id"], 10).messages
        assert metrics.metric_set["OutboundQueueAgeMs"]["Value"] == [5_500.0]
        assert metrics.metric_set["OutboundQueueAgeMs"]["Unit"] == "Milliseconds"
        metrics.clear_metrics()
        assert outbound.claim(store, ClaimPolicy(), instance["id"], 10).messages == []
        assert "OutboundQueueAgeMs" not in metrics.metric_set  # nothing claimed: no datapoint
    finally:
        metrics.clear_metrics()


def test_heartbeat_counts_a_refused_renewal_as_a_lost_lock(aws_env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.observability import metrics
    from zapgate_control.services import heartbeat
    from zapgate_core.contract.worker_proxy import HeartbeatRequest

    instances = DynamoInstanceStore(aws_env["INSTANCES_TABLE"])
    messages = DynamoMessageStore(aws_env["MESSAGES_TABLE"])
    mine, theirs = make_instance(aws_env, "mine"), make_instance(aws_env, "theirs")
    _, held = instances.acquire_lock(mine["id"], "sidecar-a", 30_000)
    instances.acquire_lock(theirs["id"], "sidecar-b", 30_000)
    metrics.clear_metrics()
    try:
        heartbeat.heartbeat(instances, messages, HeartbeatRequest.model_validate({
            "instance_owner": "sidecar-a", "wait_ms": 0,
            "locks": [{"instanceId": mine["id"], "lock_token": held.token},
                      {"instanceId": theirs["id"], "lock_token": "guess"},
                      {"instanceId": "ghost", "lock_token": None}]}))
        assert metrics.metric_set["LockLost"]["Value"] == [1.0]  # theirs; a deleted instance is not churn
    finally:
        metrics.clear_metrics()
