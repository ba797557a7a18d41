"""The template's WebSocket APIs: each `AWS::ApiGatewayV2::Api` of ProtocolType WEBSOCKET, its stages,
its routes and the Lambda function behind each, and how a frame picks its route.

Only AWS_PROXY integrations are emulated; a route that targets anything else is a template error here.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zapgate_devstack.template import resources_of_type

_SPECIAL_ROUTES = ("$connect", "$disconnect")


@dataclass(frozen=True)
class LiveRoute:
    key: str  # "$connect", "$disconnect", "$default" or a custom key such as "ping"
    function: str  # logical id of the integrated function
    handler: str  # its Handler, e.g. "pkg.handler.handler"
    two_way: bool  # has a route response: the function's body is sent back to the client
    timeout_s: int = 29  # the function's Timeout (what its context's remaining time counts down from)


@dataclass(frozen=True)
class WebSocketApi:
    logical_id: str
    api_id: str
    stages: tuple[str, ...]
    route_selection_expression: str
    routes: Mapping[str, LiveRoute]

    def select_route(self, body: str | bytes) -> LiveRoute | None:
        """The route a MESSAGE goes to: the selection expression's value if a route has that key, else $default."""
        key = select_route_key(self.route_selection_expression, body, self.routes)
        return self.routes.get(key) if key is not None else None


def referenced_ids(value: Any) -> set[str]:
    """Logical ids an intrinsic names: !Ref X, !GetAtt X.Attr, ${X} / ${X.Attr} in a !Sub, anywhere inside."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner.split(".", 1)[0])  # SAM's !Ref Function.Alias names the function too
            elif key == "Fn::GetAtt":
                parts = inner if isinstance(inner, list) else str(inner).split(".", 1)
                found.add(str(parts[0]))
            elif key == "Fn::Sub":
                text, variables = (inner[0], inner[1]) if isinstance(inner, list) else (inner, {})
                for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    if name not in variables:
                        found.add(name.split(".", 1)[0])
                found |= referenced_ids(variables)
            else:
                found |= referenced_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= referenced_ids(inner)
    return {name for name in found if not name.startswith("AWS::")}


def local_api_id(logical_id: str) -> str:
    """A stable 10-character id in API Gateway's style (lowercase letters and digits)."""
    digest = hashlib.sha256(logical_id.encode()).digest()
    alphabet = string.ascii_lowercase + string.digits
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:10])


def websocket_apis(template: dict[str, Any]) -> list[WebSocketApi]:
    """Every `AWS::ApiGatewayV2::Api` with ProtocolType WEBSOCKET, its stages and its Lambda-proxy routes."""
    functions = {
        **resources_of_type(template, "AWS::Serverless::Function"),
        **resources_of_type(template, "AWS::Lambda::Function"),
    }
    integrations = resources_of_type(template, "AWS::ApiGatewayV2::Integration")
    route_responses = resources_of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()
    apis = []
    for api_id, api in resources_of_type(template, "AWS::ApiGatewayV2::Api").items():
        props = api.get("Properties") or {}
        if props.get("ProtocolType") != "WEBSOCKET":
            continue
        stages = tuple(
            str(stage["Properties"]["StageName"])
            for stage in resources_of_type(template, "AWS::ApiGatewayV2::Stage").values()
            if api_id in referenced_ids(stage["Properties"].get("ApiId"))
        )
        routes: dict[str, LiveRoute] = {}
        for route_id, route in resources_of_type(template, "AWS::ApiGatewayV2::Route").items():
            route_props = route.get("Properties") or {}
            if api_id not in referenced_ids(route_props.get("ApiId")):
                continue
            key = str(route_props["RouteKey"])
            targets = referenced_ids(route_props.get("Target")) & set(integrations)
            if len(targets) != 1:
                raise ValueError(f"route {route_id} ({key}) must target one integration of the template")
            (integration_id,) = targets
            integration = integrations[integration_id].get("Properties") or {}
            if integration.get("IntegrationType") != "AWS_PROXY":
                raise ValueError(f"integration {integration_id}: only AWS_PROXY (Lambda proxy) is emulated locally")
            targets = referenced_ids(integration.get("IntegrationUri")) & set(functions)
            if len(targets) != 1:
                raise ValueError(f"integration {integration_id} must invoke one function of the template")
            (function_id,) = targets
            two_way = any(
                route_id in referenced_ids((response.get("Properties") or {}).get("RouteId"))
                and (response.get("Properties") or {}).get("RouteResponseKey") == "$default"
                for response in route_responses
            )
            function = functions[function_id]["Properties"]
            timeout = function.get("Timeout", template.get("Globals", {}).get("Function", {}).get("Timeout", 3))
            routes[key] = LiveRoute(key, function_id, str(function["Handler"]), two_way, int(timeout))
        apis.append(
            WebSocketApi(
                logical_id=api_id,
                api_id=local_api_id(api_id),
                stages=stages or ("$default",),
                route_selection_expression=str(props.get("RouteSelectionExpression", "$request.body.action")),
                routes=routes,
            )
        )
    return apis


def select_route_key(expression: str, body: str | bytes, routes: Mapping[str, Any]) -> str | None:
    """`$request.body.<path>` evaluated on a JSON body; a value naming a route wins, else `$default` (None: neither)."""
    match = re.fullmatch(r"\$\{?request\.body\.([A-Za-z0-9_.$-]+)\}?", expression.strip())
    if match and isinstance(body, str):
        try:
            value: Any = json.loads(body)
        except ValueError:
            value = None
        for part in match[1].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # the expression's value is compared as text
        if isinstance(value, str) and value in routes and value not in _SPECIAL_ROUTES:
            return value
    return "$default" if "$default" in routes else None
