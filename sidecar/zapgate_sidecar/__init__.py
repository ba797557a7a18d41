"""zapgate_sidecar: holds WhatsApp sockets for many instances and speaks the worker-proxy contract.

transport.py is the port every WhatsApp transport implements (neonize for the real network, in
transports/; the simulated network's for local runs and tests, in the separate zapgate_sim package,
which the production image leaves out); the manager and runners above it never know which one runs.
"""
