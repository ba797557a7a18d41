"""`python -m zapgate_sim`: the sim network on 127.0.0.1:$ZAPGATE_SIM_PORT (default 8001).

Prints exactly one line once the socket is bound (a dev stack waits for it) and exits 0 on
SIGINT/SIGTERM. ZAPGATE_SIM_PORT=0 picks a free port; the printed line names it.
"""

from __future__ import annotations

import os
import sys

from .network import SimNetwork
from .server import SimServer

DEFAULT_PORT = 8001


def main() -> int:
    raw_port = os.environ.get("ZAPGATE_SIM_PORT", "").strip() or str(DEFAULT_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        print(f"ZAPGATE_SIM_PORT must be a port number, got {raw_port!r}", file=sys.stderr)
        return 2
    server = SimServer(SimNetwork(), host="127.0.0.1", port=port, announce=True)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
