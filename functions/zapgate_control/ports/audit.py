"""The per-instance audit trail (AuditTable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from zapgate_core.domain.json_types import JsonObject


@dataclass(frozen=True)
class AuditEntry:
    event: str
    at: str
    detail: JsonObject = field(default_factory=dict)  # free-form per event (e.g. group_rename's from/to)


class AuditLog(Protocol):
    def record(self, instance_id: str, event: str, detail: JsonObject) -> None: ...
    def page(self, instance_id: str, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]: ...
