"""The worker-proxy Lambda: the contract sidecars (and the existing Node worker) call."""
