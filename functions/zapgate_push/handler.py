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

from zapgate_control.observability import flush_metrics, logger
from zapgate_control.services import sidecar_push
from zapgate_control.snapstart import install_hooks
from zapgate_control.wiring import get_stores

ROUTES = {"CONNECT": "$connect", "DISCONNECT": "$disconnect", "MESSAGE": "$default"}


@cache
def deps() -> sidecar_push.PushDeps:
    """Once per container, from the adapters wiring builds (boto3 clients are reused across invocations)."""
    stores = get_stores()
    return sidecar_push.PushDeps(
        connections=stores.push_connections, waker=stores.sidecar_waker, presence=stores.sidecar_presence
    )


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


# SnapStart (zapgate_control/snapstart.py): the clients $connect uses, in the snapshot, made anew after a restore.
install_hooks(prime=deps, resets=(deps,), clients=("dynamodb", "secretsmanager", "apigatewaymanagementapi"))
