"""Own-device messages and history sync (issue 13): what the control plane needs to store them.

Both are message items of MessagesTable (the MessageStore's table), written by their own store so the long
messages adapter stays as it is: an own-device message is an outbound item marked `source = phone`, already
`sent`; a history message is an item of either direction marked `history`. The instance's `history_sync`
setting lives on its InstancesTable item (HistorySettingsStore).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zapgate_control.ports.messages import InboundContent


@dataclass(frozen=True)
class HistorySyncSetting:
    """The tenant's choice (PATCH /v1/instances/{id} `history_sync`); off unless `enabled`."""

    enabled: bool = False
    days: int | None = None  # 1..365: only messages at most this old
    messages_per_chat: int | None = None  # 1..1000: only each chat's newest N (the sidecar cuts)
    emit_events: bool = False  # history messages reach webhooks only when true


@dataclass(frozen=True)
class StoredMessage:
    """One message of a batch to store. `message_id` is derived from (instance, WhatsApp id), so a retried
    batch meets the same keys; `own` = sent by this account (an outbound item, `source = phone`)."""

    message_id: str
    content: InboundContent
    own: bool
    sent_ms: int | None = None  # WhatsApp's time, for the timeline's order (history arrives late)


@dataclass(frozen=True)
class BatchOutcome:
    stored: int
    duplicates: int


class OwnMessageStore(Protocol):
    def sent_by_zapgate(self, instance_id: str, wa_message_id: str) -> bool:
        """An outbound message zapgate sent (source api) already carries this WhatsApp id."""
        ...

    def sends_in_flight(self, instance_id: str) -> bool:
        """The instance has a claimed (being sent) message: an echo may be of it, its id not yet marked."""
        ...

    def put_own(self, tenant_id: str, instance_id: str, message: StoredMessage) -> bool:
        """Store an own-device message once (conditional on its id); False when already there."""
        ...

    def put_history(
        self, tenant_id: str, instance_id: str, messages: list[StoredMessage], silent: bool
    ) -> BatchOutcome:
        """Store a history batch: what is already stored is left alone and written nothing (retries cost reads
        only); `silent` marks the items so the outbox reports nothing."""
        ...


class HistorySettingsStore(Protocol):
    def history_setting(self, instance_id: str) -> tuple[str, HistorySyncSetting] | None:
        """(tenant, setting) of the instance; None when there is no such instance."""
        ...

    def set_history_setting(self, tenant_id: str, instance_id: str, setting: HistorySyncSetting) -> bool:
        """Store the tenant's setting on its instance; False when the instance is unknown or another tenant's."""
        ...
