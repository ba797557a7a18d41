"""Powertools Logger (JSON, correlation id) and Metrics (EMF), wired into an ASGI app.

Metrics are flushed per request by the middleware rather than by a Lambda decorator so that
the same app behaves alike under Mangum and under uvicorn. Request logs carry method, route
and status only: never headers (secrets, API keys) nor bodies (media).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI, Request, Response

logger = Logger()
metrics = Metrics()


def install_request_telemetry(app: FastAPI, api: str) -> None:
    @app.middleware("http")
    async def _telemetry(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        event = request.scope.get("aws.event") or {}
        correlation_id = request.headers.get("x-correlation-id") or event.get("requestContext", {}).get("requestId")
        logger.set_correlation_id(correlation_id)
        response = await call_next(request)
        route = request.scope.get("route")
        # Successful calls are routine (sidecars poll): DEBUG keeps them out of the way; failures stay visible.
        log = logger.debug if response.status_code < 400 else logger.info
        log(
            "request",
            extra={
                "api": api,
                "method": request.method,
                "route": getattr(route, "path", "unmatched"),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        if response.status_code >= 500:
            metrics.add_metric(name="ServerErrors", unit="Count", value=1)
        flush_metrics()
        return response


def flush_metrics() -> None:
    """Write this invocation's EMF metrics (the HTTP middleware and the non-HTTP handlers call it)."""
    if metrics.metric_set:
        metrics.flush_metrics()
        # With POWERTOOLS_METRICS_DISABLED flush keeps the set; left to grow, Powertools serialises
        # it on the 100th value, which raises when no namespace was configured (tests, devstack).
        metrics.clear_metrics()


def lambda_handler_for(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    from mangum import Mangum

    asgi = Mangum(app, lifespan="off")  # lifespan on would run startup/shutdown on every invocation

    def with_loop(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Mangum runs each request on asyncio.get_event_loop(), which raises in a thread where asyncio.run() has
        # finished before (it leaves no loop set): give the thread one rather than fail the request.
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            asyncio.set_event_loop(asyncio.new_event_loop())
        return dict(asgi(event, context))

    return logger.inject_lambda_context(with_loop, correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
                                        clear_state=True)
