"""`X-API-Key` authentication: the key's SHA-256 is looked up, the key itself is never logged or stored.

The dependency yields the caller's tenant id; routes scope every read and write to it. Each
authenticated request also counts against its tenant's rate limit (429 + Retry-After beyond it).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from zapgate_control.errors import ApiError
from zapgate_control.services import api_keys
from zapgate_control.wiring import Stores, get_stores

API_KEY_HEADER = "X-API-Key"
MAX_KEY_LENGTH = 256  # issued keys are far shorter; refusing longer ones spares a lookup

# auto_error=False: a missing key must answer our 401 error shape, not FastAPI's default.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Your zapgate API key")


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    key_hash: str  # which key is calling (internal: never answered nor logged)


def require_caller(
    api_key: str | None = Security(api_key_header), stores: Stores = Depends(get_stores)
) -> Caller:
    """Authenticate (one GetItem), then count the request against the tenant's rate limit (one UpdateItem).

    Only authenticated requests are counted, against their tenant: an unknown or revoked key never
    spends a tenant's budget. The docs and openapi.json do not depend on this, so they are exempt.
    """
    key = (api_key or "").strip()
    if not key:
        raise ApiError(401, "unauthorized", f"missing {API_KEY_HEADER} header")
    found = stores.api_keys.caller_for(key) if len(key) <= MAX_KEY_LENGTH else None
    if found is None:
        raise ApiError(401, "unauthorized", "invalid API key")
    caller = Caller(*found)
    api_keys.enforce_rate_limit(stores.rate_limiter, caller.tenant_id)
    return caller


def require_tenant(caller: Caller = Depends(require_caller)) -> str:
    return caller.tenant_id
