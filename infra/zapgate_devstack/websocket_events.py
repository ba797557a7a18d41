"""The events API Gateway gives a WebSocket route's function (CONNECT, MESSAGE, DISCONNECT), and how it
reads the function's Lambda proxy answer (status and body).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from zapgate_devstack.websocket_api_template import WebSocketApi

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 15) -> str:
    """Connection, request and message ids look like API Gateway's: 15 letters or digits and '='."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length)) + "="


def _request_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@dataclass
class ConnectionInfo:
    """What API Gateway knows about a connection and repeats in every event's requestContext."""

    api: WebSocketApi
    stage: str
    connection_id: str
    connected_at: int  # epoch ms
    domain_name: str
    source_ip: str
    user_agent: str
    last_active_at: int = 0

    def request_context(self, route_key: str, event_type: str, now_ms: int) -> dict[str, Any]:
        request_id = new_id()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _request_time(now_ms),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": self.connected_at,
            "requestTimeEpoch": now_ms,
            "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": self.connection_id,
            "apiId": self.api.api_id,
        }


def _single_and_multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # the last value wins, as in API Gateway's single-value maps
        multi.setdefault(name, []).append(value)
    return single, multi


def connect_event(
    info: ConnectionInfo, headers: Sequence[tuple[str, str]], query_string: str, now_ms: int | None = None
) -> dict[str, Any]:
    """The $connect event: headers and query string of the handshake (both maps omitted when empty)."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    event: dict[str, Any] = {}
    single, multi = _single_and_multi(headers)
    event["headers"], event["multiValueHeaders"] = single, multi
    query = parse_qsl(query_string, keep_blank_values=True)
    if query:
        event["queryStringParameters"], event["multiValueQueryStringParameters"] = _single_and_multi(query)
    event["requestContext"] = info.request_context("$connect", "CONNECT", now_ms)
    event["isBase64Encoded"] = False
    return event


def message_event(info: ConnectionInfo, route_key: str, body: str | bytes, now_ms: int | None = None) -> dict[str, Any]:
    """A MESSAGE event: the frame as `body` (a binary frame base64-encoded, isBase64Encoded true)."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    context = info.request_context(route_key, "MESSAGE", now_ms)
    context["messageId"] = new_id()
    context["identity"] = {"sourceIp": info.source_ip}
    if isinstance(body, bytes):
        return {"requestContext": context, "body": base64.b64encode(body).decode(), "isBase64Encoded": True}
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    info: ConnectionInfo, headers: Sequence[tuple[str, str]], status_code: int, reason: str, now_ms: int | None = None
) -> dict[str, Any]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    context = info.request_context("$disconnect", "DISCONNECT", now_ms)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    single, multi = _single_and_multi(headers)
    return {"headers": single, "multiValueHeaders": multi, "requestContext": context, "isBase64Encoded": False}


def proxy_status(result: Any) -> int:
    """A Lambda proxy answer's status; an answer without one is API Gateway's 502 (a malformed response)."""
    if isinstance(result, dict):
        try:
            return int(result["statusCode"])
        except (KeyError, TypeError, ValueError):
            return 502
    return 502


def proxy_body(result: Any) -> str | bytes | None:
    if not isinstance(result, dict) or result.get("body") in (None, ""):
        return None
    body = result["body"]
    if result.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body if isinstance(body, str) else json.dumps(body)
