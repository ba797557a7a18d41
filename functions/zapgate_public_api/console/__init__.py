"""The console (docs/console.md): the static web page a person runs zapgate with, served by the public API.

`GET /console` redirects to `/console/`, which answers index.html; `GET /console/assets/{file}` answers the
ES modules and the stylesheet beside it. Nothing here needs an API key: the page holds no privilege, the
API calls it makes do (with the key the person typed). The routes stay out of the OpenAPI document.

Cold start: only the standard library and what the app already imports. Files are read on the first
request that asks for them and kept (with their gzip body and ETag) while their size and mtime stay the same.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
CONSOLE_PATH = "/console"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_COMPRESSIBLE = (".html", ".js", ".css", ".svg")
# For the app's GZipMiddleware (/v1 JSON): these files are gzipped here, with an ETag per encoding, so the
# middleware leaves them alone (it would otherwise add a second `Vary: Accept-Encoding` to their plain answers).
GZIP_EXCLUDED_TYPES = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/html", "text/javascript", "text/css", "image/svg+xml")
_GZIP_MIN_BYTES = 256
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg|png|ico)$")
# Revalidate every time (the files keep their names across versions); an unchanged file costs a 304.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class _File:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str  # quoted strong ETag of the identity body; the gzip variant adds "-gz" inside the quotes


_files: dict[str, _File] = {}
_csp: str | None = None


def media_origins(env: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    """Where presigned media links point: the S3 endpoint the functions use (locally the emulator's), else
    the media bucket's virtual-hosted origins (global and regional, both used by S3 presigning)."""
    env = os.environ if env is None else env
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme and parts.netloc else []
    bucket = env.get("MEDIA_BUCKET", "")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    if not bucket:
        return []
    origins = [f"https://{bucket}.s3.amazonaws.com"]
    if region:
        origins.append(f"https://{bucket}.s3.{region}.amazonaws.com")
    return origins


def content_security_policy(env: os._Environ[str] | dict[str, str] | None = None) -> str:
    """No inline script or style anywhere; media from the bucket's presigned links; API calls same-origin, the
    live WebSocket (another host on AWS) and the presigned upload POST to the bucket."""
    media = " ".join(media_origins(env))
    extra = f" {media}" if media else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{extra}; media-src 'self' blob:{extra}; "
        f"connect-src 'self' ws: wss:{extra}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def security_headers() -> dict[str, str]:
    global _csp
    if _csp is None:
        _csp = content_security_policy()
    return {
        "Content-Security-Policy": _csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def _load(path: Path) -> _File | None:
    """The file, read once per version: a stat per request notices an edit (a local `make run`), the
    bytes, gzip and ETag are computed again only then."""
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not path.is_file():
        return None
    key = f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    cached = _files.get(key)
    if cached is not None:
        return cached
    try:
        body = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    gzipped = None
    if path.suffix in _COMPRESSIBLE and len(body) >= _GZIP_MIN_BYTES:
        import gzip  # first request only

        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    digest = hashlib.sha256(body).hexdigest()[:20]
    loaded = _File(body, gzipped, _TYPES.get(path.suffix, "application/octet-stream"), f'"{digest}"')
    _files[key] = loaded
    return loaded


def _accepts_gzip(request: Request) -> bool:
    accepted = request.headers.get("accept-encoding", "")
    for part in accepted.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etag_matches(request: Request, etags: tuple[str, ...]) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    given = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return bool(given & set(etags))


def _serve(request: Request, file: _File) -> Response:
    use_gzip = file.gzipped is not None and _accepts_gzip(request)
    etag = f'{file.etag[:-1]}-gz"' if use_gzip else file.etag
    headers = {**security_headers(), "Cache-Control": CACHE_CONTROL, "ETag": etag}
    if file.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if _etag_matches(request, (file.etag, f'{file.etag[:-1]}-gz"')):
        return Response(status_code=304, headers=headers)
    body = file.gzipped if use_gzip and file.gzipped is not None else file.body
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=file.content_type)
    return Response(content=body, status_code=200, headers=headers, media_type=file.content_type)


def _not_found(what: str) -> Response:
    body = {"error": {"code": "not_found", "message": f"no console file {what}"}}
    return JSONResponse(body, status_code=404, headers={**security_headers(), "Cache-Control": CACHE_CONTROL})


def console_root(request: Request) -> Response:
    # API Gateway routes /console and /console/ both here (its path is /console); the raw path tells them apart.
    if request.url.path.endswith("/"):
        return console_index(request)
    return RedirectResponse(f"{CONSOLE_PATH}/", status_code=308, headers=security_headers())


def console_index(request: Request) -> Response:
    file = _load(ROOT / "index.html")
    return _serve(request, file) if file is not None else _not_found("index.html")


def console_asset(name: str, request: Request) -> Response:
    if not _ASSET_NAME.fullmatch(name):
        return _not_found("by that name")
    file = _load(ASSETS / name)
    return _serve(request, file) if file is not None else _not_found("by that name")


def install(app: FastAPI) -> None:
    """The console's routes, on the app itself (outside the OpenAPI document; no key, no rate limit)."""
    for path, endpoint in ((CONSOLE_PATH, console_root), (f"{CONSOLE_PATH}/", console_index),
                           (f"{CONSOLE_PATH}/assets/{{name}}", console_asset)):
        app.add_api_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
