"""The sim transport's requests to the phone over HTTP against a running sim network: check numbers, chat
presence, and their failures as the port names them (the network's rules: tests/unit/test_sidecar_requests.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from zapgate_sidecar.transport import NetworkUnreachable, Refused


def test_sim_transport_speaks_both_operations_over_http(tmp_path: Path) -> None:
    from zapgate_sim.server import BackgroundSim
    from zapgate_sim.transport import SimTransport

    with BackgroundSim() as sim:
        events: list[Any] = []
        got = threading.Event()

        def sink(event: Any) -> None:
            events.append(event)
            got.set()

        session = SimTransport(sim.url, poll_wait_ms=500).open_session("inst-t", tmp_path, sink)
        with pytest.raises(NetworkUnreachable):
            session.check_numbers(["5511966665555"])  # not started
        session.start()
        try:
            assert got.wait(5)
            assert httpx.post(f"{sim.url}/sim/instances/inst-t/scan", json={"phone": "5511999990000"}).is_success
            assert httpx.post(f"{sim.url}/sim/accounts", json={"phone": "5511966665555"}).is_success
            deadline = time.monotonic() + 5
            while session._session_id is None or len(events) < 2:
                assert time.monotonic() < deadline, events
                time.sleep(0.05)
            checks = session.check_numbers(["5511966665555", "5511900000000"])
            assert [(c.number, c.exists) for c in checks] == [("5511966665555", True), ("5511900000000", False)]
            session.send_chat_presence("5511966665555@s.whatsapp.net", "paused")
            seen = httpx.get(f"{sim.url}/sim/instances/inst-t/presences").json()
            assert [(p["chat"], p["state"]) for p in seen] == [("5511966665555@s.whatsapp.net", "paused")]
            with pytest.raises(Refused):
                session.send_chat_presence("nobody", "paused")
        finally:
            session.stop()
