"""template.yaml is valid, expands as SAM will expand it, and matches the code it points at.

Offline only: cfn-lint and the SAM translator run locally, no AWS account involved.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cfnlint.api import lint, lint_file
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from zapgate_devstack.template import TEMPLATE_PATH, http_routes, load_template, resources_of_type

# cfn-lint findings accepted on purpose, by rule id, each with the reason. Keep it empty unless
# a rule is wrong for this template; an accepted finding still has to be a warning, never an error.
ACCEPTED_LINT_WARNINGS: dict[str, str] = {}

SECRET_NAME = re.compile(r"secret|password|passwd|token|api_?key|private_?key|access_?key", re.IGNORECASE)
# Shapes of credentials pasted by mistake: AWS access key ids, and long unbroken base64/hex runs.
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|^[A-Za-z0-9+/=_-]{24,}$")


def _functions() -> dict[str, dict[str, Any]]:
    return resources_of_type(load_template(), "AWS::Serverless::Function")


# ------------------------------------------------------------------ cfn-lint


def test_cfn_lint_passes() -> None:
    findings = [
        f"{match.rule.id} line {match.linenumber}: {match.message}"
        for match in lint_file(TEMPLATE_PATH)
        if match.rule.id not in ACCEPTED_LINT_WARNINGS or match.rule.id.startswith("E")
    ]
    assert findings == [], "\n".join(findings)


def test_cfn_lint_really_checks_this_template() -> None:
    # Guards the test above against a linter that silently checks nothing (e.g. a transform it skips).
    broken = TEMPLATE_PATH.read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: PAY_LATER", 1)
    assert any(match.rule.id.startswith("E") for match in lint(broken))


# ------------------------------------------------------------------ SAM transform


def _with_fake_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    """`sam package` would upload CodeUri/ContentUri folders to S3; the translator only needs S3 URIs."""
    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://zapgate-artifacts/{props[key].strip('/')}.zip"
    return packaged


@pytest.fixture(scope="module")
def expanded() -> dict[str, Any]:
    # The translator resolves AWS::Region through a boto3 session; give it one that needs no account.
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="offline", aws_secret_access_key="offline"
    )
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    return translator.translate(_with_fake_artifacts(load_template()), parameter_values={})


def test_sam_expands_every_function(expanded: dict[str, Any]) -> None:
    lambdas = resources_of_type(expanded, "AWS::Lambda::Function")
    assert set(lambdas) == {"WorkerProxyFunction", "PublicApiFunction", "EventsProcessorFunction", "LiveFunction",
                            "EventsPublisherFunction", "SidecarPushFunction", "AutomationsFunction"}
    assert {props["Properties"]["Handler"] for props in lambdas.values()} == {
        "zapgate_worker_proxy.handler.handler",
        "zapgate_public_api.handler.handler",
        "zapgate_events.handler.handler",
        "zapgate_outbox.handler.handler",
        "zapgate_live.handler.handler",
        "zapgate_push.handler.handler",
        "zapgate_automations.handler.handler",
    }
    for function in lambdas.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Layers"], "the shared layer carries zapgate_core"
        # Globals reached every function: the table names are wired in.
        assert {"INSTANCES_TABLE", "MESSAGES_TABLE", "API_KEYS_TABLE"} <= set(props["Environment"]["Variables"])


def test_sam_expands_the_http_api_routes(expanded: dict[str, Any]) -> None:
    apis = resources_of_type(expanded, "AWS::ApiGatewayV2::Api").values()
    http_apis = [api for api in apis if "Body" in api["Properties"]]
    (api,) = http_apis  # the WebSocket API (LiveApi) has routes of its own, tested below
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths) == {"/worker-proxy/{proxy+}", "/v1/{proxy+}", "/console", "/console/{proxy+}"}
    targets = {
        path: route["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path, route in paths.items()
    }
    assert "${WorkerProxyFunctionAliascurrent}" in targets["/worker-proxy/{proxy+}"]
    assert "${PublicApiFunctionAliascurrent}" in targets["/v1/{proxy+}"]
    assert "${PublicApiFunctionAliascurrent}" in targets["/console"]
    assert "${PublicApiFunctionAliascurrent}" in targets["/console/{proxy+}"]
    # API Gateway may invoke each function (one permission per route, one per WebSocket API).
    assert len(resources_of_type(expanded, "AWS::Lambda::Permission")) == 6


def test_the_live_websocket_api_routes_every_message_to_the_live_function(expanded: dict[str, Any]) -> None:
    apis = resources_of_type(expanded, "AWS::ApiGatewayV2::Api")
    assert apis["LiveApi"]["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert apis["LiveApi"]["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    routes = {r["Properties"]["RouteKey"]: r for r in resources_of_type(expanded, "AWS::ApiGatewayV2::Route").values()
              if r["Properties"]["ApiId"] == {"Ref": "LiveApi"}}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert {r["Properties"]["Target"]["Fn::Sub"] for r in routes.values()} == {"integrations/${LiveIntegration}"}
    integration = resources_of_type(expanded, "AWS::ApiGatewayV2::Integration")["LiveIntegration"]
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["IntegrationUri"]["Fn::Sub"][1] == {"Target": {"Ref": "LiveFunctionAliascurrent"}}
    # Two-way $default: without a route response API Gateway drops the function's answer (ping → pong).
    assert routes["$default"]["Properties"]["RouteResponseSelectionExpression"] == "$default"
    (response,) = resources_of_type(expanded, "AWS::ApiGatewayV2::RouteResponse").values()
    assert response["Properties"]["RouteResponseKey"] == "$default"
    stage = resources_of_type(expanded, "AWS::ApiGatewayV2::Stage")["LiveStage"]["Properties"]
    assert stage["ApiId"] == {"Ref": "LiveApi"} and stage["StageName"] == "live" and stage["AutoDeploy"] is True
    functions = _functions()
    processor = functions["EventsProcessorFunction"]["Properties"]["Environment"]["Variables"]
    public = functions["PublicApiFunction"]["Properties"]["Environment"]["Variables"]
    # The local stack (zapgate_devstack.template) resolves exactly these spellings to its gateway.
    endpoint = "${LiveApi}.execute-api.${AWS::Region}.amazonaws.com/live"
    assert processor["LIVE_ENDPOINT_URL"] == {"Fn::Sub": f"https://{endpoint}"}
    assert public["LIVE_URL"] == {"Fn::Sub": f"wss://{endpoint}"}


def test_the_sidecar_push_api_wakes_sidecars_without_a_lambda_waiting(expanded: dict[str, Any]) -> None:
    apis = resources_of_type(expanded, "AWS::ApiGatewayV2::Api")
    assert apis["SidecarPushApi"]["Properties"]["ProtocolType"] == "WEBSOCKET"
    routes = {r["Properties"]["RouteKey"]: r for r in resources_of_type(expanded, "AWS::ApiGatewayV2::Route").values()
              if r["Properties"]["ApiId"] == {"Ref": "SidecarPushApi"}}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert {r["Properties"]["Target"]["Fn::Sub"] for r in routes.values()} == {"integrations/${SidecarPushIntegration}"}
    # Keepalives get no reply: one billed message each, and the function reads and writes nothing for them.
    assert "RouteResponseSelectionExpression" not in routes["$default"]["Properties"]
    stage = resources_of_type(expanded, "AWS::ApiGatewayV2::Stage")["SidecarPushStage"]["Properties"]
    assert stage["StageName"] == "sidecars" and stage["AutoDeploy"] is True
    functions = _functions()
    endpoint = "${SidecarPushApi}.execute-api.${AWS::Region}.amazonaws.com/sidecars"
    worker = functions["WorkerProxyFunction"]["Properties"]["Environment"]["Variables"]
    public = functions["PublicApiFunction"]["Properties"]["Environment"]["Variables"]
    push = functions["SidecarPushFunction"]["Properties"]["Environment"]["Variables"]
    assert worker["SIDECAR_PUSH_URL"] == {"Fn::Sub": f"wss://{endpoint}"}  # advertised in worker-settings
    for env in (worker, public, push):
        assert env["SIDECAR_PUSH_ENDPOINT_URL"] == {"Fn::Sub": f"https://{endpoint}"}
        assert env["FLEET_TABLE"] == {"Ref": "FleetTable"}
    # Who may post to a sidecar's connection: exactly the three functions that wake sidecars, on that stage only.
    scoped = "${SidecarPushApi}/sidecars/POST/@connections/*"
    for name in ("WorkerProxyFunction", "PublicApiFunction", "SidecarPushFunction"):
        statements = functions[name]["Properties"]["Policies"][0]["Statement"]
        manage = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
        assert manage and all(scoped in s["Resource"]["Fn::Sub"] for s in manage), name


@pytest.mark.parametrize(
    "resource_type", ["AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SecretsManager::Secret"]
)
def test_sam_keeps_every_data_resource(expanded: dict[str, Any], resource_type: str) -> None:
    # Plain CloudFormation resources pass through the transform untouched: the same ones the
    # local stack creates from the source template.
    assert set(resources_of_type(expanded, resource_type)) == set(resources_of_type(load_template(), resource_type))


def test_sam_has_the_tables_the_functions_are_wired_to(expanded: dict[str, Any]) -> None:
    tables = set(resources_of_type(expanded, "AWS::DynamoDB::Table"))
    assert {"InstancesTable", "MessagesTable", "ContactsTable", "AuditTable", "ApiKeysTable"} <= tables
    assert "MediaBucket" in resources_of_type(expanded, "AWS::S3::Bucket")
    assert "WorkerSecret" in resources_of_type(expanded, "AWS::SecretsManager::Secret")


# ------------------------------------------------------------------ template ↔ code


@pytest.mark.parametrize("logical_id", sorted(_functions()))
def test_each_handler_imports_and_exposes_app_and_handler(logical_id: str) -> None:
    handler_path = _functions()[logical_id]["Properties"]["Handler"]
    module_name, attribute = handler_path.rsplit(".", 1)
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute, None)), f"{handler_path} is not callable"
    assert attribute == "handler"
    events = _functions()[logical_id]["Properties"].get("Events", {}).values()
    if any(event.get("Type") == "HttpApi" for event in events):  # the local gateway serves these apps
        assert callable(getattr(module, "app", None)), f"{module_name} exposes no ASGI `app`"


def _app_paths(handler_path: str) -> set[str]:
    """The paths the app answers: its OpenAPI paths (routes in included routers, reached through the
    public schema rather than FastAPI's internal router types) plus the top-level routes FastAPI adds
    outside the schema (docs, openapi.json, oauth2 redirect)."""
    app = importlib.import_module(handler_path.rsplit(".", 1)[0]).app
    top_level = {route.path for route in app.routes if isinstance(getattr(route, "path", None), str)}
    return top_level | set(app.openapi().get("paths", {}))


@pytest.mark.parametrize(("prefix", "handler_path"), sorted(http_routes(load_template())))
def test_each_http_route_is_served_by_its_app(prefix: str, handler_path: str) -> None:
    paths = _app_paths(handler_path)
    served = [path for path in paths if path.startswith(prefix + "/")]
    assert served, f"{handler_path} serves nothing under {prefix}"
    # API Gateway forwards only `prefix/...` (or `prefix` itself, for a route without {proxy+}) of this
    # function's routes to it: any other route (a default /docs or /openapi.json, say) can never be reached
    # in AWS and would only work locally.
    prefixes = {p for p, handler in http_routes(load_template()) if handler == handler_path}
    reachable = {path for path in paths for p in prefixes if path == p or path.startswith(p + "/")}
    unreachable = sorted(paths - reachable)
    assert unreachable == [], f"{handler_path} declares routes outside {sorted(prefixes)}: {unreachable}"


# ------------------------------------------------------------------ no secrets in the template


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(dotted path, key, value) for every mapping entry in the template."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", str(key), value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def test_no_parameter_that_looks_secret_has_a_default() -> None:
    for name, spec in load_template().get("Parameters", {}).items():
        if SECRET_NAME.search(name):
            assert "Default" not in spec, f"parameter {name} must not carry a default value"
            assert spec.get("NoEcho") is True, f"parameter {name} must be NoEcho"


def test_no_secret_looking_literal_in_the_template() -> None:
    template = load_template()
    offenders = []
    for path, key, value in _walk(template):
        if not isinstance(value, str):
            continue  # intrinsics (!Ref to a generated secret) and numbers are fine
        if SECRET_NAME.search(key) or SECRET_VALUE.search(value):
            offenders.append(f"{path} = {value[:8]}...")
    assert offenders == [], offenders


def test_the_http_api_throttles_bursts_at_the_edge(expanded: dict[str, Any]) -> None:
    stages = resources_of_type(expanded, "AWS::ApiGatewayV2::Stage").values()
    (stage,) = [s for s in stages if s["Properties"].get("StageName") == "$default"]  # the HTTP API's
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert settings == {"ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
                        "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"}}
    parameters = load_template()["Parameters"]
    assert int(parameters["ApiThrottleBurstLimit"]["Default"]) >= int(parameters["ApiThrottleRateLimit"]["Default"])


def test_snapstart_is_a_parameter_off_by_default_and_every_invoker_targets_the_alias(expanded: dict[str, Any]) -> None:
    # Issue 14: SnapStart bills each active version's snapshot while nothing runs, so it is opt-in
    # (docs/operations.md#snapstart); it applies to published versions only, so every invoker must name the alias.
    template = load_template()
    assert template["Parameters"]["SnapStart"]["Default"] == "off"
    assert set(template["Parameters"]["SnapStart"]["AllowedValues"]) == {"off", "on"}
    assert template["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "on"]}
    lambdas = resources_of_type(expanded, "AWS::Lambda::Function")
    aliases = {props["Properties"]["FunctionName"]["Ref"]: alias_id
               for alias_id, props in resources_of_type(expanded, "AWS::Lambda::Alias").items()}  # fmt: skip
    assert set(aliases) == set(lambdas)
    for name, function in lambdas.items():
        assert function["Properties"]["SnapStart"] == {
            "ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
        }, name
    alias_ids = set(aliases.values())
    invokers = [*resources_of_type(expanded, "AWS::Lambda::EventSourceMapping").values(),
                *resources_of_type(expanded, "AWS::Lambda::Permission").values()]  # fmt: skip
    assert len(invokers) == 6 + 3  # the permissions above and the SQS, SQS and stream mappings
    for invoker in invokers:
        assert invoker["Properties"]["FunctionName"]["Ref"] in alias_ids, invoker
    # The WebSocket integrations name the alias through a !Sub variable, the HTTP API's in the string.
    targets = [integration["Properties"]["IntegrationUri"]["Fn::Sub"][1]["Target"]["Ref"]
               for integration in resources_of_type(expanded, "AWS::ApiGatewayV2::Integration").values()]  # fmt: skip
    (api,) = [a for a in resources_of_type(expanded, "AWS::ApiGatewayV2::Api").values() if "Body" in a["Properties"]]
    for path in api["Properties"]["Body"]["paths"].values():
        uri = path["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        targets += re.findall(r"functions/\$\{(\w+)\}/invocations", uri)
    assert len(targets) == 6 and set(targets) <= alias_ids, targets
