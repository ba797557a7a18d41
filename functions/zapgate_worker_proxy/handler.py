"""Lambda entry point named in template.yaml: Mangum around the worker-proxy app."""

import gc

from zapgate_control.observability import lambda_handler_for
from zapgate_control.snapstart import install_hooks, prime_http
from zapgate_worker_proxy.app import app

handler = lambda_handler_for(app)

# SnapStart: every route built and a request without the bearer (401, no AWS call) served before the snapshot.
install_hooks(
    prime=lambda: prime_http(app, handler, "/worker-proxy/worker-settings"), clients=("dynamodb", "secretsmanager")
)

# Everything built during init lives as long as the container: moving it out of the collector's
# generations spares the first requests a full collection over all of FastAPI, pydantic and boto3.
gc.freeze()

__all__ = ["app", "handler"]
