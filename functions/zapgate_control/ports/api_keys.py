"""Tenants' API keys and the per-tenant rate limit (ApiKeysTable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ApiKeyNotFound(Exception):
    """Unknown id, or a key of another tenant."""


class LastActiveKey(Exception):
    """Revoking this key would leave the tenant without an active key."""


class KeysChanged(Exception):
    """A concurrent change to the tenant's keys won; the revocation may be retried."""


@dataclass(frozen=True)
class ApiKey:
    """What may be told about a key: never the key itself nor its hash."""

    id: str
    label: str | None
    created_at: str  # ISO 8601
    revoked: bool = False
    revoked_at: str | None = None
    last4: str | None = None  # the key's last four characters, to recognise it in a listing


class ApiKeyStore(Protocol):
    def caller_for(self, raw_key: str) -> tuple[str, str] | None:
        """(tenant_id, key_hash) of an active key, else None."""
        ...

    def tenant_for(self, raw_key: str) -> str | None: ...
    def create(self, tenant_id: str, label: str | None, raw_key: str) -> ApiKey: ...
    def list_for_tenant(self, tenant_id: str, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
        """One page, oldest first, and the cursor of the next one (None: the last page).

        Raises ValueError for a cursor this listing did not hand out."""
        ...

    def revoke(self, tenant_id: str, key_id: str, caller_hash: str) -> None: ...


class RateLimiter(Protocol):
    limit: int
    window_s: int

    def hit(self, tenant_id: str) -> int | None: ...
