"""Messages, both directions: the outbound queue, inbound storage and history (MessagesTable)."""

from __future__ import annotations

from typing import Any, Protocol

from zapgate_core.domain.outbound import ClaimPolicy, MessageState


class MessageNotFound(Exception):
    """No message with that id."""


class DuplicateMessage(Exception):
    """An enqueue reused a message id (an Idempotency-Key) already taken; `existing` is that message."""

    def __init__(self, existing: dict[str, Any]) -> None:
        super().__init__(existing.get("id"))
        self.existing = existing


class MarkConflict(Exception):
    """A state change the message's current `state` does not allow (e.g. sent after failed)."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class MessageStore(Protocol):
    def enqueue(
        self,
        tenant_id: str,
        instance_id: str,
        content: dict[str, Any],
        queue_owner: str | None = None,
        message_id: str | None = None,
        request_hash: str | None = None,
    ) -> dict[str, Any]: ...
    def owner_work(self, owner: str) -> tuple[set[str], dict[str, int]]: ...
    def ring_doorbell(self, instance_id: str, owner: str, ttl_ms: int) -> None: ...
    def clear_doorbell(self, instance_id: str) -> bool: ...
    def apply_receipt(
        self, instance_id: str, wa_message_id: str, target: MessageState
    ) -> list[dict[str, Any]]: ...
    def claim(
        self, instance_id: str, limit: int, policy: ClaimPolicy, exhausted: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]: ...
    def mark(self, message_id: str, state: MessageState, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...
    def put_inbound(self, message_id: str, instance_id: str, content: dict[str, Any]) -> dict[str, Any] | None: ...
    def recent_inbound(
        self, instance_id: str, until_sk: str, window_ms: int, limit: int = 50
    ) -> list[dict[str, Any]]: ...
    def set_parent(self, message_id: str, parent_id: str) -> bool: ...
    def get(self, message_id: str) -> dict[str, Any] | None: ...
    def timeline(
        self, instance_id: str, direction: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    def chat_messages(
        self, instance_id: str, chat: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    def recent(self, instance_id: str, direction: str, limit: int) -> list[dict[str, Any]]: ...
