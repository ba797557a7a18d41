"""Contacts, LID<->phone mappings and groups an instance has seen (ContactsTable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ResolveOutcome = Literal["created", "updated", "already_exists"]
GroupUpsert = Literal["created", "renamed", "seen"]


class GroupNotFound(Exception):
    """The instance has not seen that group."""


@dataclass(frozen=True)
class Group:
    """A WhatsApp group of an instance: named by discovery, monitored only when its tenant says so."""

    jid: str
    name: str
    monitor: bool
    first_seen: str | None = None
    seen_at: str | None = None  # the last discovery that listed it
    renamed_at: str | None = None


class ContactStore(Protocol):
    def resolve(
        self, instance_id: str, jid: str, jid_type: str, push_name: str | None
    ) -> tuple[str, ResolveOutcome]: ...
    def remember_lid(self, instance_id: str, lid: str, phone_jid: str) -> None: ...
    def phone_for(self, instance_id: str, jid: str) -> str | None: ...
    def known(self, instance_id: str, jid: str) -> bool:
        """Whether the instance has this contact (one was resolved from a message it received): pacing's
        "wrote first" (issue 13)."""
        ...


class GroupStore(Protocol):
    def upsert(self, instance_id: str, jid: str, name: str) -> tuple[GroupUpsert, str | None]: ...
    def page(self, instance_id: str, limit: int, cursor: str | None) -> tuple[list[Group], str | None]: ...
    def set_monitor(self, instance_id: str, jid: str, monitor: bool) -> Group: ...
    def monitored(self, instance_id: str, jid: str) -> bool: ...
    def find(self, instance_id: str, jid: str) -> Group | None: ...
    def rename_known(self, instance_id: str, jid: str, name: str) -> tuple[bool, str | None]: ...
