"""Requests to the phone (docs/requests.md): a `request` push frame names one; claim it, run it, answer it.

At most once: nothing runs before the worker-proxy accepted this sidecar's claim, fenced by its lock token.
A claim refused (409) means the request is someone else's, answered or gone: it is dropped without a word.
A runtime that stops between claim and answer leaves the request claimed; the control plane then calls it
`outcome_unknown` once this sidecar's lock is gone, and never runs it again.

Requests run beside the session's events (they neither change the session nor wait for one), each bounded
by REQUEST_TIMEOUT_MS: neonize blocks up to 75 s with no way to cancel the Go call, so the answer goes out
at the bound and the thread ends when Go lets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from zapgate_core.contract.requests import (
    READ_ONLY_OPS,
    AnswerRequest,
    ClaimedRequest,
    ClaimRequest,
    RequestError,
    RequestErrorCode,
)
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.runtime.request_ops import request_error, run_op
from zapgate_sidecar.transport import NetworkUnreachable

if TYPE_CHECKING:
    from zapgate_sidecar.runtime.instance import InstanceRuntime
    from zapgate_sidecar.runtime.pacing import Pacer

MAX_REMEMBERED_REQUESTS = 200  # a frame posted twice (a retry of the post) claims once
ANSWER_ATTEMPTS = 3  # the answer is the only record of what ran: transient failures are retried


class RequestRunner:
    def __init__(self, runtime: InstanceRuntime, pacing: Callable[[], Pacer] | None = None) -> None:
        self._runtime = runtime
        self._pacing = pacing  # the instance's pacer (outbound runner's), for spacing number checks; None = none
        self._seen: dict[str, None] = {}  # insertion-ordered set of request ids taken here

    def take(self, request_id: str) -> None:
        """A frame named this request: claim and run it in the background (once per id)."""
        runtime = self._runtime
        if runtime.stopping.is_set() or request_id in self._seen:
            return  # left pending: the lock's next holder is not told, so the API's wait ends it (504)
        self._seen[request_id] = None
        while len(self._seen) > MAX_REMEMBERED_REQUESTS:
            self._seen.pop(next(iter(self._seen)))
        runtime.spawn(self.handle(request_id))

    async def handle(self, request_id: str) -> None:
        claimed = await self._claim(request_id)
        if claimed is None:
            return
        result, error = await self._execute(claimed)
        await self._answer(claimed, result, error)

    async def _claim(self, request_id: str) -> ClaimedRequest | None:
        runtime = self._runtime
        if not runtime.lock_token:  # a server without lock tokens cannot fence a claim: never run unfenced
            log.warning("request ignored: no lock token", extra={"instance_id": runtime.instance_id})
            return None
        body = ClaimRequest(instanceOwner=runtime.deps.settings.instance_owner, instanceId=runtime.instance_id,
                            lockToken=runtime.lock_token, requestId=request_id)
        try:
            claimed = await runtime.deps.proxy.claim_request(body)
        except WorkerProxyError as exc:
            level = log.info if exc.status == 409 else log.warning  # 409: not ours to run (taken, answered, gone)
            level("request not claimed", extra={"instance_id": runtime.instance_id, "request_id": request_id,
                                                "status": exc.status})
            return None
        except (httpx.HTTPError, ValueError) as exc:
            # Whether the claim landed is unknown: running now could run it unclaimed, so it is not run.
            log.warning("request claim failed", extra={"instance_id": runtime.instance_id, "request_id": request_id,
                                                       "error": type(exc).__name__})
            return None
        if claimed.request_id != request_id or claimed.instance_id != runtime.instance_id:
            log.warning("claim answered another request", extra={"instance_id": runtime.instance_id,
                                                                  "request_id": request_id})
            return None
        return claimed

    async def _execute(self, claimed: ClaimedRequest) -> tuple[dict[str, Any] | None, RequestError | None]:
        runtime = self._runtime
        timeout_s = runtime.deps.settings.request_timeout_ms / 1000
        session = runtime.session.current
        try:
            if session is None or not runtime.connected:
                raise NetworkUnreachable("not connected to whatsapp")
            # Number checks at the instance's pace (issue 13: bulk checks are a ban signal); one whose turn is
            # past the API's wait is not run at all.
            if (claimed.op == "check_numbers" and self._pacing is not None
                    and not await self._pacing().wait_check_turn(timeout_s * 1000)):
                raise NetworkUnreachable("number checks are paced for this instance: try again later")
            result = await asyncio.wait_for(asyncio.to_thread(run_op, session, claimed.op, claimed.args), timeout_s)
        except TimeoutError:
            # A read that took too long changed nothing; a change may have left the device before the bound.
            code: RequestErrorCode = "unreachable" if claimed.op in READ_ONLY_OPS else "outcome_unknown"
            error = RequestError(code=code, message=f"whatsapp did not answer within {timeout_s:g} s")
        except Exception as exc:  # every failure is answered: an unanswered claim can only end outcome_unknown
            error = request_error(exc)
            if error.code == "failed" and error.message.startswith("internal error"):
                log.exception("request crashed", extra={"instance_id": runtime.instance_id,
                                                        "request_id": claimed.request_id})
        else:
            runtime.deps.telemetry.incr("RequestsDone")
            return result, None
        runtime.deps.telemetry.incr("RequestsFailed")
        log.info("request failed", extra={"instance_id": runtime.instance_id, "request_id": claimed.request_id,
                                          "op": claimed.op, "code": error.code, "error": error.message[:200]})
        return None, error

    async def _answer(self, claimed: ClaimedRequest, result: dict[str, Any] | None,
                      error: RequestError | None) -> None:
        runtime = self._runtime
        claimed_token = runtime.lock_token or "-"  # gone since the claim: the server refuses the answer (409)
        body = AnswerRequest(instanceOwner=runtime.deps.settings.instance_owner, instanceId=runtime.instance_id,
                             lockToken=claimed_token, requestId=claimed.request_id,
                             result=result, error=error)
        for attempt in range(ANSWER_ATTEMPTS):
            try:
                await runtime.deps.proxy.answer_request(body)
                return
            except WorkerProxyError as exc:
                if exc.status < 500:  # 409: our claim is gone (lock lost); the API says outcome_unknown
                    log.warning("request answer refused", extra={"instance_id": runtime.instance_id,
                                                                 "request_id": claimed.request_id,
                                                                 "status": exc.status})
                    return
                reason = f"http {exc.status}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            log.warning("request answer failed", extra={"instance_id": runtime.instance_id,
                                                        "request_id": claimed.request_id, "error": reason,
                                                        "attempt": attempt + 1})
            await asyncio.sleep(0.2 * 2**attempt)
