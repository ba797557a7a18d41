"""An instance's proxy reaches whatsmeow (issue 13): real neonize objects, offline.

The proxy is a local port: refused (nothing listens) or silent (a listener that accepts and says nothing).
Either way the connection attempt provably goes to it, and the session's reports never carry its credentials.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from zapgate_sidecar.transport import ConnectFailed, TransportEvent
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

PASSWORD = "s3cr3t-Pw-9931"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_instance_proxy_is_dialled_and_its_credentials_stay_out_of_the_report(tmp_path: Path) -> None:
    port = _closed_port()
    events: queue.Queue[TransportEvent] = queue.Queue()
    transport = NeonizeTransport(connect_timeout=10, stop_timeout=2)  # no transport-wide proxy: the instance's
    session = transport.open_session("inst-proxy", tmp_path / "auth", events.put,
                                      proxy=f"socks5://zapuser:{PASSWORD}@127.0.0.1:{port}")
    assert session._proxy_address == f"socks5://zapuser:{PASSWORD}@127.0.0.1:{port}"
    assert session._proxy_settings() is not None  # neonize's ProxySettings, handed to client.connect
    session.start()
    try:
        event = events.get(timeout=20)
    finally:
        session.stop()
    assert isinstance(event, ConnectFailed), event
    assert event.reason.startswith("whatsapp unreachable: ")
    assert f"127.0.0.1:{port}" in event.reason  # whatsmeow dialled the proxy, not WhatsApp
    assert PASSWORD not in event.reason and "zapuser" not in event.reason


_SILENT_PROXY_SCRIPT = textwrap.dedent(
    """
    import os, socket, sys, threading, time
    from pathlib import Path
    from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(listener.accept()) for _ in iter(int, 1)], daemon=True).start()
    events = []
    port = listener.getsockname()[1]
    session = NeonizeTransport(connect_timeout=1.5, stop_timeout=1.0).open_session(
        "silent-proxy", Path(sys.argv[1]), events.append, proxy=f"http://u:p@127.0.0.1:{port}")
    session.start()
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    session.stop()
    print("ACCEPTED", len(accepted))
    sys.stdout.flush()
    os._exit(0)  # neonize's hung dial holds a non-daemon thread (see test_neonize_store.py)
    """
)


def test_an_http_proxy_gets_the_connection(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _SILENT_PROXY_SCRIPT, str(tmp_path / "auth")],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert int(lines["ACCEPTED"]) >= 1  # whatsmeow opened its connection to the HTTP proxy
