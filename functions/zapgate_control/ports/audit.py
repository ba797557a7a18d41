"""The per-instance audit trail (AuditTable)."""

from __future__ import annotations

from typing import Any, Protocol


class AuditLog(Protocol):
    def record(self, instance_id: str, event: str, detail: dict[str, Any]) -> None: ...
    def page(self, instance_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]: ...
