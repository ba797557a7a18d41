"""boto3 clients, created once per container and only for the services a function uses.

Client creation costs tens of milliseconds each, so it happens lazily on first use rather
than at import, and every client comes from one session: a session per client (boto3's
default for `boto3.client`) reloads the service models and endpoint data each time.
AWS_ENDPOINT_URL (set by the local stack) points them at moto.

`reset()` (SnapStart's after-restore hook, zapgate_control/snapstart.py) drops the session and every
client, so credentials and connection pools are made anew; botocore's data loader, which holds only the
parsed service models and endpoint data, is kept and handed to the next session.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_loader: list[Any] = []  # botocore's data loader of the first session (pure data: survives reset())


@cache
def session() -> Any:
    import boto3  # deferred: a handler that never touches AWS (errors, auth failures) skips it
    import botocore.session

    core = botocore.session.get_session()
    if _loader:
        core.register_component("data_loader", _loader[0])
    else:
        _loader.append(core.get_component("data_loader"))
    return boto3.session.Session(botocore_session=core)


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """`endpoint_url` for services reached at a per-deployment address (the WebSocket management API:
    LIVE_ENDPOINT_URL); None = the service's own, or AWS_ENDPOINT_URL when set."""
    from botocore.config import Config

    config = None
    if service == "s3":
        # SigV4 everywhere: presigned S3 URLs default to SigV2 in some regions, which newer buckets refuse.
        config = Config(signature_version="s3v4")
    elif service == "apigatewaymanagementapi":
        # A push is best-effort and shares the processor's batch time with webhook POSTs: fail fast.
        config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})
    return session().client(service, config=config, endpoint_url=endpoint_url)


def reset() -> None:
    """A new session (fresh credentials) and new clients (fresh connection pools) on next use."""
    client.cache_clear()
    session.cache_clear()
