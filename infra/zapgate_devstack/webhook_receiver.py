"""A webhook endpoint for local work: prints each delivery, checks its signature, keeps them all.

    python -m zapgate_devstack.webhook_receiver --port 9000 --secret whsec_...
    python -m zapgate_devstack.webhook_receiver --port 9000 --register http://127.0.0.1:8000/v1 --api-key zg_...

With --register it creates the webhook itself (POST /v1/webhooks with its own URL), uses the
secret that answer carries, and deletes the webhook again when stopped. Every POST to any path is
a delivery: one line per delivery (event type, X-Zapgate-Event-Id, whether the signature is
valid), answered 200, or 500 for the first --fail-first deliveries (to watch the retries).
GET /deliveries lists what arrived, oldest first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from zapgate_core.domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

DEFAULT_PATH = "/hook"


@dataclass
class Delivery:
    event_id: str | None
    type: str | None
    signature_valid: bool | None  # None: no secret to check against
    timestamp: str | None
    signature: str | None
    received_at: float
    path: str
    answered: int
    event: Any
    body: str  # exactly as received (what the signature covers)


class Receiver:
    def __init__(self, secret: str | None = None, fail_first: int = 0,
                 out: Callable[[str], None] | None = None) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.out = out or (lambda line: print(line, flush=True))
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/deliveries", self._list, methods=["GET"]),
            Route("/health", self._health, methods=["GET"]),
            Route("/{path:path}", self._receive, methods=["POST"]),
        ])

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        valid = None if self.secret is None else verify(
            self.secret, timestamp, body, request.headers.get(SIGNATURE_HEADER)
        )
        try:
            event: Any = json.loads(body)
        except ValueError:
            event = body.decode(errors="replace")
        with self._lock:
            answered = 500 if len(self.deliveries) < self.fail_first else 200
            delivery = Delivery(
                event_id=request.headers.get(EVENT_ID_HEADER),
                type=event.get("type") if isinstance(event, dict) else None,
                signature_valid=valid,
                timestamp=timestamp,
                signature=request.headers.get(SIGNATURE_HEADER),
                received_at=time.time(),
                path=request.url.path,
                answered=answered,
                event=event,
                body=body.decode(errors="replace"),
            )
            self.deliveries.append(delivery)
            number = len(self.deliveries)
        signature = {None: "not checked (no --secret)", True: "valid", False: "INVALID"}[valid]
        self.out(
            f"delivery {number}: {delivery.type} id={delivery.event_id} signature={signature} -> {answered}"
            + (f"\n{json.dumps(event, indent=2, ensure_ascii=False)}" if answered == 200 else "")
        )
        return PlainTextResponse("ok" if answered == 200 else "failing on purpose", status_code=answered)

    async def _list(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse([asdict(d) for d in self.deliveries])

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok")


def register(api_url: str, api_key: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """POST /v1/webhooks: the created webhook, secret included."""
    import httpx

    body: dict[str, Any] = {"url": url}
    if events:
        body["events"] = events
    response = httpx.post(f"{api_url.rstrip('/')}/webhooks", json=body, headers={"X-API-Key": api_key}, timeout=10)
    if response.status_code != 201:
        raise SystemExit(f"registering {url} failed: HTTP {response.status_code} {response.text[:300]}")
    created: dict[str, Any] = response.json()
    return created


def unregister(api_url: str, api_key: str, webhook_id: str) -> None:
    import httpx

    with contextlib.suppress(httpx.HTTPError):  # the stack is gone already: nothing to clean up
        httpx.delete(f"{api_url.rstrip('/')}/webhooks/{webhook_id}", headers={"X-API-Key": api_key}, timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zapgate_devstack.webhook_receiver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--secret", help="the webhook's signing secret (from POST /v1/webhooks)")
    parser.add_argument("--register", metavar="API_URL", help="public API base, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key", help="X-API-Key for --register")
    parser.add_argument("--events", nargs="*", help="event types for --register (default: all)")
    parser.add_argument("--path", default=DEFAULT_PATH, help="path registered with --register")
    parser.add_argument("--fail-first", type=int, default=0, help="answer 500 to the first N deliveries")
    args = parser.parse_args(argv)
    if args.register and not args.api_key:
        parser.error("--register needs --api-key")
    secret, webhook_id = args.secret, None
    if args.register:
        own_url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{args.port}{args.path}"
        created = register(args.register, args.api_key, own_url, args.events)
        secret, webhook_id = created["secret"], created["id"]
        print(f"registered webhook {webhook_id} -> {own_url} (events: {created['events'] or 'all'})", flush=True)
    receiver = Receiver(secret=secret, fail_first=args.fail_first)
    print(f"webhook receiver on http://{args.host}:{args.port} (GET /deliveries lists them)", file=sys.stderr,
          flush=True)
    import uvicorn

    try:
        uvicorn.run(receiver.app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        if webhook_id:
            unregister(args.register, args.api_key, webhook_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
