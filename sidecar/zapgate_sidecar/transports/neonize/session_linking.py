"""Linking a device: the QR codes and the QR channel's outcome, and the phone-number pairing code.

QR codes and the QR channel's outcome ("timeout", ...) come from neonize's separate callbacks on the
connecting thread. A pairing code (whatsmeow's PairPhone) needs the unpaired socket up, which the first QR
proves. When a QR pairing ends unfinished, goneonize waits forever for a device id, or for a QR channel that
a local Disconnect never closes: the connecting thread never ends (see session.py on leaving the process).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from zapgate_sidecar.transport import NetworkUnreachable, PairingCodeIssued, TransportError
from zapgate_sidecar.transports.neonize import inbound_mapping
from zapgate_sidecar.transports.neonize.errors import command_error
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.session_core import SessionCore

if TYPE_CHECKING:
    from neonize.client import NewClient


class SessionLinking(SessionCore):
    def _on_qr(self, client: NewClient, code: bytes) -> None:
        if not self._is_current(client):
            self._stop_go_client(client)
            return
        with self._cond:
            self._pairing_ready = True
        self._emit(client, inbound_mapping.map_qr(code))

    def _on_login_status(self, client: NewClient, status: str) -> None:
        if not self._is_current(client):
            return
        with self._cond:
            self._pairing_ready = False  # the QR channel ended: paired, expired or failed
        event = inbound_mapping.map_login_status(status)
        if event is not None:
            self._emit(client, event)

    def request_pairing_code(self, phone: str) -> None:
        digits = re.sub(r"\D", "", phone)
        if not 8 <= len(digits) <= 15:
            raise TransportError("pairing code: phone must have 8 to 15 digits with country code")
        # PairPhone needs the unpaired socket up, which the first QR proves; wait for it (or
        # for the attempt to end) when called right after start().
        with self._cond:
            if not self._running:
                raise TransportError("pairing code: not connected")
            self._cond.wait_for(
                lambda: self._pairing_ready or self._connected or self._failure_reported or not self._running,
                timeout=self._connect_timeout,
            )
            if self._connected:
                raise TransportError("pairing code: already paired")
            if not self._pairing_ready:
                raise NetworkUnreachable("pairing code: not connected (no pairing socket)")
        load_neonize()
        from neonize.utils.enum import ClientName, ClientType

        with self._go_call(need_connected=False) as client:
            try:
                code = client.PairPhone(digits, True, ClientName.LINUX, ClientType.CHROME)
            except Exception as exc:
                raise command_error("pairing code", exc) from exc
        self._emit(client, PairingCodeIssued(code=code))
