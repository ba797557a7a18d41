"""API Gateway's WebSocket API, locally: the template's WEBSOCKET Api served by the gateway's uvicorn.

What AWS does for a WebSocket API whose routes are AWS_PROXY integrations with a Lambda function:

- a client opens `wss://<api>.execute-api.<region>.amazonaws.com/<stage>`; here `ws://<gateway>/<stage>`.
  API Gateway gives the connection an id and invokes the `$connect` route with a CONNECT event
  (headers, query string); a 2xx `statusCode` completes the handshake, anything else refuses it
  with that status.
- each frame the client sends is routed by the Api's RouteSelectionExpression (`$request.body.action`)
  to the route of that key, else to `$default`, and the function gets a MESSAGE event. The function's
  `body` goes back to the client only when the route has a route response (two-way communication);
  a function that fails answers `{"message": "Internal server error", ...}`.
- when either side closes, `$disconnect` gets a DISCONNECT event (best effort, as in AWS).
- the management API, `POST/GET/DELETE <invoke URL>/@connections/{connectionId}` (boto3's
  `apigatewaymanagementapi`), pushes data to a connection, describes it, or closes it; an unknown or
  closed connection is `410 GoneException`.

The routes, their integrations and the functions' handlers are read from template.yaml
(websocket_api_template.py), the events are built as API Gateway builds them (websocket_events.py); the
handlers are plain Lambda handlers, run in a worker thread with a Lambda-like context as Lambda would run them.

Local only: `POST /_local/websocket-apis/{stage}/stop` takes a stage down as an outage would (every
connection closed with 1001, new handshakes refused with 503) and `.../start` brings it back, so tests
can cut the sidecars' push channel and watch them fall back to polling.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from zapgate_devstack.emulator import REGION
from zapgate_devstack.events_worker import LambdaContext
from zapgate_devstack.template import load_template
from zapgate_devstack.websocket_api_template import LiveRoute, WebSocketApi, websocket_apis
from zapgate_devstack.websocket_events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
    new_id,
    proxy_body,
    proxy_status,
)

Handler = Callable[[dict[str, Any], Any], Any]
ACCOUNT_ID = "123456789012"
MAX_PAYLOAD_BYTES = 128 * 1024  # PostToConnection's Data, and a client's message, are capped at 128 KiB


@dataclass
class LiveConnection:
    info: ConnectionInfo
    headers: list[tuple[str, str]]
    send: Send
    loop: asyncio.AbstractEventLoop
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    async def _deliver(self, message: dict[str, Any]) -> None:
        async with self.lock:
            if self.closed:
                raise ConnectionError("closed")
            await self.send(message)
            if message["type"] == "websocket.close":
                self.closed = True

    async def deliver(self, message: dict[str, Any]) -> None:
        """Send on the connection's own event loop (a test client may call the management API from another)."""
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._deliver(message), self.loop))


def import_handler(name: str) -> Handler:
    module_name, attr = name.rsplit(".", 1)
    handler: Handler = getattr(importlib.import_module(module_name), attr)
    return handler


Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def _json_response(status: int, body: Any, error_type: str | None = None) -> Response:
    headers = [(b"content-type", b"application/json"), (b"x-amzn-requestid", str(uuid.uuid4()).encode())]
    if error_type:
        headers.append((b"x-amzn-errortype", error_type.encode()))
    return status, headers, b"" if body is None else json.dumps(body).encode()


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LiveGateway:
    """Serves the WebSocket APIs (`/<stage>`) and their management API (`[/<stage>]/@connections/{id}`);
    every other request goes to `app` (the HTTP API gateway)."""

    def __init__(
        self,
        app: ASGIApp,
        apis: Sequence[WebSocketApi],
        load_handler: Callable[[str], Handler] = import_handler,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.apis = list(apis)
        # Imported now, after the functions' environment is in place, as the HTTP API's apps are.
        self.handlers = {route.handler: load_handler(route.handler) for api in apis for route in api.routes.values()}
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.connections: dict[str, LiveConnection] = {}
        self._connections_lock = threading.Lock()
        stages = {stage for api in apis for stage in api.stages if stage != "$default"}
        stage_prefix = "(?:/(?:" + "|".join(re.escape(stage) for stage in sorted(stages)) + "))?" if stages else ""
        self._management = re.compile(rf"^{stage_prefix}/@connections/([^/]+)$")
        self._local_control = re.compile(r"^/_local/websocket-apis/([^/]+)/(stop|start)$")
        self.stopped_stages: set[str] = set()

    def websocket_api_for(self, path: str) -> tuple[WebSocketApi, str] | None:
        for api in self.apis:
            for stage in api.stages:
                if path.rstrip("/") == ("" if stage == "$default" else f"/{stage}"):
                    return api, stage
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            found = self.websocket_api_for(scope["path"])
            if found is not None:
                await self._websocket(found[0], found[1], scope, receive, send)
                return
        elif scope["type"] == "http":
            match = self._management.match(scope["path"])
            if match is not None:
                await self._management_api(match[1], scope, receive, send)
                return
            control = self._local_control.match(scope["path"])
            if control is not None and scope["method"] == "POST":
                await self._stage_control(control[1], control[2], send)
                return
        await self.app(scope, receive, send)

    # ------------------------------------------------------------ invoking the functions
    def _call(self, route: LiveRoute, event: dict[str, Any]) -> tuple[Any, bool]:
        """One invocation, in a worker thread: (the handler's answer, True), or (None, False) if it raised."""
        context = LambdaContext(
            function_name=f"{route.function}-local",
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{route.function}-local",
            timeout_ms=route.timeout_s * 1000,
        )
        try:
            return self.handlers[route.handler](event, context), True
        except Exception:
            self.log(f"{route.function} ({route.key}) raised:\n{traceback.format_exc().rstrip()}")
            return None, False

    async def _invoke_logged(self, route: LiveRoute, event: dict[str, Any]) -> tuple[Any, bool]:
        # Submitted at once and shielded: an invocation, once made, runs to its end as in Lambda, even when
        # the socket's task is cancelled meanwhile (a $disconnect while the server shuts down).
        future = asyncio.get_running_loop().run_in_executor(None, self._call, route, event)
        return await asyncio.shield(future)

    # ------------------------------------------------------------ the WebSocket side
    async def _websocket(self, api: WebSocketApi, stage: str, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if stage in self.stopped_stages:
            await self._refuse(scope, send, 503)
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", [])]
        header_map = {name.lower(): value for name, value in headers}
        now_ms = int(time.time() * 1000)
        info = ConnectionInfo(
            api=api,
            stage=stage,
            connection_id=new_id(),
            connected_at=now_ms,
            domain_name=header_map.get("host", ""),
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            user_agent=header_map.get("user-agent", ""),
            last_active_at=now_ms,
        )
        connect = api.routes.get("$connect")
        result: Any = {"statusCode": 200}
        if connect is not None:
            result, ok = await self._invoke_logged(connect, connect_event(info, headers, _query(scope), now_ms))
            if not ok:
                result = {"statusCode": 500}
        status = proxy_status(result)
        if not 200 <= status < 300:
            await self._refuse(scope, send, status)
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        answer_headers = {str(k).lower(): str(v) for k, v in ((result.get("headers") or {}).items())}
        if "sec-websocket-protocol" in answer_headers:
            accept["subprotocol"] = answer_headers["sec-websocket-protocol"]
        await send(accept)
        connection = LiveConnection(info, headers, send, asyncio.get_running_loop())
        with self._connections_lock:
            self.connections[info.connection_id] = connection
        code, reason = 1006, "Connection closed abnormally"
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    reason = message.get("reason") or ("Client-side close frame status not set" if code == 1005 else "")
                    break
                if message["type"] == "websocket.receive":
                    data = message.get("text")
                    await self._message(connection, data if data is not None else message.get("bytes") or b"")
        finally:
            with self._connections_lock:
                self.connections.pop(info.connection_id, None)
            connection.closed = True
            disconnect = api.routes.get("$disconnect")
            if disconnect is not None:
                await self._invoke_logged(disconnect, disconnect_event(info, headers, code, reason))

    async def _refuse(self, scope: Scope, send: Send, status: int) -> None:
        if "websocket.http.response" in scope.get("extensions", {}):
            status, headers, body = _json_response(status, {"message": _reason(status)})
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server cannot answer with a status: a plain refusal (403)
            await send({"type": "websocket.close", "code": 1008})

    async def _message(self, connection: LiveConnection, data: str | bytes) -> None:
        info = connection.info
        info.last_active_at = int(time.time() * 1000)
        size = len(data.encode() if isinstance(data, str) else data)
        route = info.api.select_route(data) if size <= MAX_PAYLOAD_BYTES else None
        request_id = new_id()
        if route is None:
            reply: str | bytes | None = json.dumps(
                {"message": "Forbidden", "connectionId": info.connection_id, "requestId": request_id}
            )
        else:
            result, ok = await self._invoke_logged(route, message_event(info, route.key, data))
            if not ok or not isinstance(result, dict):
                reply = json.dumps(
                    {"message": "Internal server error", "connectionId": info.connection_id, "requestId": request_id}
                )
            else:
                reply = proxy_body(result) if route.two_way else None
        if reply is not None:
            kind = "text" if isinstance(reply, str) else "bytes"
            try:
                await connection.deliver({"type": "websocket.send", kind: reply})
            except Exception:  # the client went away while the function ran
                return

    # ------------------------------------------------------------ local control: an outage on demand
    async def _stage_control(self, stage: str, action: str, send: Send) -> None:
        known = {s for api in self.apis for s in api.stages}
        if stage not in known:
            status, headers, body = _json_response(404, {"message": f"no WebSocket stage {stage!r}"})
        else:
            closed = 0
            if action == "stop":
                self.stopped_stages.add(stage)
                with self._connections_lock:
                    victims = [c for c in self.connections.values() if c.info.stage == stage]
                for connection in victims:
                    try:
                        await connection.deliver({"type": "websocket.close", "code": 1001, "reason": "Going away"})
                        closed += 1
                    except Exception:  # already closing
                        pass
            else:
                self.stopped_stages.discard(stage)
            self.log(f"local WebSocket stage /{stage}: {action} ({closed} connections closed)")
            status, headers, body = _json_response(200, {"stage": stage, "state": "stopped" if action == "stop"
                                                         else "started", "closed": closed})
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------ the management API
    async def _management_api(self, connection_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._connections_lock:
            connection = self.connections.get(connection_id)
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE"):
            response = _json_response(403, {"message": "Forbidden"}, "ForbiddenException")
        elif connection is None or connection.closed:
            response = _json_response(410, {}, "GoneException")
        elif method == "GET":
            info = connection.info
            response = _json_response(200, {
                "connectedAt": _iso(info.connected_at),
                "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent},
                "lastActiveAt": _iso(info.last_active_at),
            })  # fmt: skip
        elif method == "POST" and len(body) > MAX_PAYLOAD_BYTES:
            response = _json_response(413, {"message": "Message too long"}, "PayloadTooLargeException")
        else:
            try:
                if method == "POST":
                    try:
                        frame: dict[str, Any] = {"type": "websocket.send", "text": body.decode("utf-8")}
                    except UnicodeDecodeError:
                        frame = {"type": "websocket.send", "bytes": body}
                    await connection.deliver(frame)
                    connection.info.last_active_at = int(time.time() * 1000)
                    response = _json_response(200, None)
                else:
                    await connection.deliver({"type": "websocket.close", "code": 1000, "reason": "Going away"})
                    response = _json_response(204, None)
            except Exception:  # closed between the lookup and the send
                response = _json_response(410, {}, "GoneException")
        status, headers, payload = response
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _query(scope: Scope) -> str:
    raw = scope.get("query_string", b"")
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)


def _reason(status: int) -> str:
    return {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            503: "Service Unavailable"}.get(
        status, "Internal server error" if status >= 500 else "Forbidden"
    )


class _DenialIsAHandshake(logging.Filter):
    """uvicorn's websockets-sansio protocol logs "ASGI callable returned without completing handshake." at
    ERROR after every denial response (the refused $connect) although the client got it: Kludex/uvicorn#3138."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def with_websocket_apis(app: ASGIApp, template: dict[str, Any] | None = None) -> ASGIApp:
    """`app` plus the template's WebSocket APIs (unchanged when the template declares none).

    Call after build_gateway: the handlers are imported here and need the functions' environment.
    """
    apis = websocket_apis(template if template is not None else load_template())
    if not apis:
        return app
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DenialIsAHandshake) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_DenialIsAHandshake())
    return LiveGateway(app, apis)


def live_urls(origin: str, template: dict[str, Any] | None = None) -> list[str]:
    """ws:// URLs of the template's WebSocket API stages on the local gateway (for the banner)."""
    apis = websocket_apis(template if template is not None else load_template())
    return [f"ws://{origin}" + ("" if stage == "$default" else f"/{stage}") for api in apis for stage in api.stages]
