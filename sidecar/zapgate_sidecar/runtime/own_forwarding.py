"""What the account itself sent, up to the control plane (issue 13): own-device messages and history syncs.

- An own-device message (WhatsApp's IsFromMe: sent from the phone or another linked device) goes to the
  zapgate-only `POST /worker-proxy/own-messages`. While this runtime has a send in flight the report waits for
  it (the echo of our own send must find our message marked with its WhatsApp id); the control plane also
  answers `deferred` while one of our sends is claimed, and the report is retried, then forced after
  OWN_DEFER_ATTEMPTS so a real phone message is never lost to a queue that never drains.
- History messages (a sync after linking) go up in batches of MAX_HISTORY_BATCH to `POST /worker-proxy/history`.
  The instance's `history_sync` setting comes back in every answer: the first batch of a sync is an empty one
  that asks for it, so nothing is uploaded when it is off, and each chat is cut to `messages_per_chat`.
  History carries text (a media message its caption, or `[image]`): its media are not downloaded (links of
  old messages are mostly expired, and thousands of downloads would be the sync's whole cost).

Against a server without these endpoints (404: another worker-proxy, the Node worker's) both are dropped,
as before issue 13.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from zapgate_core.contract.own_messages import (
    HISTORY_PATH,
    MAX_HISTORY_BATCH,
    OWN_MESSAGES_PATH,
    HistoryBatchRequest,
    HistoryBatchResponse,
    HistorySyncConfig,
    OwnMessagesRequest,
    OwnMessagesResponse,
)
from zapgate_core.contract.worker_proxy import InboundMessage
from zapgate_core.domain.jids import chat_type_of
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyError
from zapgate_sidecar.inbound import typed_fields
from zapgate_sidecar.logs import log
from zapgate_sidecar.transport import IncomingMessage

if TYPE_CHECKING:
    from zapgate_sidecar.inbound import InboundPipeline
    from zapgate_sidecar.runtime.instance import InstanceRuntime

OWN_DEFER_ATTEMPTS = 10
OWN_DEFER_S = 1.0
SEND_WAIT_S = 10.0  # the longest an own message waits for this runtime's sends in flight
HISTORY_FLUSH_S = 0.5
SETTINGS_TTL_S = 300.0
ATTEMPTS = 4
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


def own_payload(instance_id: str, message: IncomingMessage, own_jid: str | None,
                media_fields: dict[str, object] | None = None) -> InboundMessage:
    """The /inbound-shaped body of a message this account sent (or, for history, anyone sent), with its typed
    object (location, contact card, reaction, poll) and quote as /inbound carries them; an object beyond the
    contract's limits is dropped and the message goes as its text, as on /inbound."""
    text = message.text
    if message.media is not None and not media_fields:
        text = text or f"[{message.media.kind}]"  # history: no download, the kind stands in for the media
    fields: dict[str, object] = {
        "instanceId": instance_id,
        "from": (own_jid or message.sender_jid) if message.from_me else message.sender_jid,
        "to": message.chat_jid if message.from_me else own_jid,
        "body": text,
        "wa_message_id": message.wa_message_id,
        "from_me": message.from_me,
        "chat_id_norm": message.chat_jid,
        "chat_type": chat_type_of(message.chat_jid),
        "sender_jid_raw": message.sender_jid,
        "sender_pn": message.sender_pn,
        "push_name": message.push_name,
        "timestamp": message.timestamp,
        **(media_fields or {}),
    }
    try:
        return InboundMessage.model_validate({**fields, **typed_fields(message)})
    except ValidationError:
        log.warning("own message's typed content dropped", extra={"wa_message_id": message.wa_message_id})
        return InboundMessage.model_validate(fields)


def is_reportable(message: IncomingMessage) -> bool:
    """What the account did that an app shows: what a person wrote, and a reaction (stored like one zapgate sent).
    Not a protocol message (edits and revokes have their own path) nor a poll vote (the phone's own votes need the
    poll's secret to read, and are no conversation turn)."""
    if message.is_protocol or message.poll_vote is not None:
        return False
    return bool(message.text) or message.media is not None or message.typed_content is not None


class OwnForwarding:
    def __init__(self, runtime: InstanceRuntime, pipeline: InboundPipeline) -> None:
        self._runtime = runtime
        self._pipeline = pipeline
        self._unsupported = False  # the server has no such endpoints
        self._history: list[IncomingMessage] = []
        self._history_waiting = asyncio.Event()
        self._history_started = False
        self._settings: HistorySyncConfig | None = None
        self._settings_at = 0.0
        self._per_chat: Counter[str] = Counter()
        self.own_reported = 0
        self.history_reported = 0

    def take(self, message: IncomingMessage) -> None:
        """Own-device or history message: queued for its endpoint (dropped when it says nothing)."""
        if self._unsupported or not is_reportable(message):
            return
        if message.is_history:
            self._history.append(message)
            self._history_waiting.set()
            if not self._history_started:
                self._history_started = True
                self._runtime.spawn(self._history_loop())
            return
        self._runtime.spawn(self._own(message))

    # ------------------------------------------------------------ own-device messages
    async def _own(self, message: IncomingMessage) -> None:
        runtime = self._runtime
        deadline = time.monotonic() + SEND_WAIT_S
        while runtime.sends_in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # an echo of the send in flight: let its mark-sent land first
        media_fields: dict[str, object] = {}
        session = runtime.session.current
        if message.media is not None and session is not None:
            media_fields = await self._pipeline._media(message, session)
        try:
            payload = own_payload(runtime.instance_id, message, runtime.own_jid, media_fields)
        except ValidationError:
            log.warning("own message not reportable", extra={"wa_message_id": message.wa_message_id})
            return
        for attempt in range(OWN_DEFER_ATTEMPTS + 1):
            request = OwnMessagesRequest(instance_id=runtime.instance_id, messages=[payload],
                                         force=attempt == OWN_DEFER_ATTEMPTS)
            data = await self._post(OWN_MESSAGES_PATH, request)
            if data is None:
                return
            answer = OwnMessagesResponse.model_validate(data)
            if not answer.deferred:
                self.own_reported += answer.stored
                return
            await asyncio.sleep(OWN_DEFER_S)

    # ------------------------------------------------------------ history
    async def _history_loop(self) -> None:
        runtime = self._runtime
        while not runtime.stopping.is_set():
            await self._history_waiting.wait()
            await asyncio.sleep(HISTORY_FLUSH_S)  # a sync arrives as a burst: fill the batch
            settings = await self._history_settings()
            batch, self._history = self._history[:MAX_HISTORY_BATCH], self._history[MAX_HISTORY_BATCH:]
            if not self._history:
                self._history_waiting.clear()
            if settings is None or not settings.enabled:
                self._history.clear()  # off: nothing is uploaded
                self._history_waiting.clear()
                continue
            kept = [m for m in batch if self._within(m, settings)]
            payloads = []
            for message in kept:
                try:
                    payloads.append(own_payload(runtime.instance_id, message, runtime.own_jid))
                except ValidationError:
                    continue
            if payloads:
                data = await self._post(HISTORY_PATH, HistoryBatchRequest(instance_id=runtime.instance_id,
                                                                          messages=payloads))
                if data is not None:
                    answer = HistoryBatchResponse.model_validate(data)
                    self._remember(answer.settings)
                    self.history_reported += answer.stored

    def _within(self, message: IncomingMessage, settings: HistorySyncConfig) -> bool:
        """Each chat's first `messages_per_chat` (the transports deliver a chat's history newest first)."""
        self._per_chat[message.chat_jid] += 1
        limit = settings.messages_per_chat
        return limit is None or self._per_chat[message.chat_jid] <= limit

    def _remember(self, settings: HistorySyncConfig) -> None:
        self._settings, self._settings_at = settings, time.monotonic()

    async def _history_settings(self) -> HistorySyncConfig | None:
        if self._settings is not None and time.monotonic() - self._settings_at < SETTINGS_TTL_S:
            return self._settings
        data = await self._post(HISTORY_PATH, HistoryBatchRequest(instance_id=self._runtime.instance_id))
        if data is None:
            return None
        self._remember(HistoryBatchResponse.model_validate(data).settings)
        return self._settings

    # ------------------------------------------------------------ the call
    async def _post(self, path: str, body: Any) -> Any | None:
        proxy = self._runtime.deps.proxy
        for attempt in range(ATTEMPTS):
            try:
                return await proxy._call("POST", path, body=body)
            except WorkerProxyError as exc:
                if exc.status in (404, 405):
                    self._unsupported = True  # another worker-proxy: these are zapgate-only
                    return None
                if exc.status < 500:
                    log.warning("own/history report refused", extra={"path": path, "status": exc.status})
                    return None
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5 * 2**attempt)
        log.error("own/history report not delivered", extra={"path": path})
        return None
