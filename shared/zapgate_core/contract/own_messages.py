"""Own-device messages and history sync (issue 13): zapgate-only worker-proxy calls (docs/api.md#own-device-messages).

- `POST /worker-proxy/own-messages`: messages this account sent from the phone or another linked device
  (WhatsApp's IsFromMe, not sent by this sidecar). Stored like an outbound message (`source: phone`), once
  per WhatsApp id, never beside the message zapgate itself sent with that id.
- `POST /worker-proxy/history`: one batch of a history sync after linking. The answer carries the instance's
  `history_sync` setting, so the sidecar learns it from its first call (an empty batch) and stops when it is
  off; the control plane enforces it too (a batch for a disabled instance stores nothing).

The Node worker never calls either; each message is the /inbound body (InboundMessage), so the sidecar
builds both the same way.
"""

from __future__ import annotations

from pydantic import Field

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.worker_proxy import InboundMessage, InstanceId

OWN_MESSAGES_PATH = "/own-messages"
HISTORY_PATH = "/history"
MAX_OWN_BATCH = 25
MAX_HISTORY_BATCH = 100  # 4 BatchWriteItem calls of 25


class OwnMessagesRequest(ContractModel):
    instance_id: str = InstanceId
    messages: list[InboundMessage] = Field(min_length=1, max_length=MAX_OWN_BATCH)
    # After this many deferrals the sidecar asks to store anyway (a send queue that never drains).
    force: bool = Field(default=False, description="store even while zapgate's own sends are in flight")


class OwnMessagesResponse(ContractModel):
    ids: list[str | None] = Field(description="the stored (or existing) message id, in request order")
    stored: int
    duplicates: int = Field(description="already stored, or a message zapgate itself sent (same WhatsApp id)")
    deferred: bool = Field(
        default=False,
        description="nothing stored: one of zapgate's sends is in flight and may be this echo; retry shortly",
    )


class HistorySyncConfig(ContractModel):
    """The instance's `history_sync` setting as the control plane applies it (None fields: no bound)."""

    enabled: bool = False
    days: int | None = Field(default=None, ge=1, le=365)
    messages_per_chat: int | None = Field(default=None, ge=1, le=1000)
    emit_events: bool = False


class HistoryBatchRequest(ContractModel):
    instance_id: str = InstanceId
    messages: list[InboundMessage] = Field(default_factory=list, max_length=MAX_HISTORY_BATCH)


class HistoryBatchResponse(ContractModel):
    settings: HistorySyncConfig
    stored: int = 0
    duplicates: int = 0
    skipped: int = Field(default=0, description="outside the setting's days, or the sync is off")
