"""Lambda entry point named in template.yaml: the sidecars' push channel (SidecarPushApi) routes.

Thin: reads the route, the connection id and the handshake's headers, calls
zapgate_control.services.sidecar_push and answers {"statusCode"}. For $connect a non-200 makes API
Gateway refuse the handshake. $default is the sidecars' keepalive: nothing is read or written (the
route has no route response, so nothing goes back either). Logs carry the route and status, never
headers (the worker secret).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from zapgate_control.adapters.dynamodb.fleet import DynamoFleetStore
from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore
from zapgate_control.adapters.live_push import ApiGatewayLivePusher
from zapgate_control.observability import flush_metrics, logger
from zapgate_control.services import sidecar_push
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_control.settings import get_settings

ROUTES = {"CONNECT": "$connect", "DISCONNECT": "$disconnect", "MESSAGE": "$default"}


@cache
def deps() -> sidecar_push.PushDeps:
    """Built once per container (boto3 clients are reused across invocations)."""
    settings = get_settings()
    connections = DynamoPushConnectionStore(settings.fleet_table)
    endpoint = settings.sidecar_push_endpoint_url
    waker = SidecarWaker(connections, ApiGatewayLivePusher(endpoint)) if endpoint else None
    return sidecar_push.PushDeps(connections=connections, waker=waker, fleet=DynamoFleetStore(settings.fleet_table))


def route(event: dict[str, Any]) -> int:
    context = event.get("requestContext") or {}
    connection_id = str(context.get("connectionId") or "")
    key = context.get("routeKey") or ROUTES.get(str(context.get("eventType")), "$default")
    if not connection_id:
        return 400
    if key == "$connect":
        return sidecar_push.connect(deps(), connection_id, event.get("headers") or {}, int(time.time() * 1000))
    if key == "$disconnect":
        return sidecar_push.disconnect(deps(), connection_id)
    return 200  # a keepalive


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    logger.set_correlation_id(request.get("requestId"))
    try:
        status = route(event)
    except Exception:
        logger.exception("sidecar push route failed", extra={"route": request.get("routeKey")})
        status = 500
    finally:
        flush_metrics()
    log = logger.debug if status < 400 else logger.info
    log("sidecar push request", extra={"route": request.get("routeKey"), "status": status})
    return {"statusCode": status}
