"""Wire models of the worker-proxy contract (../shared/contracts/worker-proxy.md)."""
