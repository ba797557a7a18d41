"""WebhookSender over HTTP (httpx): one POST, short timeouts, no redirects, one client per container.

The processor sends a batch's POSTs from several threads at once (services/delivery/sending.py) over this
one client: httpx.Client is thread-safe and its connection pool keeps connections to each endpoint alive
across records and invocations.
"""

from __future__ import annotations

import httpx

USER_AGENT = "zapgate-webhooks/1"
# Short, so one slow endpoint cannot hold a batch: worst case per POST ≈ pool wait + connect + write + read.
TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=2.0)
# The longest one POST can take: the processor starts none later than this before its time budget ends.
MAX_POST_SECONDS = 15.0
# More than the processor's threads (services/delivery/sending.py: 32), so a POST never waits for a connection.
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)


class HttpWebhookSender:
    def __init__(self, client: httpx.Client | None = None) -> None:
        # No redirects: a 3xx is a failure to take the event, not an invitation to post it elsewhere.
        self.client = client or httpx.Client(timeout=TIMEOUT, limits=LIMITS, follow_redirects=False,
                                             headers={"User-Agent": USER_AGENT})

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None when the endpoint answered 2xx; otherwise why not ("HTTP 500", "ConnectTimeout", ...)."""
        try:
            response = self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
