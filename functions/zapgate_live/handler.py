"""Lambda entry point named in template.yaml: API Gateway WebSocket routes $connect, $disconnect, $default.

Thin: reads the route, the connection id, headers, query and body from the event, calls
zapgate_control.services.live and answers {"statusCode", "body"}. For $connect a non-200 makes API
Gateway refuse the handshake; for $default the body goes back to the client (the route has a
route response). Logs carry the route and status, never the query (tickets) nor headers (keys).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from zapgate_control.observability import flush_metrics, logger
from zapgate_control.services import live
from zapgate_control.snapstart import install_hooks
from zapgate_control.wiring import get_stores
from zapgate_core.domain.live import error_message

ROUTES = {"CONNECT": "$connect", "DISCONNECT": "$disconnect", "MESSAGE": "$default"}


@cache
def deps() -> live.LiveDeps:
    """Once per container, from the adapters wiring builds (boto3 clients are reused across invocations)."""
    stores = get_stores()
    return live.LiveDeps(connections=stores.live_connections, instances=stores.instances, api_keys=stores.api_keys)


def _query(event: dict[str, Any]) -> dict[str, list[str]]:
    """Every value of every query parameter (`instanceId` may repeat)."""
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    query = {name: [str(v) for v in values or []] for name, values in multi.items()}
    for name, value in single.items():
        query.setdefault(name, [str(value)])
    return query


def _body(event: dict[str, Any]) -> str | None:
    body = event.get("body")
    if body is None or not event.get("isBase64Encoded"):
        return body
    import base64
    import binascii

    try:
        return base64.b64decode(body).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None  # answered as malformed


def route(event: dict[str, Any]) -> live.Answer:
    context = event.get("requestContext") or {}
    connection_id = str(context.get("connectionId") or "")
    key = context.get("routeKey") or ROUTES.get(str(context.get("eventType")), "$default")
    if not connection_id:
        return live.Answer(400)
    if key == "$connect":
        return live.connect(deps(), connection_id, event.get("headers") or {}, _query(event))
    if key == "$disconnect":
        return live.disconnect(deps(), connection_id)
    return live.message(deps(), connection_id, _body(event))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    logger.set_correlation_id(request.get("requestId"))
    try:
        answer = route(event)
    except Exception:
        logger.exception("live route failed", extra={"route": request.get("routeKey")})
        answer = live.Answer(500, error_message("internal_error", "internal error"))
    finally:
        flush_metrics()
    log = logger.debug if answer.status < 400 else logger.info
    log("live request", extra={"route": request.get("routeKey"), "status": answer.status})
    response: dict[str, Any] = {"statusCode": answer.status}
    if answer.body is not None:
        response["body"] = answer.body
    return response


install_hooks(prime=deps, resets=(deps,), clients=("dynamodb",))  # SnapStart
