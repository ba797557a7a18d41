"""gzip of the public API's /v1 JSON answers (issue 12's console: a list of 100 instances is ~30 KB of JSON).

Starlette's GZipMiddleware compresses answers of 1 KB and more when the request accepts gzip; smaller ones and
clients that do not accept it get the plain bytes. The console's files are gzipped by their own route (with
their own ETag per encoding): the middleware must pass them through untouched, never compress them twice.
Through Lambda, Mangum must base64-encode the gzip body (API Gateway would otherwise mangle the bytes).
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY
from zapgate_devstack.events_worker import LambdaContext

MINIMUM = 1024


@pytest.fixture
def api(aws_env: dict[str, str]) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": API_KEY}, raise_server_exceptions=False)


def _context() -> LambdaContext:
    return LambdaContext(function_name="PublicApiFunction")


def _instances(api: TestClient, count: int) -> None:
    for n in range(count):
        created = api.post("/v1/instances", json={"name": f"gzip-{n:02d}"})
        assert created.status_code == 201, created.text


def test_a_large_json_answer_is_gzipped_when_accepted(api: TestClient) -> None:
    _instances(api, 12)
    # httpx decodes gzip itself: ask for the raw bytes to see what went over the wire.
    with api.stream("GET", "/v1/instances?limit=100", headers={"Accept-Encoding": "gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())
        headers = zipped.headers
    assert zipped.status_code == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(raw)
    plain = api.get("/v1/instances?limit=100", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(plain.content) >= MINIMUM, "the list must be large enough to be compressed"
    assert len(raw) < len(plain.content) / 3
    assert json.loads(gzip.decompress(raw)) == plain.json()
    assert len(plain.json()["instances"]) == 12


def test_a_small_answer_and_an_error_stay_plain(api: TestClient) -> None:
    created = api.post("/v1/instances", json={"name": "small"}).json()
    one = api.get(f"/v1/instances/{created['id']}", headers={"Accept-Encoding": "gzip"})
    assert one.status_code == 200 and len(one.content) < MINIMUM
    assert "content-encoding" not in one.headers
    missing = api.get("/v1/instances/nope", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code == 404 and "content-encoding" not in missing.headers
    assert missing.json()["error"]["code"] == "not_found"


def test_console_files_are_gzipped_once_by_their_own_route(api: TestClient) -> None:
    with api.stream("GET", "/console/assets/instance.js", headers={"Accept-Encoding": "gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())
        etag = zipped.headers["etag"]
    assert zipped.headers["content-encoding"] == "gzip"
    text = gzip.decompress(raw)  # one layer: JavaScript, not gzip again
    assert text.startswith(b"//") and b"export function render" in text
    # The route's own ETag for the gzip variant still gives 304s (the middleware did not rewrite the answer).
    again = api.get("/console/assets/instance.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304


# ------------------------------------------------------------------ through Lambda (Mangum), as API Gateway calls it
def _event(path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
    http = {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"}
    return {
        "version": "2.0", "routeKey": "GET /v1/instances", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {"http": http, "requestId": "r", "stage": "$default", "domainName": "api.example",
                           "accountId": "123456789012", "apiId": "a", "time": "", "timeEpoch": 0},
        "isBase64Encoded": False,
    }  # fmt: skip


def test_lambda_answers_gzip_json_base64_encoded(api: TestClient) -> None:
    from zapgate_public_api.handler import handler

    _instances(api, 12)
    zipped = handler(_event("/v1/instances", "limit=100", {"x-api-key": API_KEY, "accept-encoding": "gzip, br"}),
                     _context())
    assert zipped["statusCode"] == 200
    assert zipped["headers"]["content-encoding"] == "gzip"
    # application/json is one of Mangum's text types: it would pass the body as a string if it decoded as UTF-8.
    # gzip's magic bytes (1f 8b) never do, so the body must arrive base64-encoded, whole.
    assert zipped["isBase64Encoded"] is True
    listed = json.loads(gzip.decompress(base64.b64decode(zipped["body"])))
    assert len(listed["instances"]) == 12
    plain = handler(_event("/v1/instances", "limit=100", {"x-api-key": API_KEY}), _context())
    assert plain["isBase64Encoded"] is False and "content-encoding" not in plain["headers"]
    assert json.loads(plain["body"]) == listed
