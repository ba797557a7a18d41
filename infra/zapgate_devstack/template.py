"""Read template.yaml: the one place where tables, buckets, queues and function settings are declared.

The local stack and the tests derive every resource and every function's environment
from here, so a table added to the template exists locally without a second copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # a SafeLoader subclass: builds no arbitrary objects


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


# The pseudo parameters a function's environment may name; the region is the emulator's (emulator.REGION).
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "zapgate-local",
}
# An API's invoke URL as a template spells it: https://${Api}.execute-api.${AWS::Region}.amazonaws.com/<stage>
_EXECUTE_API_URL = re.compile(
    r"(?P<scheme>https|wss)://\$\{(?P<api>[A-Za-z0-9]+)\}\.execute-api\.\$\{AWS::Region\}\."
    r"(?:amazonaws\.com|\$\{AWS::URLSuffix\})"
)
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass
class LocalNames:
    """Physical names the local stack gave to the template's resources, plus parameter values."""

    physical: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    # host:port where the local gateway serves every API of the template (run.py sets the bound one):
    # an API's execute-api URL in a !Sub becomes http:// or ws:// on it, the stage path kept.
    gateway_origin: str = "127.0.0.1:8000"

    def resolve(self, value: Any) -> str:
        """Resolve the intrinsics a function's environment uses: !Ref to resources, parameters and
        pseudo parameters, and !Sub over those (an API's invoke URL becomes the local gateway's)."""
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in self.physical:
                return self.physical[ref]
            if ref in self.parameters:
                return self.parameters[ref]
            if ref in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[ref]
            raise KeyError(f"!Ref {ref} has no local value")
        if isinstance(value, dict) and "Fn::Sub" in value:
            return self._sub(value["Fn::Sub"])
        if isinstance(value, dict):
            raise ValueError(f"intrinsic {next(iter(value))} is not resolvable locally")
        return str(value)

    def _sub(self, spec: Any) -> str:
        text, variables = (spec[0], spec[1]) if isinstance(spec, list) else (spec, {})
        local = {name: self.resolve(variable) for name, variable in variables.items()}

        def local_api(match: re.Match[str]) -> str:
            scheme = "http" if match["scheme"] == "https" else "ws"
            return f"{scheme}://{self.gateway_origin}"

        def variable(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("!"):  # ${!Literal} is the literal text ${Literal}
                return "${" + name[1:] + "}"
            if name in local:
                return local[name]
            if "." in name:
                raise ValueError(f"!Sub ${{{name}}} (an attribute) is not resolvable locally")
            return self.resolve({"Ref": name})

        return _SUB_VARIABLE.sub(variable, _EXECUTE_API_URL.sub(local_api, text))


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


def parameter_overrides(text: str, template: dict[str, Any]) -> dict[str, str]:
    """`Name=Value Other="with spaces"`, as `sam deploy --parameter-overrides` takes them, → {name: value}.

    Refused (ValueError) like CloudFormation would: a name the template does not declare, a value
    outside AllowedValues, a Number that is not one or is outside MinValue/MaxValue.
    """
    import shlex

    declared = template.get("Parameters", {})
    try:
        items = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot parse {text!r}: {exc}") from None
    overrides: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise ValueError(f"{item!r} is not Name=Value")
        spec = declared.get(name)
        if spec is None:
            raise ValueError(f"{name} is not a parameter of template.yaml")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise ValueError(f"{name}={value!r} is not one of {allowed}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a number") from None
            if ("MinValue" in spec and number < float(spec["MinValue"])) or (
                "MaxValue" in spec and number > float(spec["MaxValue"])
            ):
                raise ValueError(f"{name}={value} is outside [{spec.get('MinValue')}, {spec.get('MaxValue')}]")
        overrides[name] = value
    return overrides


def function_environment(template: dict[str, Any], logical_id: str, names: LocalNames) -> dict[str, str]:
    """Globals' variables overlaid with the function's own, every intrinsic resolved."""
    global_vars = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    function = template["Resources"][logical_id]["Properties"]
    own_vars = function.get("Environment", {}).get("Variables", {})
    merged = {**global_vars, **own_vars}
    return {key: names.resolve(value) for key, value in merged.items()}


def http_routes(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(path prefix, handler) for every function behind the HTTP API, e.g. ("/v1", "pkg.handler.handler");
    a function with both `/p` and `/p/{proxy+}` is listed once."""
    routes: list[tuple[str, str]] = []
    for path, handler in http_route_paths(template):
        route = (path.split("/{", 1)[0], handler)
        if route not in routes:
            routes.append(route)
    return routes


def http_route_paths(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(route path as declared, handler) for every HttpApi event, e.g. ("/v1/{proxy+}", …), ("/console", …)."""
    routes = []
    for resource in resources_of_type(template, "AWS::Serverless::Function").values():
        props = resource["Properties"]
        for event in props.get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            routes.append((str(event["Properties"]["Path"]), props["Handler"]))
    return routes


@dataclass(frozen=True)
class StreamSource:
    """A function's `Type: DynamoDB` event: the table whose stream invokes it and the mapping's settings."""

    function: str  # logical id
    handler: str
    table: str  # logical id of the table (Stream: !GetAtt <Table>.StreamArn)
    starting_position: str
    batch_size: int
    filters: tuple[dict[str, Any], ...]  # FilterCriteria patterns, parsed; empty = every record
    maximum_retry_attempts: int  # -1 = until the record expires
    on_failure: str | None  # logical id of the OnFailure SQS destination


def stream_sources(template: dict[str, Any]) -> list[StreamSource]:
    import json

    sources = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        for event in props.get("Events", {}).values():
            if event.get("Type") != "DynamoDB":
                continue
            spec = event["Properties"]
            stream = spec["Stream"]
            if not (isinstance(stream, dict) and stream.get("Fn::GetAtt", [None, None])[1:] == ["StreamArn"]):
                raise ValueError(f"{logical_id}: Stream {stream!r} is not resolvable locally (use !GetAtt T.StreamArn)")
            destination = ((spec.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            patterns = (spec.get("FilterCriteria") or {}).get("Filters", [])
            sources.append(
                StreamSource(
                    function=logical_id,
                    handler=props["Handler"],
                    table=str(stream["Fn::GetAtt"][0]),
                    starting_position=str(spec.get("StartingPosition", "LATEST")),
                    batch_size=int(spec.get("BatchSize", 100)),
                    filters=tuple(json.loads(f["Pattern"]) for f in patterns),
                    maximum_retry_attempts=int(spec.get("MaximumRetryAttempts", -1)),
                    on_failure=str(destination["Fn::GetAtt"][0]) if isinstance(destination, dict) else None,
                )
            )
    return sources
