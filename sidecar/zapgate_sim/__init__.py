"""A simulated WhatsApp network for local runs and tests (no route to WhatsApp needed).

`network.SimNetwork` holds the state; `server` exposes it over HTTP (a control API for
tests and demos, a transport API for `transports.sim_transport`); `python -m
zapgate_sidecar.sim` serves it on 127.0.0.1:$ZAPGATE_SIM_PORT (default 8001).
"""

from .network import SimError, SimNetwork

__all__ = ["SimError", "SimNetwork"]
