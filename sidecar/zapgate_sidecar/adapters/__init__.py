"""The sidecar's adapters to the outside: the worker-proxy over HTTP, media over HTTP/S3."""
