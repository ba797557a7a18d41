"""`X-API-Key` authentication: the key's SHA-256 is looked up, the key itself is never logged or stored.

The dependency yields the caller's tenant id; routes scope every read and write to it.
"""

from __future__ import annotations

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from zapgate_control.errors import ApiError
from zapgate_control.wiring import Stores, get_stores

API_KEY_HEADER = "X-API-Key"
MAX_KEY_LENGTH = 256  # issued keys are far shorter; refusing longer ones spares a lookup

# auto_error=False: a missing key must answer our 401 error shape, not FastAPI's default.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Your zapgate API key")


def require_tenant(
    api_key: str | None = Security(api_key_header), stores: Stores = Depends(get_stores)
) -> str:
    key = (api_key or "").strip()
    if not key:
        raise ApiError(401, "unauthorized", f"missing {API_KEY_HEADER} header")
    tenant_id = stores.api_keys.tenant_for(key) if len(key) <= MAX_KEY_LENGTH else None
    if tenant_id is None:
        raise ApiError(401, "unauthorized", "invalid API key")
    return tenant_id
