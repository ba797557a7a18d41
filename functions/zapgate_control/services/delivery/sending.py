"""Sending a batch's deliveries: sign and POST each, concurrently, at most a few at a time per endpoint.

Each delivery is one POST (or one PutEvents for the bus) run on a thread pool that lives as long as
the container, over the sender's one HTTP connection pool (httpx.Client is thread-safe). Deliveries
are grouped by endpoint (scheme, host, port) into lanes: an endpoint gets at most `per_endpoint`
threads, so a slow receiver ties up its own lane and never the other endpoints' (other tenants').
A delivery not started by `start_by` is not attempted (NOT_STARTED): the batch must answer before
the Lambda timeout, and a POST started later could outlive it.

The threads only send: metrics and the outcome are recorded by the caller, on its own thread
(Powertools' metric set is not meant to be shared between threads).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import urlsplit

from zapgate_control.ports.events import EventBus, WebhookSender
from zapgate_control.ports.webhooks import Webhook
from zapgate_core.domain.events import encode
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
    signing_secrets,
)

# The copy meant for the EventBridge bus rides in the webhookId attribute (webhook ids are "wh_..."),
# and the bus is its own lane.
EVENTBRIDGE_TARGET = "eventbridge"
# Never the URL (it may carry the application's own token) nor the body: reasons are logged and
# shown to the tenant (the delivery log).
NOT_STARTED = "not attempted: the invocation's time budget ran out"


@dataclass(frozen=True)
class Sent:
    reason: str | None  # None: taken; else why not ("HTTP 500", "ConnectTimeout", NOT_STARTED, ...)
    ms: int = 0

    @property
    def attempted(self) -> bool:
        return self.reason != NOT_STARTED


def signed_request(secrets_: list[str], envelope: JsonObject, now: float | None = None) -> tuple[bytes, dict[str, str]]:
    body = encode(envelope).encode()
    timestamp = str(int(time.time() if now is None else now))
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(envelope["id"]),
        EVENT_TYPE_HEADER: str(envelope["type"]),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_header(secrets_, timestamp, body),
    }
    return body, headers


def post(sender: WebhookSender, webhook: Webhook, envelope: JsonObject) -> Sent:
    """One signed POST; never raises (an unexpected error is a failed attempt, named by its type)."""
    started = time.perf_counter()
    try:
        secrets_ = signing_secrets(webhook.secret, time.time(), webhook.previous_secret, webhook.previous_secret_until)
        body, headers = signed_request(secrets_, envelope)
        reason = sender.post(webhook.url, body, headers)
    except Exception as exc:
        reason = type(exc).__name__
    return Sent(reason, round((time.perf_counter() - started) * 1000))


def put_on_bus(bus: EventBus, tenant_id: str, envelope: JsonObject) -> Sent:
    started = time.perf_counter()
    try:
        bus.put(tenant_id, envelope)
        reason = None
    except Exception as exc:
        reason = f"event bus refused it: {type(exc).__name__}: {exc}"[:300]
    return Sent(reason, round((time.perf_counter() - started) * 1000))


def endpoint_of(url: str) -> str:
    """The lane of a webhook: its origin. Two webhooks on one server share its limit."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


class Lanes:
    """The container's delivery threads (created once, reused by every invocation)."""

    def __init__(self, max_workers: int = 32) -> None:
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:  # on first use: nothing is started at import (cold start)
            self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="delivery")
        return self._pool

    def run(self, jobs: Sequence[tuple[str, Callable[[], Sent]]], per_endpoint: int,
            start_by: float | None = None) -> list[Sent]:
        """Each (lane, send) run once, in order within its lane, `per_endpoint` lanes' threads at most per
        lane; a send whose turn comes after `start_by` (time.monotonic()) is NOT_STARTED."""
        results = [Sent(NOT_STARTED)] * len(jobs)
        queues: dict[str, deque[int]] = {}
        for n, (lane, _) in enumerate(jobs):
            queues.setdefault(lane, deque()).append(n)

        def drain(queue: deque[int]) -> None:
            while True:
                try:
                    n = queue.popleft()  # atomic: the lane's threads share its queue
                except IndexError:
                    return
                if start_by is not None and time.monotonic() > start_by:
                    continue  # stays NOT_STARTED
                results[n] = jobs[n][1]()

        if len(jobs) == 1:  # nothing to overlap: no thread hop
            drain(next(iter(queues.values())))
            return results
        pool = self._executor()
        futures = [pool.submit(drain, queue) for queue in queues.values()
                   for _ in range(min(max(1, per_endpoint), len(queue)))]
        wait(futures)
        for future in futures:
            future.result()  # drain itself never raises; re-raise if it somehow did
        return results
