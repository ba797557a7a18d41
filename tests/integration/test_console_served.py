"""The console (issue 12, docs/console.md) as the public API serves it: files, security headers, caching.

No browser here (tests/e2e drives Chromium): these check what a browser is handed. The page needs no key to
load; every API call it makes does.
"""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zapgate_public_api import console

CONSOLE = Path(console.__file__).resolve().parent
JS_FILES = sorted(p.name for p in (CONSOLE / "assets").glob("*.js"))
TESTIDS = [
    "signin-key", "signin-submit", "signout", "nav-instances", "nav-webhooks", "nav-keys", "instances-list",
    "instance-row", "instance-status", "create-instance-name", "create-instance-submit", "instance-link", "qr-image",
    "pairing-phone", "pairing-submit", "pairing-code", "instance-page-status", "chats-list", "chat-row",
    "message-list", "message", "message-body", "send-to", "send-text", "send-submit", "error-banner",
    "check-number-input", "check-number-submit", "check-number-result", "chat-name", "chat-number",
    "automations-card", "automations-list", "automation-new", "automation-editor", "automation-row",
    "automation-summary", "automation-edit", "automation-save", "automation-cancel", "automation-form-error",
    "automation-json",
    "phone-card", "block-number", "block-submit", "blocked", "phone-status",
    "webhook-row", "webhook-deliveries", "delivery-row", "delivery-redrive",
]  # fmt: skip


@pytest.fixture(scope="module")
def client() -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, raise_server_exceptions=False)  # no X-API-Key


def _assert_security_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in csp.split(";")) if d}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert {"'self'", "data:", "blob:"} <= set(directives["img-src"])
    assert {"'self'", "ws:", "wss:"} <= set(directives["connect-src"])
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp.split()
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


# ------------------------------------------------------------------ routes


def test_console_redirects_to_its_folder(client: TestClient) -> None:
    response = client.get("/console", follow_redirects=False)
    assert response.status_code in (301, 302, 307, 308)
    assert response.headers["location"] == "/console/"
    _assert_security_headers(response)


def test_index_is_served_with_the_security_headers_and_no_key(client: TestClient) -> None:
    response = client.get("/console/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>zapgate console</title>" in response.text
    _assert_security_headers(response)
    # The page loads without a key; the API it calls does not answer without one.
    assert client.get("/v1/instances").status_code == 401


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script_text = ""
        self.in_script = False
        self.styles: list[str] = []  # <style> elements and style="" attributes
        self.handlers: list[str] = []  # on*="" attributes
        self.refs: list[str] = []  # src / href of scripts, stylesheets, module preloads
        self.testids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
            self.in_script = True
        if tag == "style":
            self.styles.append("<style>")
        for name, value in attrs:
            if name == "style":
                self.styles.append(f"{tag} style={value!r}")
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name == "data-testid" and value:
                self.testids.add(value)
        if tag == "script" and values.get("src"):
            self.refs.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.refs.append(str(values["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self.inline_script_text += data.strip()


def _index() -> _Scan:
    scan = _Scan()
    scan.feed((CONSOLE / "index.html").read_text())
    return scan


def test_index_has_no_inline_script_style_or_handler() -> None:
    scan = _index()
    assert scan.scripts and all(script.get("src") for script in scan.scripts)
    assert all(script.get("type") == "module" for script in scan.scripts)
    assert scan.inline_script_text == ""
    assert scan.styles == []
    assert scan.handlers == []


def test_every_file_the_page_loads_is_served_with_its_type(client: TestClient) -> None:
    refs = {ref for ref in _index().refs if not ref.startswith("data:")}  # the empty favicon costs no request
    # Modules import each other by relative path ("./api.js"), dynamically too (the pages).
    for name in JS_FILES:
        refs |= {f"assets/{m}" for m in re.findall(r"""(?:from|import\()\s*["']\./([a-z0-9_-]+\.js)["']""",
                                                     (CONSOLE / "assets" / name).read_text())}
    assert {"assets/app.js", "assets/app.css"} <= refs
    for ref in sorted(refs):
        response = client.get(f"/console/{ref}")
        assert response.status_code == 200, ref
        _assert_security_headers(response)
        expected = "text/javascript" if ref.endswith(".js") else "text/css"
        assert response.headers["content-type"].split(";")[0] == expected, ref
    assert {f"assets/{name}" for name in JS_FILES} <= refs, "a module nothing loads"


def _code(name: str) -> str:
    """A module without its comments (full-line // and /* */)."""
    source = (CONSOLE / "assets" / name).read_text()
    return re.sub(r"(?m)^\s*//.*$", "", re.sub(r"/\*.*?\*/", "", source, flags=re.S))


def test_user_text_never_goes_through_html_parsing() -> None:
    for name in JS_FILES:
        source = _code(name)
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                     "setAttribute(\"style\"", ".style."):
            assert sink not in source, f"{name} uses {sink}"


def test_the_api_key_is_kept_for_the_tab_only() -> None:
    source = "\n".join(_code(name) for name in JS_FILES)
    assert "sessionStorage" in source
    assert "localStorage" not in source and "document.cookie" not in source


def test_the_browser_tests_find_their_test_ids() -> None:
    source = (CONSOLE / "index.html").read_text() + "\n".join(
        (CONSOLE / "assets" / name).read_text() for name in JS_FILES
    )
    missing = [tid for tid in TESTIDS if f'"{tid}"' not in source]
    assert missing == []
    # The automation form's ids are made from its field names: automation-<name with - for _>.
    form = (CONSOLE / "assets" / "automations_form.js").read_text()
    assert "`automation-${name.replace(/_/g, \"-\")}`" in form
    fields = ["name", "keywords", "text", "cooldown_s", "trigger", "pattern", "kind", "model", "api_key",
              "system_prompt"]
    assert [f for f in fields if not re.search(rf'input\("{f}"', form)] == []
    assert '["mon", "Monday"]' in form and "input(day," in form  # automation-mon … automation-sun


# ------------------------------------------------------------------ caching and compression


def test_etag_answers_304_for_both_encodings(client: TestClient) -> None:
    plain = client.get("/console/assets/app.js", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/console/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert plain.headers["etag"] != zipped.headers["etag"]
    assert plain.headers["cache-control"] == "no-cache"
    assert zipped.content == plain.content  # httpx decoded it
    assert len(gzip.compress(plain.content)) < len(plain.content)
    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        again = client.get("/console/assets/app.js", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == zipped.headers["etag"]
        _assert_security_headers(again)
    changed = client.get("/console/assets/app.js", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


def test_gzip_is_not_sent_to_clients_that_refuse_it(client: TestClient) -> None:
    response = client.get("/console/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert response.status_code == 200 and "content-encoding" not in response.headers


@pytest.mark.parametrize("path", [
    "/console/assets/nope.js", "/console/assets/__init__.py", "/console/assets/..%2F__init__.py",
    "/console/assets/.hidden.js", "/console/index.html/x", "/console/assets/APP.JS",
])  # fmt: skip
def test_unknown_files_are_a_json_404_with_the_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    if response.headers.get("content-type", "").startswith("application/json"):
        assert response.json()["error"]["code"] == "not_found"


def test_console_routes_stay_out_of_the_openapi(client: TestClient) -> None:
    paths = client.get("/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/console")]


# ------------------------------------------------------------------ the CSP's media origin


def test_media_origin_is_the_s3_endpoint_locally_and_the_bucket_on_aws() -> None:
    local = console.content_security_policy({"AWS_ENDPOINT_URL": "http://127.0.0.1:5123", "MEDIA_BUCKET": "b"})
    assert "img-src 'self' data: blob: http://127.0.0.1:5123;" in local
    deployed = console.content_security_policy({"MEDIA_BUCKET": "zap-media", "AWS_REGION": "eu-west-1"})
    assert "https://zap-media.s3.amazonaws.com https://zap-media.s3.eu-west-1.amazonaws.com" in deployed
    assert "connect-src 'self' ws: wss: https://zap-media.s3.amazonaws.com" in deployed


# ------------------------------------------------------------------ declared in the template, served locally


def test_the_template_routes_console_paths_to_the_public_api_and_the_local_gateway_serves_them() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    from zapgate_devstack.gateway import Gateway, Route
    from zapgate_devstack.template import http_route_paths, load_template

    public = "zapgate_public_api.handler.handler"
    assert {("/console", public), ("/console/{proxy+}", public)} <= set(http_route_paths(load_template()))

    def echo(request: object) -> PlainTextResponse:
        return PlainTextResponse(request.url.path)  # type: ignore[attr-defined]

    app = Starlette(routes=[StarletteRoute("/{path:path}", echo)])
    gateway = Gateway([Route("/console", app, exact=True), Route("/console", app)])
    with TestClient(gateway) as local:
        for path in ("/console", "/console/", "/console/assets/app.js"):
            assert local.get(path).text == path
        assert local.get("/consolex").status_code == 404


# ------------------------------------------------------------------ through Lambda (Mangum), as API Gateway calls it


class _Context:
    aws_request_id = "req-console"
    function_name = "PublicApiFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:PublicApiFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _http_api_event(path: str, headers: dict[str, str]) -> dict[str, object]:
    http = {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"}
    return {
        "version": "2.0", "routeKey": "ANY /console", "rawPath": path, "rawQueryString": "", "headers": headers,
        "requestContext": {"http": http, "requestId": "r", "stage": "$default", "domainName": "api.example",
                           "accountId": "123456789012", "apiId": "a", "time": "", "timeEpoch": 0},
        "isBase64Encoded": False,
    }  # fmt: skip


def test_lambda_answers_the_redirect_and_a_base64_gzip_body() -> None:
    import base64

    from zapgate_public_api.handler import handler

    # API Gateway sends /console and /console/ to the same route: the raw path tells them apart.
    redirect = handler(_http_api_event("/console", {}), _Context())
    assert redirect["statusCode"] == 308 and redirect["headers"]["location"] == "/console/"
    index = handler(_http_api_event("/console/", {"accept-encoding": "gzip, br"}), _Context())
    assert index["statusCode"] == 200 and index["isBase64Encoded"] is True
    assert index["headers"]["content-encoding"] == "gzip"
    assert gzip.decompress(base64.b64decode(index["body"])).startswith(b"<!doctype html>")
    assert "frame-ancestors 'none'" in index["headers"]["content-security-policy"]
