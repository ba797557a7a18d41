"""zapgate_sidecar: holds WhatsApp sockets for many instances and speaks the worker-proxy contract.

transport.py is the port every WhatsApp transport implements (neonize for the real network,
sim for local runs and tests); the manager and runners above it never know which one runs.
"""
