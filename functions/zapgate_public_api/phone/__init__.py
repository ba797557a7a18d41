"""Requests to the phone (issue 10): routes that ask the sidecar holding the instance and wait for its
answer, one module per concern. docs/requests.md lists each route's operation, result and errors."""
