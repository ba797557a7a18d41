"""lazy_routes: a first request builds only the route it serves; answers and the OpenAPI document are FastAPI's own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

from zapgate_control import lazy_routes
from zapgate_control.lazy_routes import build_all_routes, built_routes, lazy_inclusions, make_routes_lazy


class Item(BaseModel):
    id: str
    size: int


def tenant() -> str:
    return "real-tenant"


def _app(lazy: bool) -> FastAPI:
    """Three routers the way the public API includes them: own prefixes, responses, dependencies, an include prefix."""
    items = APIRouter(prefix="/v1", responses={404: {"description": "unknown"}})

    @items.get("/items/{item_id}", response_model=Item)
    def get_item(item_id: str, size: int = Query(default=1, ge=1), who: str = Depends(tenant)) -> Item:
        return Item(id=f"{who}:{item_id}", size=size)

    @items.post("/items", response_model=Item, status_code=201)
    def create_item(item: Item) -> Item:
        return item

    things = APIRouter(tags=["things"])

    @things.get("/things/{thing_id}")
    def get_thing(thing_id: int) -> dict[str, int]:
        return {"thing": thing_id}

    @things.delete("/things/{thing_id}", status_code=204)
    def delete_thing(thing_id: int) -> None:
        return None

    health = APIRouter(prefix="/v1")

    @health.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    app = FastAPI()
    app.include_router(health)
    app.include_router(items)
    app.include_router(things, prefix="/v1")
    if lazy:
        assert make_routes_lazy(app) == 3
    return app


REQUESTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/v1/items/a?size=3", None),
    ("GET", "/v1/items/a?size=0", None),  # 422 from the route's own validation
    ("POST", "/v1/items", {"id": "b", "size": 2}),
    ("POST", "/v1/items", {"id": "b"}),  # 422 on the body
    ("PUT", "/v1/items/a", None),  # path matches, method does not: 405 (a PARTIAL match)
    ("GET", "/v1/things/7", None),
    ("GET", "/v1/things/x", None),  # the int convertor refuses: 404
    ("DELETE", "/v1/things/7", None),
    ("GET", "/v1/healthz/", None),  # redirect_slashes
    ("GET", "/v1/nothing", None),
]


def _answers(app: FastAPI) -> list[tuple[int, str]]:
    with TestClient(app, follow_redirects=False) as client:
        return [(r.status_code, r.text) for r in
                (client.request(method, path, json=body) for method, path, body in REQUESTS)]  # fmt: skip


def test_every_answer_is_what_fastapi_answers_without_it() -> None:
    assert _answers(_app(lazy=True)) == _answers(_app(lazy=False))


def test_the_openapi_document_is_identical() -> None:
    lazy = _app(lazy=True)
    _answers(lazy)  # matching first, then the document from what matching built plus the rest
    assert lazy.openapi() == _app(lazy=False).openapi()


def test_the_first_request_builds_only_the_route_it_serves() -> None:
    app = _app(lazy=True)
    with TestClient(app) as client:
        assert client.get("/v1/things/7").json() == {"thing": 7}  # the last router's route
        assert built_routes(app) == 1
        client.get("/v1/things/8")
        assert built_routes(app) == 1  # built once
        client.get("/v1/items/a")
        assert built_routes(app) == 2
    assert build_all_routes(app) == 5 and built_routes(app) == 5  # priming builds the rest, reusing what is built


def test_dependency_overrides_still_apply() -> None:
    app = _app(lazy=True)
    app.dependency_overrides[tenant] = lambda: "overridden"
    with TestClient(app) as client:
        assert client.get("/v1/items/a").json() == {"id": "overridden:a", "size": 1}


def test_an_inclusion_with_other_than_api_routes_keeps_fastapis_matching() -> None:
    router = APIRouter()
    router.add_route("/plain", lambda request: PlainTextResponse("plain"))
    app = FastAPI()
    app.include_router(router)
    assert make_routes_lazy(app) == 0 and lazy_inclusions(app) == []


def _public_api(lazy: bool, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    import zapgate_public_api.app as public

    if not lazy:
        monkeypatch.setattr(public, "make_routes_lazy", lambda app: 0)
    return public.create_app()


def test_the_public_api_is_lazy_and_its_openapi_document_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _public_api(True, monkeypatch)
    assert len(lazy_inclusions(app)) >= 15  # every router of the public API (FastAPI 0.165's internals as expected)
    assert app.openapi() == _public_api(False, monkeypatch).openapi()


@pytest.mark.parametrize("module", ["zapgate_public_api.app", "zapgate_worker_proxy.app"])
def test_the_apps_first_request_builds_one_route(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    create: Callable[[], FastAPI] = __import__(module, fromlist=["create_app"]).create_app
    app = create()
    total = sum(len(inclusion.original_router.routes) for inclusion in lazy_inclusions(app))
    assert total > 20  # so that "one" below means something
    path = "/v1/healthz" if module.startswith("zapgate_public_api") else "/worker-proxy/worker-settings"
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get(path)  # the worker-proxy answers 401 without its secret: the route was still matched
    assert built_routes(app) == 1


def test_without_fastapis_private_classes_nothing_is_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lazy_routes, "_IncludedRouter", None)
    app = _app(lazy=False)
    assert make_routes_lazy(app) == 0 and lazy_inclusions(app) == []
    assert _answers(app)[0][0] == 200
