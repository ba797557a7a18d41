"""``NeonizeTransport``: the WhatsAppTransport port over neonize (whatsmeow), one session per instance.

Importing this module does not load neonize's Go library: a session does, on its own thread, at start().
"""

from __future__ import annotations

from pathlib import Path

from zapgate_sidecar.transport import EventSink
from zapgate_sidecar.transports.neonize.session import NeonizeSession


class NeonizeTransport:
    name = "neonize"

    def __init__(
        self,
        *,
        connect_timeout: float = 30.0,
        stop_timeout: float = 3.0,
        device_name: str = "Zapgate",
        proxy_address: str | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.stop_timeout = stop_timeout
        self.device_name = device_name
        self.proxy_address = proxy_address

    def open_session(
        self, instance_id: str, auth_dir: Path, sink: EventSink, proxy: str | None = None
    ) -> NeonizeSession:
        """`proxy` (issue 13, the instance's own) wins over the transport-wide `proxy_address` (tests)."""
        return NeonizeSession(
            instance_id,
            auth_dir,
            sink,
            connect_timeout=self.connect_timeout,
            stop_timeout=self.stop_timeout,
            device_name=self.device_name,
            proxy_address=proxy or self.proxy_address,
        )
