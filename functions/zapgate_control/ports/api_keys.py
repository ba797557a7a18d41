"""Tenants' API keys and the per-tenant rate limit (ApiKeysTable)."""

from __future__ import annotations

from typing import Any, Protocol


class ApiKeyNotFound(Exception):
    """Unknown id, or a key of another tenant."""


class LastActiveKey(Exception):
    """Revoking this key would leave the tenant without an active key."""


class KeysChanged(Exception):
    """A concurrent change to the tenant's keys won; the revocation may be retried."""


class ApiKeyStore(Protocol):
    def caller_for(self, raw_key: str) -> tuple[str, str] | None: ...
    def tenant_for(self, raw_key: str) -> str | None: ...
    def create(self, tenant_id: str, label: str | None, raw_key: str) -> dict[str, Any]: ...
    def list_for_tenant(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...
    def revoke(self, tenant_id: str, key_id: str, caller_hash: str) -> None: ...


class RateLimiter(Protocol):
    limit: int
    window_s: int

    def hit(self, tenant_id: str) -> int | None: ...
