"""Lambda SnapStart runtime hooks, shared by every handler (template.yaml parameter SnapStart, docs/operations.md).

With SnapStart, Lambda runs a function's init once per published version, snapshots the microVM and resumes
new execution environments from that snapshot. So:

- before the snapshot (`before_snapshot`), each handler's *prime* does what its first request would do
  lazily, so that it lands in the snapshot: an HTTP app builds every route's state and serves one request
  that touches no AWS (imports of anyio, Starlette's and Mangum's request path, pydantic validators and
  serialisers); every function creates the boto3 clients it uses (botocore parses its service models);
- after a restore (`after_restore`), whatever must not be shared by every environment resumed from the same
  snapshot is made anew: the `random` module's state, boto3 sessions and clients (credentials and their
  expiry, HTTP connection pools), the cached stores and the handlers' cached dependencies built on them
  (httpx pools: the webhook sender, the automations' tool and model clients), Powertools' parameter and
  secret caches (the worker secret may have been rotated since). Only botocore's parsed service models are
  kept (zapgate_control.aws: pure data).

`snapshot_restore_py` exists only in Lambda's managed Python runtime: elsewhere (tests, the local stack)
nothing is registered and `install_hooks` costs a failed import, once. Tests call the hooks directly.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

__all__ = ["after_restore", "before_snapshot", "install_hooks", "prime_http", "warm_clients"]

_primers: list[Callable[[], object]] = []
_resets: list[Callable[[], object]] = []
_registered = False


def install_hooks(
    *, prime: Callable[[], object] | None = None, resets: Iterable[Callable[..., Any]] = (), clients: Iterable[str] = ()
) -> bool:
    """A handler's priming, its own cached dependencies to rebuild after a restore (`functools.cache`d
    functions: their cache is cleared) and the boto3 clients it uses. True when the runtime took the hooks."""
    services = tuple(clients)
    if prime is not None or services:

        def primer() -> None:
            if prime is not None:
                prime()
            warm_clients(*services)

        _primers.append(primer)
    _resets.extend(getattr(reset, "cache_clear", reset) for reset in resets)
    return _register_with_runtime()


def _register_with_runtime() -> bool:
    global _registered
    if _registered:
        return True
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # not Lambda's runtime: nothing takes snapshots here
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    _registered = True
    return True


def before_snapshot() -> None:
    """Lambda calls it once, after init and before taking the snapshot."""
    for prime in _primers:
        prime()


def after_restore() -> None:
    """Lambda calls it in each environment resumed from the snapshot, before its first invocation."""
    random.seed()  # from os.urandom: every resumed environment would otherwise draw the same sequence
    for reset in _resets:
        reset()
    from zapgate_control import aws, wiring

    wiring.get_stores.cache_clear()
    worker_secret = sys.modules.get("zapgate_control.worker_secret")
    if worker_secret is not None:
        worker_secret._secrets_provider.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:  # Powertools' default providers and their cached values
        parameters.clear_caches()
    aws.reset()  # last: nothing above may create a client from the snapshot's session


def warm_clients(*services: str) -> None:
    """Create the clients a function uses (no request is sent): their service models are parsed into the snapshot."""
    from zapgate_control.aws import client

    for service in services:
        client(service)


# --------------------------------------------------------------------------- HTTP apps (Mangum)
def _context() -> SimpleNamespace:
    """The attributes Powertools' inject_lambda_context reads from a Lambda context."""
    return SimpleNamespace(function_name="snapstart-prime", function_version="$LATEST", memory_limit_in_mb=512,
                           invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:snapstart-prime",
                           aws_request_id=str(uuid.uuid4()), get_remaining_time_in_millis=lambda: 10_000)  # fmt: skip


def http_event(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A minimal API Gateway HTTP API (payload 2.0) GET, as Mangum reads it."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "snapstart.prime", "x-forwarded-proto": "https", **(headers or {})},
        "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                           "requestId": "snapstart-prime", "routeKey": "$default", "stage": "$default"},
        "isBase64Encoded": False,
    }  # fmt: skip


def prime_http(app: Any, handler: Callable[[dict[str, Any], Any], dict[str, Any]], path: str) -> int:
    """Build every route of `app`, then serve GET `path` through the Lambda handler. `path` must touch no AWS
    (the public API's health, the worker-proxy's 401 without a bearer). Returns the status it answered."""
    from zapgate_control.lazy_routes import build_all_routes

    build_all_routes(app)
    return int(handler(http_event(path), _context()).get("statusCode", 0))
