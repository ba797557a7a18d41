"""A tenant's own API keys: create (the key is shown once), list, revoke; and the per-tenant rate limit.

Keys always belong to the caller's tenant. A key of another tenant answers exactly like an
unknown one (404). New tenants are an operator's act (`python -m zapgate_control.admin
create-key --tenant X`), never the public API's.

Revocation never leaves a tenant without an active key: a key may revoke itself only while
another active key exists (409 `last_active_key` otherwise), so a tenant cannot lock itself
out and need an operator to get back in. Rotation is: create the new key, switch to it, revoke
the old one.
"""

from __future__ import annotations

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import metrics
from zapgate_control.ports.api_keys import ApiKey, ApiKeyNotFound, ApiKeyStore, KeysChanged, LastActiveKey, RateLimiter


def create(keys: ApiKeyStore, tenant_id: str, label: str | None) -> tuple[ApiKey, str]:
    """The new key, and the raw key itself: the only time it is ever returned."""
    from zapgate_control.admin import new_api_key  # the operator's generator; imported only when used

    raw_key = new_api_key()
    key = keys.create(tenant_id, label, raw_key)
    metrics.add_metric(name="ApiKeysCreated", unit="Count", value=1)
    return key, raw_key


def list_page(keys: ApiKeyStore, tenant_id: str, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
    try:
        return keys.list_for_tenant(tenant_id, limit, cursor)
    except ValueError as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this listing handed out") from exc


def revoke(keys: ApiKeyStore, tenant_id: str, key_id: str, caller_hash: str) -> None:
    try:
        keys.revoke(tenant_id, key_id, caller_hash)
    except ApiKeyNotFound as exc:
        raise NotFound("API key") from exc
    except LastActiveKey as exc:
        raise ApiError(
            409, "last_active_key",
            "this is the tenant's last active key: create another one before revoking it",
        ) from exc  # fmt: skip
    except KeysChanged as exc:
        raise ApiError(409, "conflict", "the tenant's keys changed meanwhile; retry") from exc
    metrics.add_metric(name="ApiKeysRevoked", unit="Count", value=1)


def enforce_rate_limit(limiter: RateLimiter, tenant_id: str) -> None:
    """Count one request of the tenant; 429 with Retry-After once its window's budget is spent."""
    retry_after = limiter.hit(tenant_id)
    if retry_after is None:
        return
    metrics.add_metric(name="RateLimited", unit="Count", value=1)
    raise ApiError(
        429, "rate_limited",
        f"rate limit of {limiter.limit} requests per {limiter.window_s} s exceeded for this tenant; "
        f"retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )  # fmt: skip
