"""One ASGI app standing in for the HTTP API: each route prefix of template.yaml reaches its function's app.

API Gateway hands the Lambda the full request path (the HttpApi has only the $default
stage, so no stage prefix either), and each FastAPI app declares its routes with their
prefix. So the gateway forwards the ASGI scope untouched instead of using a Starlette
Mount, which would move the prefix into root_path and hide it from the app's router.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from zapgate_devstack.template import (
    LocalNames,
    function_environment,
    http_route_paths,
    load_template,
    resources_of_type,
)


class EnvironmentConflictError(RuntimeError):
    """Two functions need one shared variable to hold different values in the single local process."""


def function_environments(template: dict[str, Any], names: LocalNames) -> dict[str, dict[str, str]]:
    """Every serverless function's resolved environment, by logical id."""
    return {
        logical_id: function_environment(template, logical_id, names)
        for logical_id in resources_of_type(template, "AWS::Serverless::Function")
    }


def shared_environment(environments: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The union of the functions' variables; refuses any variable two functions set differently."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for logical_id, variables in environments.items():
        for key, value in variables.items():
            if key in merged and merged[key] != value:
                raise EnvironmentConflictError(
                    f"{key} is {merged[key]!r} for {owner[key]} but {value!r} for {logical_id}; "
                    "the local stack runs every function in one process and cannot give it both"
                )
            merged[key] = value
            owner.setdefault(key, logical_id)
    return merged


def import_route(prefix: str, handler: str, exact: bool = False) -> Route:
    """`pkg.handler.handler` names the Mangum object; the ASGI app lives beside it as `app`."""
    module_name, handler_name = handler.rsplit(".", 1)
    module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if app is None:
        raise RuntimeError(f"{module_name} (handler {handler}) exposes no `app` for the local gateway")
    lifespan_mode = getattr(getattr(module, handler_name, None), "lifespan", "auto")
    return Route(prefix, app, lifespan=lifespan_mode != "off", exact=exact)


@dataclass(frozen=True)
class Route:
    prefix: str
    app: ASGIApp
    # Mirrors the handler's Mangum(lifespan=...): with "off" the app's startup never runs in Lambda,
    # so running it here would hide a dependency on it.
    lifespan: bool = True
    # A route path without `{proxy+}` (e.g. `/console`): API Gateway sends it that path, with or without a
    # trailing slash, and nothing below it.
    exact: bool = False


class Gateway:
    """Routes by path prefix like the HttpApi's `/prefix/{proxy+}` routes; anything else is a JSON 404."""

    def __init__(self, routes: Sequence[Route]) -> None:
        # Longest prefix first, so a nested prefix would win over its parent as in API Gateway.
        self.routes = sorted(routes, key=lambda route: -len(route.prefix.rstrip("/")))

    def match(self, path: str) -> ASGIApp | None:
        for route in self.routes:
            prefix = route.prefix.rstrip("/")
            if route.exact:
                if path in (prefix, prefix + "/"):
                    return route.app
            # {proxy+} is greedy but needs at least one character after the slash.
            elif path.startswith(prefix + "/") and len(path) > len(prefix) + 1:
                return route.app
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        app = self.match(scope["path"])
        if app is not None:
            await app(scope, receive, send)
        elif scope["type"] == "http":
            body = {"error": {"code": "not_found", "message": f"no route for {scope['path']}"}}
            await JSONResponse(body, status_code=404)(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run each app's own startup/shutdown once for the whole process (Mangum runs it per invocation)."""
        await receive()  # lifespan.startup
        stack = AsyncExitStack()
        try:
            for route in self.routes:
                context = getattr(getattr(route.app, "router", None), "lifespan_context", None)
                if route.lifespan and context is not None:
                    state = await stack.enter_async_context(context(route.app))
                    if state:
                        scope.setdefault("state", {}).update(state)
        except Exception as exc:
            await stack.aclose()
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await stack.aclose()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


def build_gateway(names: LocalNames, template: dict[str, Any] | None = None) -> Gateway:
    """Put the functions' settings in os.environ, import each HTTP API handler and route to its app.

    Must run after the AWS endpoint variables are set: handler modules may build their
    settings and boto3 clients at import time, as they do in Lambda.
    """
    template = template if template is not None else load_template()
    os.environ.update(shared_environment(function_environments(template, names)))
    routes = []
    for path, handler in http_route_paths(template):
        exact = "{" not in path
        routes.append(import_route(path if exact else path.split("/{", 1)[0], handler, exact=exact))
    return Gateway(routes)
