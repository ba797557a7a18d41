"""The worker-proxy contract from the sidecar's side, over HTTP with httpx.

Requests are built and answers parsed with zapgate_core's contract models, so this client
works against any server that speaks the contract (ours, or the Supabase edge functions the
Node worker used): answers are read leniently (bare arrays, `data`, alias names).
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from zapgate_core.contract.inbound_changes import InboundChangeResponse
from zapgate_core.contract.instance_settings import SETTINGS_PATH, InstanceSettings
from zapgate_core.contract.requests import AnswerAccepted, AnswerRequest, ClaimedRequest, ClaimRequest
from zapgate_core.contract.worker_proxy import (
    CommandAckRequest,
    ContactResolveRequest,
    ContactResolveResponse,
    EligibleInstances,
    GroupsRequest,
    GroupsResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    InboundMessage,
    InboundResponse,
    LockAcquireRequest,
    LockReleaseRequest,
    LockRenewRequest,
    LockResponse,
    MarkFailedRequest,
    MarkSentRequest,
    PrimaryJidResponse,
    QueuedMessage,
    ReceiptsRequest,
    UpdateStatusRequest,
    UploadMediaRequest,
    WorkerSettings,
)

Model = TypeVar("Model", bound=BaseModel)
ERROR_BODY_CHARS = 220  # as much of an error body as the Node worker logged; never more
ELIGIBLE_PAGE = 500  # the most eligible-instances answers per request (the contract's `limit` cap)
RENEWAL_ALLOWANCE_S = 0.02  # per lock a heartbeat renews, on top of its wait and 10 s (2,000 locks: +40 s)
MANAGER_CONNECTIONS = 4  # discovery, an acquire, the heartbeat, and a leave at shutdown
MAX_ELIGIBLE_PAGES = 200  # 100,000 instances: a server that keeps answering a cursor cannot loop us forever


def heartbeat_timeout_s(request: HeartbeatRequest) -> float:
    """The wait, 10 s, and time for the renewal: one conditional write per lock, ~4-13 ms each on the local
    stack's moto (bench/sidecar_scale.py), single-digit ms on DynamoDB. A flat 10 s gave up on the renewal of
    ~1,000 locks while the server was still making it: `heartbeat failed`, and no renewal counted until the
    next try, a renew interval later, which eats into the locks' TTL."""
    renewing = len(request.locks) if request.renew else 0
    return request.wait_ms / 1000 + 10 + RENEWAL_ALLOWANCE_S * renewing


class WorkerProxyError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:ERROR_BODY_CHARS]}")
        self.status = status


class WorkerProxyClient:
    """Two connection pools: the instance manager's calls (discovery, locks, the heartbeat) never queue behind the
    runtimes' (status, messages, inbound, ...). 1,000 runtimes linking at once report ~2,000 statuses; in one
    pool of 100 connections they held up the heartbeat whose renewals keep every lock. A request waits for a
    connection as long as it takes (no pool timeout): the wait is other requests finishing or timing out, and
    failing it only sent the same report again (bench/sidecar_scale.py: 113 `PoolTimeout` status reports while
    1,000 instances linked)."""

    def __init__(self, base_url: str, secret: str, timeout_s: float = 15.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        def client(limits: httpx.Limits) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=base_url.rstrip("/"),
                headers={"Authorization": f"Bearer {secret}"},
                timeout=httpx.Timeout(timeout_s, pool=None),
                limits=limits,
                transport=transport,
            )

        self._http = client(httpx.Limits(max_connections=100, max_keepalive_connections=20))
        self._manager_http = client(httpx.Limits(max_connections=MANAGER_CONNECTIONS,
                                                 max_keepalive_connections=MANAGER_CONNECTIONS))
        # zapgate extensions; unknown until the first call, False on servers without them.
        self.heartbeat_supported: bool | None = None
        self.receipts_supported: bool | None = None
        self.changes_supported: bool | None = None

    async def close(self) -> None:
        await self._http.aclose()
        await self._manager_http.aclose()

    async def _call(self, method: str, path: str, *, body: BaseModel | None = None,
                    params: dict[str, Any] | None = None, timeout_s: float | None = None,
                    manager: bool = False) -> Any:
        response = await (self._manager_http if manager else self._http).request(
            method,
            path,
            json=body.model_dump(mode="json", by_alias=True) if body is not None else None,
            params=params,
            timeout=httpx.Timeout(timeout_s, pool=None) if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
        )
        if response.status_code >= 300:
            raise WorkerProxyError(method, path, response.status_code, response.text)
        return response.json() if response.content else {}

    @staticmethod
    def _parse(model: type[Model], data: Any) -> Model:
        return model.model_validate(data)

    # ------------------------------------------------------------ discovery
    async def worker_settings(self) -> WorkerSettings:
        return self._parse(WorkerSettings, await self._call("GET", "/worker-settings", manager=True))

    async def eligible_instances(self, limit: int = ELIGIBLE_PAGE, owner: str | None = None, announce: bool = False,
                                 leave: bool = False, timeout_s: float | None = None) -> EligibleInstances:
        """Every eligible instance, `limit` per request: pages follow `next_cursor` (zapgate extension;
        servers without it answer one page and no cursor, so this is then the first `limit`).

        With `announce` (zapgate extension) the server records this sidecar's presence (or removes it,
        with `leave`: one request, no paging) and answers the live fleet as `sidecars`; other servers
        ignore the parameters. Presence goes with the first page only.
        """
        params: dict[str, Any] = {"enabled": "true", "limit": limit, "order": "priority.desc"}
        if announce and owner:
            params.update({"instance_owner": owner, "announce": "true"} | ({"leave": "true"} if leave else {}))
        if not leave:
            params["paged"] = "true"
        answer = await self._eligible_page(params, timeout_s)
        seen = {i.id for i in answer.instances}
        cursor, pages = (None if leave else answer.next_cursor), 1
        while cursor and pages < MAX_ELIGIBLE_PAGES:
            page = await self._eligible_page({"enabled": "true", "limit": limit, "order": "priority.desc",
                                              "cursor": cursor}, timeout_s)
            # Pages are read one after another: an instance whose priority changed meanwhile may show twice.
            answer.instances.extend(i for i in page.instances if i.id not in seen)
            seen.update(i.id for i in page.instances)
            cursor, pages = page.next_cursor, pages + 1
        answer.next_cursor = None
        return answer

    async def _eligible_page(self, params: dict[str, Any], timeout_s: float | None) -> EligibleInstances:
        data = await self._call("GET", "/eligible-instances", params=params, timeout_s=timeout_s, manager=True)
        return self._parse(EligibleInstances, {"instances": data} if isinstance(data, list) else data)

    # ------------------------------------------------------------ locks
    async def acquire(self, instance_id: str, owner: str, ttl_ms: int) -> LockResponse:
        body = LockAcquireRequest(instance_id=instance_id, instance_owner=owner, ttl_ms=ttl_ms)
        return self._parse(LockResponse, await self._call("POST", "/instance-lock/acquire", body=body, manager=True))

    async def renew(self, instance_id: str, owner: str, ttl_ms: int, token: str | None) -> LockResponse:
        body = LockRenewRequest(instance_id=instance_id, instance_owner=owner, ttl_ms=ttl_ms, lock_token=token)
        return self._parse(LockResponse, await self._call("POST", "/instance-lock/renew", body=body, manager=True))

    async def release(self, instance_id: str, owner: str, token: str | None) -> None:
        body = LockReleaseRequest(instance_id=instance_id, instance_owner=owner, lock_token=token)
        await self._call("POST", "/instance-lock/release", body=body)

    async def heartbeat(self, request: HeartbeatRequest) -> HeartbeatResponse | None:
        """None when the server does not offer the heartbeat (then renew and poll per instance)."""
        if self.heartbeat_supported is False:
            return None
        try:
            data = await self._call("POST", "/heartbeat", body=request, timeout_s=heartbeat_timeout_s(request),
                                    manager=True)
        except WorkerProxyError as exc:
            if exc.status in (404, 405):
                self.heartbeat_supported = False
                return None
            raise
        self.heartbeat_supported = True
        return self._parse(HeartbeatResponse, data)

    # ------------------------------------------------------------ commands and groups (zapgate extensions)
    async def ack_command(self, request: CommandAckRequest) -> None:
        await self._call("POST", "/commands/ack", body=request)

    async def report_groups(self, request: GroupsRequest) -> GroupsResponse:
        return self._parse(GroupsResponse, await self._call("POST", "/groups", body=request, timeout_s=60))

    # ------------------------------------------------------------ instance settings (zapgate extension)
    async def instance_settings(self, instance_id: str, owner: str, lock_token: str | None) -> InstanceSettings | None:
        """The instance's settings for its lock holder (contract/instance_settings.py); None when the server has no
        such endpoint (another worker-proxy: the defaults apply). A 409 (WorkerProxyError) = the lock is not ours."""
        try:
            data = await self._call("GET", SETTINGS_PATH.format(instance_id=instance_id),
                                    params={"instanceOwner": owner, "lockToken": lock_token or ""})
        except WorkerProxyError as exc:
            if exc.status in (404, 405):
                return None
            raise
        return self._parse(InstanceSettings, data)

    # ------------------------------------------------------------ requests to the phone (zapgate extension)
    async def claim_request(self, request: ClaimRequest) -> ClaimedRequest:
        """Take a request before running it; a 409 (WorkerProxyError) means it is not this caller's to run."""
        return self._parse(ClaimedRequest, await self._call("POST", "/requests/claim", body=request))

    async def answer_request(self, request: AnswerRequest) -> AnswerAccepted:
        """The claimed request's result or error; a 409 means the claim is no longer this caller's."""
        return self._parse(AnswerAccepted, await self._call("POST", "/requests/answer", body=request))

    # ------------------------------------------------------------ status
    async def update_status(self, request: UpdateStatusRequest) -> None:
        await self._call("POST", "/update-status", body=request)

    # ------------------------------------------------------------ outbound
    async def queued_messages(self, instance_id: str, limit: int) -> list[QueuedMessage]:
        data = await self._call("GET", "/queued-messages", params={"instanceId": instance_id, "limit": limit})
        items = data if isinstance(data, list) else data.get("messages", [])
        return [QueuedMessage.model_validate(item) for item in items]

    async def mark_sent(self, message_id: str, wa_message_id: str, send_debug: dict[str, Any]) -> None:
        body = MarkSentRequest(message_id=message_id, wa_message_id=wa_message_id, send_debug=send_debug)
        await self._call("POST", "/mark-sent", body=body)

    async def mark_failed(self, message_id: str, error: str, send_debug: dict[str, Any]) -> None:
        body = MarkFailedRequest(message_id=message_id, error=error[:2_000], send_debug=send_debug)
        await self._call("POST", "/mark-failed", body=body)

    async def receipts(self, request: ReceiptsRequest) -> bool:
        """False when the server has no receipts endpoint (then receipts are dropped quietly)."""
        if self.receipts_supported is False:
            return False
        try:
            await self._call("POST", "/receipts", body=request)
        except WorkerProxyError as exc:
            if exc.status in (404, 405):
                self.receipts_supported = False
                return False
            raise
        self.receipts_supported = True
        return True

    # ------------------------------------------------------------ inbound and contacts
    async def inbound(self, message: InboundMessage) -> InboundResponse | None:
        data = await self._call("POST", "/inbound", body=message)
        try:
            return InboundResponse.model_validate(data)
        except ValueError:
            return None  # other servers answer their own shape; a 2xx is what matters

    async def inbound_change(self, report: BaseModel) -> InboundChangeResponse | None:
        """An edit, revoke, group change or call (contract/inbound_changes.py, a zapgate extension); None when
        the server has no such endpoint (another worker-proxy): the change is then dropped."""
        if self.changes_supported is False:
            return None
        try:
            data = await self._call("POST", "/inbound-changes", body=report)
        except WorkerProxyError as exc:
            if exc.status in (404, 405):
                self.changes_supported = False
                return None
            raise
        self.changes_supported = True
        return InboundChangeResponse.model_validate(data)

    async def hold_message(self, message_id: str, held_until_ms: int, reason: str) -> bool:
        """Hand a claimed message back until `held_until_ms` (pacing, issue 13). False when the server has no
        such endpoint (404): the caller then sends it. A 409 (WorkerProxyError) = it is no longer ours."""
        from zapgate_core.contract.pacing import HOLD_PATH, HoldRequest

        body = HoldRequest(messageId=message_id, heldUntilMs=held_until_ms, reason=reason)
        try:
            await self._call("POST", HOLD_PATH, body=body)
        except WorkerProxyError as exc:
            if exc.status in (404, 405):
                return False
            raise
        return True

    async def contact_wrote_first(self, instance_id: str, jid: str) -> bool | None:
        """Whether the contact ever wrote to the instance; None when the server cannot say (404)."""
        from zapgate_core.contract.pacing import WROTE_FIRST_PATH

        try:
            data = await self._call("GET", WROTE_FIRST_PATH, params={"instanceId": instance_id, "jid": jid})
        except WorkerProxyError as exc:
            if exc.status in (404, 405):
                return None
            raise
        return bool(data.get("wrote"))

    async def resolve_contact(self, request: ContactResolveRequest) -> ContactResolveResponse:
        return self._parse(ContactResolveResponse, await self._call("POST", "/contacts/resolve", body=request))

    async def primary_jid(self, instance_id: str, jid: str) -> str | None:
        data = await self._call("GET", "/contacts/primary-jid", params={"instanceId": instance_id, "jid": jid})
        answer = PrimaryJidResponse.model_validate({"jid_pn": data.get("jid_pn"), "jid": data.get("jid")})
        return answer.jid_pn or (answer.jid if answer.jid and not answer.jid.endswith("@lid") else None)

    async def upload_media(self, request: UploadMediaRequest) -> str:
        data = await self._call("POST", "/upload-media", body=request, timeout_s=60)
        return str(data["media_url"])
