"""One instance's life on this sidecar, split by concern; `InstanceRuntime` ties the parts together.

- instance.py: the coordinator — the event loop (session events and commands, one at a time), stop, health.
- session.py: the WhatsApp session — open, close, reconnect after backoff, start over, status reports, keys.
- outbound_runner.py: claims queued messages and sends them while connected.
- inbound_forwarding.py: inbound messages and receipts, up to the control plane.
- commands.py: the public API's instance commands, each run once and acked.
- requests.py: requests to the phone (check numbers, chat presence), claimed, run and answered;
  request_ops.py: what each does on the session and how its failure becomes the answer's error.
- deps.py: what a runtime needs from the sidecar around it.
"""

from zapgate_sidecar.runtime.commands import CommandFailed
from zapgate_sidecar.runtime.deps import RuntimeDeps
from zapgate_sidecar.runtime.instance import InstanceRuntime

__all__ = ["CommandFailed", "InstanceRuntime", "RuntimeDeps"]
