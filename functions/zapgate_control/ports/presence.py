"""Which sidecars are alive, and how to reach each one's push channel (both kept in FleetTable)."""

from __future__ import annotations

from typing import Protocol


class SidecarPresenceStore(Protocol):
    """The sidecars that announced themselves lately (eligible-instances `announce`), locks held or not."""

    def announce(self, owner: str, now_ms: int, ttl_ms: int) -> None: ...
    def leave(self, owner: str) -> None: ...
    def live(self, now_ms: int) -> list[str]:
        """Owners whose presence has not expired at `now_ms`."""
        ...


class PushConnectionStore(Protocol):
    """Each sidecar's push-channel connection (SidecarPushApi), one per sidecar (docs/sidecar.md#push-channel)."""

    def register(self, owner: str, connection_id: str, now_ms: int) -> bool:
        """Record `owner`'s connection; True when it had none (a sidecar that just joined)."""
        ...

    def forget(self, connection_id: str, connected_before_ms: int | None = None) -> str | None:
        """Drop the connection; the owner whose current connection it was, None if it was replaced
        (or, with `connected_before_ms`, if it connected at or after that time)."""
        ...

    def connection_of(self, owner: str) -> str | None: ...
    def connections(self) -> dict[str, str]:
        """owner -> connection id, every sidecar connected."""
        ...
