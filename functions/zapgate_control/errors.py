"""One JSON error shape for both APIs: {"error": {"code", "message"}}, never a 500 for bad input.

Messages are short and never echo the request body: the existing Node worker logs up to 220
characters of an error body, and bodies may carry secrets or media.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match


class ApiError(Exception):
    def __init__(
        self, http_status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.headers = headers  # response headers, e.g. Retry-After with a 429
        self.extra = extra


class NotFound(ApiError):
    def __init__(self, what: str = "resource") -> None:
        super().__init__(404, "not_found", f"{what} not found")


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _describe(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return 400, "malformed_json", "request body is not valid JSON"
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "request"
    return 422, "validation_error", f"{where}: {first.get('msg', 'invalid')}"[:200]


def _allowed_methods(request: Request) -> str:
    """Every method the path serves: Starlette's own Allow names only the first route matching the path."""
    methods = {
        method
        for route in iter_route_contexts(request.app.routes)  # flattened: included routers are one entry each
        if route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods or ()
    }
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI, logger: Any) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra), status_code=exc.http_status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _describe(exc)
        return JSONResponse(error_body(code, message), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
        # exc.headers carries what HTTP requires with the status; a 405 must list the allowed methods (RFC 9110).
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return JSONResponse(error_body(code, str(exc.detail)[:200]), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
