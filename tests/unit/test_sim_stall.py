"""The sim's test-only stall: the next check / chat presence runs at once and answers late, once."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from zapgate_sim.network import SimNetwork
from zapgate_sim.server import create_app

FRIEND = "5511966665555@s.whatsapp.net"


def _paired(net: SimNetwork, instance: str = "i1") -> str:
    session, _ = net.connect(instance)
    net.scan(instance, "5511999990001", "Alice")
    return session


def test_a_stalled_presence_is_seen_at_once_and_answered_late_once() -> None:
    net = SimNetwork()
    session = _paired(net)
    net.stall("i1", 0.4)
    started = time.monotonic()
    answered = threading.Thread(target=net.send_chat_presence, args=("i1", session, FRIEND, "composing"))
    answered.start()
    time.sleep(0.1)
    assert answered.is_alive()
    assert [p["state"] for p in net.presences("i1")] == ["composing"]  # on the network while the answer waits
    answered.join(2)
    assert time.monotonic() - started >= 0.4

    started = time.monotonic()
    net.send_chat_presence("i1", session, FRIEND, "paused")  # the stall was for one call only
    assert time.monotonic() - started < 0.2


def test_a_stalled_check_answers_late_and_a_shutdown_releases_it() -> None:
    net = SimNetwork()
    session = _paired(net)
    net.stall("i1", 30)
    answers: list[object] = []
    checking = threading.Thread(target=lambda: answers.append(net.check_numbers("i1", session, ["5511999990001"])))
    checking.start()
    time.sleep(0.1)
    assert checking.is_alive() and not answers
    net.shutdown()
    checking.join(2)
    assert not checking.is_alive() and answers


def test_the_stall_route_takes_seconds() -> None:
    client = TestClient(create_app(SimNetwork()))
    assert client.post("/sim/instances/i1/stall", json={"seconds": 2.5}).json() == {"ok": True}
    assert client.post("/sim/instances/i1/stall", json={"seconds": 0}).status_code == 422
    assert client.post("/sim/instances/i1/stall", json={"seconds": 61}).status_code == 422
