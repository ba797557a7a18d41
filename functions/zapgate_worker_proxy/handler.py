"""Lambda entry point named in template.yaml: Mangum around the worker-proxy app."""

from zapgate_control.observability import lambda_handler_for
from zapgate_worker_proxy.app import app

handler = lambda_handler_for(app)

__all__ = ["app", "handler"]
