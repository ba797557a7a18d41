"""The sidecars' bearer secret: from Secrets Manager in AWS (cached), from WORKER_SECRET locally.

No FastAPI here: the push channel's $connect (zapgate_push) checks the same secret on a cold start
that should not pay for importing a web framework.
"""

from __future__ import annotations

import hmac
import os
from functools import cache
from typing import Any

from zapgate_control.aws import client
from zapgate_control.errors import ApiError

SECRET_CACHE_SECONDS = 300


@cache
def _secrets_provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # deferred: only this path needs it

    # Our shared client, not a second boto3 session of Powertools' own (tens of ms on a cold start).
    return SecretsProvider(boto3_client=client("secretsmanager"))


def expected_secret() -> str:
    arn = os.environ.get("WORKER_SECRET_ARN")
    if arn:
        return str(_secrets_provider().get(arn, max_age=SECRET_CACHE_SECONDS))
    secret = os.environ.get("WORKER_SECRET", "")
    if not secret:
        raise ApiError(503, "worker_secret_not_configured", "the worker secret is not configured")
    return secret


def check_bearer(authorization: str | None) -> None:
    """Raises ApiError 401 unless `authorization` is `Bearer <the worker secret>`."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "unauthorized", "missing bearer token")
    # Constant-time comparison: the secret must not leak through response timing.
    if not hmac.compare_digest(presented.strip().encode(), expected_secret().encode()):
        raise ApiError(401, "unauthorized", "invalid bearer token")
