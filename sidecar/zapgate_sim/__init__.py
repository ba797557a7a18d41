"""A simulated WhatsApp network for local runs and tests (no route to WhatsApp needed).

`network.SimNetwork` holds the state; `server` exposes it over HTTP (a control API for
tests and demos, a transport API for `transport`); `python -m zapgate_sim` serves it on
127.0.0.1:$ZAPGATE_SIM_PORT (default 8001). `transport.SimTransport` is the sidecar's
WhatsAppTransport over that HTTP API, chosen with ZAPGATE_TRANSPORT=sim.

A package of its own, beside zapgate_sidecar rather than inside it: the sidecar image copies
zapgate_sidecar only, so none of this ships to production, and the sidecar imports
`transport` only when the setting asks for it (zapgate_sidecar/app.py).
"""

from .network import SimError, SimNetwork

__all__ = ["SimError", "SimNetwork"]
