"""A FastAPI app's first request builds the state of the route it serves, not of every route it tries.

FastAPI 0.165 keeps each `app.include_router(...)` as an `_IncludedRouter` that builds, on the first
request that *tries* it, the effective state of every route it holds (`effective_candidates`: a dependant
and a pydantic TypeAdapter per parameter and response model, ~3 ms a route here), before matching a single
path. The app tries its routers in order, so a cold function's first request paid for every route of every
router up to the one that matched: the public API's first request grew with each route added (issue 14).

`make_routes_lazy(app)` swaps each such inclusion, after the app is assembled, for `_LazyIncludedRouter`,
which checks the request's path against each route's compiled path first (a regex, no pydantic) and builds
an effective route only for a route whose path matches. The answer is the same: a route whose path does not
match is never a FULL nor a PARTIAL match in FastAPI's own matching either. Everything that walks the routes
(the OpenAPI document, `url_path_for`) still goes through `effective_candidates`, which reuses what matching
built, so the app stays one app with one OpenAPI document.

Only inclusions holding nothing but plain `APIRoute`s are made lazy; any other kind (mounts, websockets,
nested routers, frontend routes) keeps FastAPI's matching. If FastAPI's private classes change, nothing is
swapped (`lazy_inclusions` returns 0 and a unit test fails), and the app still works as FastAPI builds it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match, compile_path, get_route_path

try:  # private to FastAPI 0.165: the lazy path is an optimisation, never a requirement
    from fastapi.routing import _IncludedRouter
except ImportError:  # pragma: no cover - another FastAPI: keep its own matching
    _IncludedRouter = None  # type: ignore[assignment,misc]

__all__ = ["build_all_routes", "built_routes", "lazy_inclusions", "make_routes_lazy"]


if _IncludedRouter is not None:

    class _LazyIncludedRouter(_IncludedRouter):
        """An inclusion of APIRoutes only, matched path-first; each route's state is built once, when needed."""

        def _gates(self) -> list[tuple[APIRoute, re.Pattern[str]]]:
            version = self.original_router._get_routes_version()  # routes added after the include count too
            cached: tuple[Any, list[tuple[APIRoute, re.Pattern[str]]]] | None = self.__dict__.get("_zg_gates")
            if cached is None or cached[0] != version:
                # The effective path is the inclusion's prefix + the route's own (which has its router's prefix).
                gates = [(route, compile_path(self.include_context.path_for(route))[0])
                         for route in self.original_router.routes if isinstance(route, APIRoute)]  # fmt: skip
                cached = (version, gates)
                self.__dict__["_zg_gates"] = cached
            return cached[1]

        def _build_effective_context(self, route: Any) -> Any:
            # One effective route per original route and inclusion, shared by matching and by
            # effective_candidates (OpenAPI, url_path_for): built at most once either way.
            built: dict[int, Any] = self.__dict__.setdefault("_zg_built", {})
            context = built.get(id(route))
            if context is None:
                context = super()._build_effective_context(route)
                built[id(route)] = context
            return context

        def _match(self, scope: Any) -> tuple[Match, Any, Any, Any]:
            if scope["type"] != "http":  # an APIRoute never matches anything else
                return Match.NONE, {}, None, None
            path = get_route_path(scope)
            partial: tuple[Any, APIRoute, Any] | None = None
            for route, pattern in self._gates():
                if pattern.match(path) is None:  # FastAPI's own matching would answer NONE: nothing to build
                    continue
                context = self._build_effective_context(route)
                match, child_scope = context.matches(scope)  # what APIRoute.matches does with this context
                if match != Match.NONE:
                    child_scope["route"] = route
                if match == Match.FULL:
                    return match, child_scope, route, context
                if match == Match.PARTIAL and partial is None:
                    partial = (child_scope, route, context)
            if partial is not None:
                return Match.PARTIAL, partial[0], partial[1], partial[2]
            return Match.NONE, {}, None, None


def _only_api_routes(inclusion: Any) -> bool:
    router = inclusion.original_router
    return (
        bool(router.routes)
        and all(type(route) is APIRoute for route in router.routes)
        and not getattr(router, "_low_priority_routes", None)
    )


def make_routes_lazy(app: FastAPI) -> int:
    """Swap the app's inclusions of plain APIRoutes for lazy ones (in place, same order); how many were swapped."""
    if _IncludedRouter is None:  # pragma: no cover
        return 0
    routes = app.router.routes
    swapped = 0
    for index, route in enumerate(routes):
        if type(route) is _IncludedRouter and _only_api_routes(route):
            routes[index] = _LazyIncludedRouter(original_router=route.original_router,
                                                include_context=route.include_context)  # fmt: skip
            swapped += 1
    return swapped


def lazy_inclusions(app: FastAPI) -> list[Any]:
    """The app's lazy inclusions (tests: the swap took place)."""
    return [route for route in app.router.routes if _IncludedRouter is not None and
            isinstance(route, _LazyIncludedRouter)]  # fmt: skip


def build_all_routes(app: FastAPI) -> int:
    """Build every route's effective state now (SnapStart priming: before the snapshot, not on a request)."""
    built = 0
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            built += sum(1 for _ in contexts())
    return built


def built_routes(app: FastAPI) -> int:
    """How many effective routes the lazy inclusions hold so far (tests and the bench's --snapstart mode)."""
    return sum(len(inclusion.__dict__.get("_zg_built", {})) for inclusion in lazy_inclusions(app))
