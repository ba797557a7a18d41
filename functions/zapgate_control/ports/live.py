"""Live (WebSocket) connections of frontends, and posting to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Ticket:
    """A one-time ticket as its $connect consumed it (zapgate_core.domain.live judges its expiry)."""

    tenant_id: str
    expires_at_s: int  # epoch seconds


@dataclass(frozen=True)
class LiveConnection:
    connection_id: str  # API Gateway's
    tenant_id: str
    instance_ids: tuple[str, ...] | None = None  # None: every instance of the tenant


class LiveConnectionStore(Protocol):
    """Live (WebSocket) connections and their one-time tickets, one table (docs/data-model.md)."""

    def put_ticket(self, key: str, tenant_id: str, expires_at_s: int) -> None: ...
    def consume_ticket(self, key: str) -> Ticket | None:
        """Delete the ticket and answer it as it was; None when there is none (unknown or already used)."""
        ...

    def put_connection(
        self, connection_id: str, tenant_id: str, instance_ids: list[str] | None, expires_at_s: int
    ) -> None: ...
    def get_connection(self, connection_id: str) -> LiveConnection | None: ...
    def subscribe(self, connection_id: str, tenant_id: str, instance_ids: list[str] | None) -> bool: ...
    def delete_connection(self, connection_id: str) -> None: ...
    def for_tenant(self, tenant_id: str) -> list[LiveConnection]: ...


class LivePusher(Protocol):
    def post(self, connection_id: str, data: bytes) -> str: ...
