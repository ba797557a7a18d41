"""boto3 clients, created once per container and only for the services a function uses.

Client creation costs tens of milliseconds each, so it happens lazily on first use rather
than at import, and every client comes from one session: a session per client (boto3's
default for `boto3.client`) reloads the service models and endpoint data each time.
AWS_ENDPOINT_URL (set by the local stack) points them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def session() -> Any:
    import boto3  # deferred: a handler that never touches AWS (errors, auth failures) skips it

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    # SigV4 everywhere: presigned S3 URLs default to SigV2 in some regions, which newer buckets refuse.
    config = Config(signature_version="s3v4") if service == "s3" else None
    return session().client(service, config=config)
