"""The worker-proxy's auth dependency: the sidecars' bearer secret (worker_secret.py)."""

from __future__ import annotations

from fastapi import Header

from zapgate_control.worker_secret import check_bearer, expected_secret

__all__ = ["expected_secret", "require_worker"]


def require_worker(authorization: str | None = Header(default=None)) -> None:
    check_bearer(authorization)
