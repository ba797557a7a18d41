"""Own-device messages and history sync from the sidecar (issue 13; contract/own_messages.py).

Counting a message once when zapgate itself sent it (the same WhatsApp id):
- after our mark-sent, the `by_wa_message_id` index finds our outbound message: the echo is a duplicate;
- before it (the echo raced the sidecar's mark-sent), our message is `claimed` with no WhatsApp id yet: while
  the instance has a claimed message the report is deferred (nothing stored, `deferred: true`) and the sidecar
  retries shortly, by when the mark has landed and the first rule applies. A sidecar that keeps being deferred
  (a queue that never drains) sends `force` and the message is stored: a real phone message is never lost.
- the phone copy's key is derived from the WhatsApp id, so a repeated report is one refused conditional put.

History batches are stored only when the instance's `history_sync` setting is on, and only messages within
its `days`; the answer carries the setting so the sidecar learns it from its first call.
"""

from __future__ import annotations

from datetime import UTC, datetime

from zapgate_control.errors import NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.own_messages import (
    HistorySettingsStore,
    HistorySyncSetting,
    OwnMessageStore,
    StoredMessage,
)
from zapgate_control.services.inbound import content_of
from zapgate_core.contract.own_messages import (
    HistoryBatchRequest,
    HistoryBatchResponse,
    HistorySyncConfig,
    OwnMessagesRequest,
    OwnMessagesResponse,
)
from zapgate_core.contract.worker_proxy import InboundMessage
from zapgate_core.domain.ids import inbound_id

DAY_MS = 86_400_000


MAX_WA_MS = 10**13  # year 2286: anything later (or negative) is no time a message was sent


def wa_time_ms(value: int | float | str | None) -> int | None:
    """WhatsApp's time of a message (epoch s or ms, or ISO text) in ms; None when absent, unreadable or absurd
    (the timeline's sort key and ISO times must be buildable from it)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                number = parsed.astimezone(UTC).timestamp() if parsed.tzinfo else parsed.replace(tzinfo=UTC).timestamp()
        else:
            number = float(value)
        ms = int(number * 1000) if number < 100_000_000_000 else int(number)
    except (ValueError, OverflowError):
        return None
    return ms if 0 < ms < MAX_WA_MS else None


def stored_message(message: InboundMessage) -> StoredMessage | None:
    """What is stored of one reported message; None for one without a WhatsApp id (it could not be deduplicated)."""
    if not message.wa_message_id:
        return None
    return StoredMessage(message_id=inbound_id(message.instance_id, message.wa_message_id),
                         content=content_of(message), own=message.from_me, sent_ms=wa_time_ms(message.timestamp))


def accept_own(store: OwnMessageStore, settings: HistorySettingsStore, request: OwnMessagesRequest
               ) -> OwnMessagesResponse:
    found = settings.history_setting(request.instance_id)
    if found is None:
        raise NotFound("instance")
    tenant_id, _setting = found
    messages = [m.model_copy(update={"instance_id": request.instance_id, "from_me": True}) for m in request.messages]
    if not request.force and store.sends_in_flight(request.instance_id):
        metrics.add_metric(name="OwnMessagesDeferred", unit="Count", value=1)
        return OwnMessagesResponse(ids=[], stored=0, duplicates=0, deferred=True)
    ids: list[str | None] = []
    stored = duplicates = 0
    for message in messages:
        one = stored_message(message)
        if one is None:
            ids.append(None)
            continue
        if message.wa_message_id and store.sent_by_zapgate(request.instance_id, message.wa_message_id):
            ids.append(None)  # ours: its outbound message (source api) is the one history shows
            duplicates += 1
            continue
        ids.append(one.message_id)
        if store.put_own(tenant_id, request.instance_id, one):
            stored += 1
        else:
            duplicates += 1
    metrics.add_metric(name="OwnMessagesStored", unit="Count", value=stored)
    return OwnMessagesResponse(ids=ids, stored=stored, duplicates=duplicates)


def config_of(setting: HistorySyncSetting) -> HistorySyncConfig:
    return HistorySyncConfig(enabled=setting.enabled, days=setting.days,
                             messages_per_chat=setting.messages_per_chat, emit_events=setting.emit_events)


def accept_history(store: OwnMessageStore, settings: HistorySettingsStore, request: HistoryBatchRequest,
                   now_ms: int) -> HistoryBatchResponse:
    found = settings.history_setting(request.instance_id)
    if found is None:
        raise NotFound("instance")
    tenant_id, setting = found
    config = config_of(setting)
    if not setting.enabled:
        return HistoryBatchResponse(settings=config, skipped=len(request.messages))
    oldest = now_ms - setting.days * DAY_MS if setting.days else None
    batch: list[StoredMessage] = []
    skipped = 0
    for message in request.messages:
        one = stored_message(message.model_copy(update={"instance_id": request.instance_id}))
        if one is None or (oldest is not None and one.sent_ms is not None and one.sent_ms < oldest):
            skipped += 1
            continue
        batch.append(one)
    outcome = store.put_history(tenant_id, request.instance_id, batch, silent=not setting.emit_events)
    metrics.add_metric(name="HistoryMessagesStored", unit="Count", value=outcome.stored)
    return HistoryBatchResponse(settings=config, stored=outcome.stored, duplicates=outcome.duplicates,
                                skipped=skipped)
