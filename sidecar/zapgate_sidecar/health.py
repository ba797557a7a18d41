"""The sidecar's HTTP face: GET /health → ok (ECS and seed 000), GET /health/instances → JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


def health_app(describe: Callable[[], dict[str, Any]]) -> Starlette:
    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def instances(_: Request) -> JSONResponse:
        return JSONResponse(describe())

    return Starlette(routes=[Route("/health", health), Route("/health/instances", instances)])
