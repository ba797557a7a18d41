"""The sidecars' bearer secret: from Secrets Manager in AWS (cached), from WORKER_SECRET locally."""

from __future__ import annotations

import hmac
import os

from fastapi import Header

from zapgate_control.errors import ApiError

SECRET_CACHE_SECONDS = 300


def expected_secret() -> str:
    arn = os.environ.get("WORKER_SECRET_ARN")
    if arn:
        from aws_lambda_powertools.utilities import parameters  # deferred: only this path needs it

        return str(parameters.get_secret(arn, max_age=SECRET_CACHE_SECONDS))
    secret = os.environ.get("WORKER_SECRET", "")
    if not secret:
        raise ApiError(503, "worker_secret_not_configured", "the worker secret is not configured")
    return secret


def require_worker(authorization: str | None = Header(default=None)) -> None:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "unauthorized", "missing bearer token")
    # Constant-time comparison: the secret must not leak through response timing.
    if not hmac.compare_digest(presented.strip().encode(), expected_secret().encode()):
        raise ApiError(401, "unauthorized", "invalid bearer token")
