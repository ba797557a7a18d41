"""The local WebSocket API (zapgate_devstack.live_gateway, websocket_api_template, websocket_events): template
parsing, events, routing, management API.

The function behind the routes is a fake Lambda handler here; tests/e2e/test_live_updates.py runs
the real one through `make run`'s processes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient, WebSocketDenialResponse

from zapgate_devstack import emulator
from zapgate_devstack.emulator import REGION
from zapgate_devstack.live_gateway import LiveGateway
from zapgate_devstack.template import (
    PSEUDO_PARAMETERS,
    LocalNames,
    load_template,
    parameter_defaults,
    resources_of_type,
)
from zapgate_devstack.websocket_api_template import local_api_id, referenced_ids, select_route_key, websocket_apis
from zapgate_devstack.websocket_events import ConnectionInfo, connect_event, disconnect_event, message_event, new_id

HANDLER = "fake_live.handler.handler"


def _route(key: str, integration: str = "LiveIntegration") -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": {"Ref": "LiveApi"},
            "RouteKey": key,
            "Target": {"Fn::Sub": f"integrations/${{{integration}}}"},
        },
    }


def _template() -> dict[str, Any]:
    """A WebSocket API as template.yaml spells one: routes → an AWS_PROXY integration → a function."""
    return {
        "Resources": {
            "LiveApi": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"},
            },
            "HttpApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
            "LiveStage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "LiveApi"}, "StageName": "live"},
            },
            "LiveIntegration": {
                "Type": "AWS::ApiGatewayV2::Integration",
                "Properties": {
                    "ApiId": {"Ref": "LiveApi"},
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": {
                        "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                        "${LiveFunction.Arn}/invocations"
                    },
                },
            },
            "LiveFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": HANDLER}},
            "ConnectRoute": _route("$connect"),
            "DisconnectRoute": _route("$disconnect"),
            "DefaultRoute": _route("$default"),
            "PingRoute": {
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {
                    "ApiId": {"Ref": "LiveApi"},
                    "RouteKey": "ping",
                    "Target": {"Fn::Join": ["/", ["integrations", {"Ref": "LiveIntegration"}]]},
                },
            },
            "DefaultRouteResponse": {
                "Type": "AWS::ApiGatewayV2::RouteResponse",
                "Properties": {
                    "ApiId": {"Ref": "LiveApi"},
                    "RouteId": {"Ref": "DefaultRoute"},
                    "RouteResponseKey": "$default",
                },
            },
        }
    }


class FakeFunction:
    """A Lambda handler: records every event; refuses $connect without the ticket 'good'."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.done = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        request = event["requestContext"]
        if request["eventType"] == "CONNECT":
            ticket = (event.get("queryStringParameters") or {}).get("ticket")
            return {"statusCode": 200 if ticket == "good" else 401}
        if request["eventType"] == "DISCONNECT":
            self.done.set()
            return {"statusCode": 200}
        body = json.loads(event["body"]) if event["body"].startswith("{") else {}
        if body.get("action") == "boom":
            raise RuntimeError("boom")
        if body.get("action") == "ping":
            return {"statusCode": 200, "body": json.dumps({"type": "pong"})}
        return {"statusCode": 200, "body": json.dumps({"type": "echo", "route": request["routeKey"]})}


@pytest.fixture
def fake() -> FakeFunction:
    return FakeFunction()


@pytest.fixture
def gateway(fake: FakeFunction) -> LiveGateway:
    inner = Starlette(routes=[Route("/v1/instances", lambda request: PlainTextResponse("the HTTP API"))])
    lines: list[str] = []
    live = LiveGateway(inner, websocket_apis(_template()), load_handler=lambda name: fake, log=lines.append)
    live.log_lines = lines  # type: ignore[attr-defined]
    return live


@pytest.fixture
def client(gateway: LiveGateway) -> Iterator[TestClient]:
    with TestClient(gateway, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


# ------------------------------------------------------------------ the template


def test_routes_integrations_and_handlers_come_from_the_template() -> None:
    (api,) = websocket_apis(_template())
    assert api.logical_id == "LiveApi" and api.stages == ("live",)
    assert api.api_id == local_api_id("LiveApi") and len(api.api_id) == 10 and api.api_id.isalnum()
    assert set(api.routes) == {"$connect", "$disconnect", "$default", "ping"}
    assert {route.handler for route in api.routes.values()} == {HANDLER}
    assert {route.function for route in api.routes.values()} == {"LiveFunction"}
    # Only a route with a route response sends the function's body back (two-way communication).
    assert [key for key, route in api.routes.items() if route.two_way] == ["$default"]


def test_an_http_api_or_a_template_without_websocket_apis_gives_none() -> None:
    template = _template()
    template["Resources"]["LiveApi"]["Properties"]["ProtocolType"] = "HTTP"
    assert websocket_apis(template) == []
    assert websocket_apis({"Resources": {}}) == []


def test_integrations_other_than_lambda_proxy_are_refused() -> None:
    template = _template()
    template["Resources"]["LiveIntegration"]["Properties"]["IntegrationType"] = "MOCK"
    with pytest.raises(ValueError, match="AWS_PROXY"):
        websocket_apis(template)


def test_referenced_ids_reads_every_intrinsic_form() -> None:
    assert referenced_ids({"Ref": "A"}) == {"A"}
    assert referenced_ids({"Fn::GetAtt": ["B", "Arn"]}) == {"B"}
    assert referenced_ids({"Fn::Sub": "x/${C.Arn}/${D}/${AWS::Region}/${!Literal}"}) == {"C", "D"}
    assert referenced_ids({"Fn::Sub": ["${E}/${v}", {"v": {"Ref": "F"}}]}) == {"E", "F"}
    assert referenced_ids({"Fn::Join": ["/", ["integrations", {"Ref": "G"}]]}) == {"G"}
    assert referenced_ids("plain") == set()


def test_the_real_template_websocket_api_when_declared() -> None:
    template = load_template()
    apis = websocket_apis(template)
    if not apis:
        pytest.skip("template.yaml declares no WebSocket API yet")
    by_id = {api.logical_id: api for api in apis}
    assert set(by_id) == {"LiveApi", "SidecarPushApi"}
    functions = resources_of_type(template, "AWS::Serverless::Function")
    for api in apis:
        assert {"$connect", "$disconnect", "$default"} <= set(api.routes)
        for route in api.routes.values():
            assert functions[route.function]["Properties"]["Handler"] == route.handler
    live, push = by_id["LiveApi"], by_id["SidecarPushApi"]
    assert live.routes["$default"].two_way, "$default needs a RouteResponse, or API Gateway sends no reply"
    # A sidecar's keepalive is one billed message: no route response sends anything back.
    assert not push.routes["$default"].two_way
    assert live.stages == ("live",) and push.stages == ("sidecars",)


# ------------------------------------------------------------------ LocalNames: !Sub and invoke URLs


def test_execute_api_urls_in_a_sub_become_the_local_gateway() -> None:
    names = LocalNames(physical={"Table": "local-table"}, gateway_origin="127.0.0.1:8123")
    https = {"Fn::Sub": "https://${LiveApi}.execute-api.${AWS::Region}.amazonaws.com/live"}
    wss = {"Fn::Sub": "wss://${LiveApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/live"}
    assert names.resolve(https) == "http://127.0.0.1:8123/live"
    assert names.resolve(wss) == "ws://127.0.0.1:8123/live"
    assert names.resolve({"Fn::Sub": "${Table}@${AWS::Region}/${!Literal}"}) == f"local-table@{REGION}/${{Literal}}"
    assert names.resolve({"Fn::Sub": ["${a}-${Table}", {"a": {"Ref": "AWS::AccountId"}}]}) == "123456789012-local-table"
    assert PSEUDO_PARAMETERS["AWS::Region"] == REGION
    with pytest.raises(KeyError, match="Missing"):
        names.resolve({"Fn::Sub": "${Missing}"})
    with pytest.raises(ValueError, match="attribute"):
        names.resolve({"Fn::Sub": "${Table.Arn}"})


def test_the_real_template_live_variables_point_at_the_local_gateway() -> None:
    from zapgate_devstack.gateway import function_environments, shared_environment

    template = load_template()
    if not websocket_apis(template):
        pytest.skip("template.yaml declares no WebSocket API yet")
    physical = {logical_id: f"local-{logical_id}" for logical_id in template["Resources"]}
    parameters = {**parameter_defaults(template), **getattr(emulator, "LOCAL_PARAMETERS", {})}
    names = LocalNames(physical=physical, parameters=parameters, gateway_origin="127.0.0.1:9999")
    env = shared_environment(function_environments(template, names))
    assert env["LIVE_ENDPOINT_URL"].startswith("http://127.0.0.1:9999")
    assert env["LIVE_URL"].startswith("ws://127.0.0.1:9999/")


# ------------------------------------------------------------------ events and route selection


def _info() -> ConnectionInfo:
    (api,) = websocket_apis(_template())
    return ConnectionInfo(api, "live", "AbCdEfGhIjKlMnO=", 1_700_000_000_000, "127.0.0.1:8000", "10.0.0.1", "ua/1")


def test_route_selection_follows_the_expression_else_default() -> None:
    routes = {"$connect": 1, "$disconnect": 1, "$default": 1, "ping": 1, "7": 1}
    expression = "$request.body.action"
    assert select_route_key(expression, '{"action": "ping"}', routes) == "ping"
    assert select_route_key(expression, '{"action": "subscribe"}', routes) == "$default"
    assert select_route_key(expression, '{"action": 7}', routes) == "7"  # compared as text
    assert select_route_key(expression, "not json", routes) == "$default"
    assert select_route_key(expression, b"\x00binary", routes) == "$default"
    assert select_route_key(expression, '{"action": "$connect"}', routes) == "$default"  # never selectable
    assert select_route_key("$request.body.meta.kind", '{"meta": {"kind": "ping"}}', routes) == "ping"
    assert select_route_key(expression, '{"action": "other"}', {"ping": 1}) is None  # no $default: Forbidden


def test_connect_event_has_the_handshake_headers_and_query() -> None:
    headers = [("host", "127.0.0.1:8000"), ("x-api-key", "k"), ("x-multi", "a"), ("x-multi", "b")]
    event = connect_event(_info(), headers, "ticket=t1&instanceId=i-1&instanceId=i-2", now_ms=1_700_000_001_000)
    assert event["queryStringParameters"] == {"ticket": "t1", "instanceId": "i-2"}
    assert event["multiValueQueryStringParameters"] == {"ticket": ["t1"], "instanceId": ["i-1", "i-2"]}
    assert event["headers"]["x-api-key"] == "k" and event["multiValueHeaders"]["x-multi"] == ["a", "b"]
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert {k: context[k] for k in ("routeKey", "eventType", "messageDirection", "stage", "connectionId")} == {
        "routeKey": "$connect", "eventType": "CONNECT", "messageDirection": "IN", "stage": "live",
        "connectionId": "AbCdEfGhIjKlMnO=",
    }  # fmt: skip
    assert context["connectedAt"] == 1_700_000_000_000 and context["requestTimeEpoch"] == 1_700_000_001_000
    assert context["requestTime"] == "14/Nov/2023:22:13:21 +0000"
    assert context["domainName"] == "127.0.0.1:8000" and context["apiId"] == local_api_id("LiveApi")
    assert context["identity"] == {"sourceIp": "10.0.0.1", "userAgent": "ua/1"} and context["requestId"]
    assert "queryStringParameters" not in connect_event(_info(), headers, "")  # none given: no map


def test_message_and_disconnect_events() -> None:
    event = message_event(_info(), "ping", '{"action":"ping"}')
    assert event["body"] == '{"action":"ping"}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["eventType"] == "MESSAGE" and event["requestContext"]["routeKey"] == "ping"
    assert event["requestContext"]["messageId"] and "headers" not in event
    assert message_event(_info(), "$default", b"\x01\x02")["body"] == "AQI="
    gone = disconnect_event(_info(), [("host", "h")], 1001, "Going away")
    assert gone["requestContext"]["eventType"] == "DISCONNECT" and gone["requestContext"]["routeKey"] == "$disconnect"
    assert (gone["requestContext"]["disconnectStatusCode"], gone["requestContext"]["disconnectReason"]) == (
        1001, "Going away",
    )  # fmt: skip


def test_ids_look_like_api_gateways() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and i.endswith("=") and i[:-1].isalnum() for i in ids)


# ------------------------------------------------------------------ the WebSocket side, end to end in-process


def test_connect_message_routes_and_disconnect(client: TestClient, fake: FakeFunction, gateway: LiveGateway) -> None:
    with client.websocket_connect("/live?ticket=good", headers={"X-API-Key": "k"}) as ws:
        (connection_id,) = gateway.connections
        ws.send_text('{"action": "subscribe"}')  # $default: two-way, the body comes back
        assert json.loads(ws.receive_text()) == {"type": "echo", "route": "$default"}
        ws.send_text('{"action": "ping"}')  # the ping route has no route response: nothing comes back...
        ws.send_text('{"action": "boom"}')  # ...and a failing function answers with API Gateway's error
        error = json.loads(ws.receive_text())
        assert error["message"] == "Internal server error" and error["connectionId"] == connection_id
        ws.close(1000)
        assert fake.done.wait(10)
    kinds = [(e["requestContext"]["eventType"], e["requestContext"]["routeKey"]) for e in fake.events]
    assert kinds == [
        ("CONNECT", "$connect"), ("MESSAGE", "$default"), ("MESSAGE", "ping"), ("MESSAGE", "$default"),
        ("DISCONNECT", "$disconnect"),
    ]  # fmt: skip
    assert {e["requestContext"]["connectionId"] for e in fake.events} == {connection_id}
    assert fake.events[0]["headers"]["x-api-key"] == "k"
    assert fake.events[-1]["requestContext"]["disconnectStatusCode"] == 1000
    assert fake.contexts[0].function_name == "LiveFunction-local" and fake.contexts[0].get_remaining_time_in_millis()
    assert gateway.connections == {}
    assert any("RuntimeError: boom" in line for line in gateway.log_lines)  # type: ignore[attr-defined]


def test_a_refused_connect_refuses_the_handshake_with_its_status(
    client: TestClient, fake: FakeFunction, gateway: LiveGateway
) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/live?ticket=bad"):
        pass
    assert refused.value.status_code == 401
    assert gateway.connections == {}
    assert [e["requestContext"]["eventType"] for e in fake.events] == ["CONNECT"]  # no $disconnect for a refusal


def test_other_paths_reach_the_http_api(client: TestClient) -> None:
    assert client.get("/v1/instances").text == "the HTTP API"


# ------------------------------------------------------------------ the management API, through botocore


def _management_client(test_client: TestClient, endpoint: str = "http://127.0.0.1:8000/live") -> Any:
    """boto3's apigatewaymanagementapi client, its HTTP requests answered by the in-process gateway."""
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip

    class Raw:
        def __init__(self, content: bytes) -> None:
            self.content = content

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.content

    def send(request: Any, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes | type(None)) else request.body.read()
        answer = test_client.request(request.method, request.url, content=body, headers=dict(request.headers))
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), Raw(answer.content))

    client.meta.events.register("before-send.apigatewaymanagementapi", send)
    return client


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8000/live", "http://127.0.0.1:8000"])
def test_post_get_and_delete_a_connection(client: TestClient, gateway: LiveGateway, endpoint: str) -> None:
    management = _management_client(client, endpoint)
    with client.websocket_connect("/live?ticket=good") as ws:
        (connection_id,) = gateway.connections
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "INSTANCE_STATUS"}')
        assert ws.receive_text() == '{"type": "INSTANCE_STATUS"}'
        management.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert ws.receive_bytes() == b"\xff\x00"
        described = management.get_connection(ConnectionId=connection_id)
        assert described["Identity"]["SourceIp"] and described["ConnectedAt"] <= described["LastActiveAt"]
        management.delete_connection(ConnectionId=connection_id)
        assert ws.receive()["type"] == "websocket.close"
    assert gateway.connections == {}
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_unknown_connections_are_gone_and_oversize_data_is_refused(client: TestClient, gateway: LiveGateway) -> None:
    management = _management_client(client)
    for call in (management.post_to_connection, management.get_connection, management.delete_connection):
        kwargs: dict[str, Any] = {"ConnectionId": "NoSuchConnect1="}
        if call == management.post_to_connection:
            kwargs["Data"] = b"x"
        with pytest.raises(management.exceptions.GoneException) as gone:
            call(**kwargs)
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with client.websocket_connect("/live?ticket=good"):
        (connection_id,) = gateway.connections
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
