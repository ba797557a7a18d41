"""SimSession against a real sim server (uvicorn in a thread): the sidecar's view of the fake network."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    IncomingMessage,
    LoggedOut,
    Outgoing,
    PairingCodeIssued,
    QrShown,
    StreamReplaced,
    TransportError,
    TransportEvent,
)
from zapgate_sim.server import BackgroundSim
from zapgate_sim.transport import CREDENTIALS_FILE, SimSession, SimTransport

PHONE = "5511999990001"
JID = f"{PHONE}@s.whatsapp.net"


class Recorder:
    """An event sink that returns at once (as the port demands) and lets tests wait on events."""

    def __init__(self) -> None:
        self.events: list[TransportEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: TransportEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: type, timeout: float = 5.0, count: int = 1) -> TransportEvent:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if isinstance(e, kind)]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {kind.__name__} (#{count}) within {timeout}s; got {self.events}")
                self._cond.wait(remaining)

    def of(self, kind: type) -> list[TransportEvent]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSim]:
    with BackgroundSim() as running:
        yield running


@pytest.fixture
def control(sim: BackgroundSim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=5.0) as client:
        client.post("/sim/reset").raise_for_status()
        yield client


@pytest.fixture
def open_session(sim: BackgroundSim) -> Iterator[Callable[..., tuple[SimSession, Recorder]]]:
    sessions: list[SimSession] = []

    def opener(instance: str, auth_dir: Path, url: str | None = None, **options: float) -> tuple[
        SimSession, Recorder
    ]:
        recorder = Recorder()
        transport = SimTransport(url or sim.url, **options)  # type: ignore[arg-type]
        session = transport.open_session(instance, auth_dir, recorder)
        sessions.append(session)
        return session, recorder

    yield opener
    for session in sessions:
        session.stop()


def pair(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, auth_dir: Path,
    instance: str = "inst-1",
) -> tuple[SimSession, Recorder]:
    session, events = open_session(instance, auth_dir)
    session.start()
    events.wait_for(QrShown)
    control.post(f"/sim/instances/{instance}/scan", json={"phone": PHONE, "push_name": "Alice"}).raise_for_status()
    events.wait_for(Connected)
    return session, events


def test_qr_scan_connects_and_a_restored_auth_dir_reconnects_without_qr(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, events = open_session("inst-1", tmp_path / "a")
    session.start()
    assert events.wait_for(QrShown) == QrShown(code="SIM-QR:inst-1:1")
    assert control.get("/sim/instances/inst-1").json()["state"] == "waiting_qr"

    scan = control.post("/sim/instances/inst-1/scan", json={"phone": PHONE, "push_name": "Alice"})
    assert scan.status_code == 200
    assert events.wait_for(Connected) == Connected(jid=JID, push_name="Alice")
    stored = json.loads((tmp_path / "a" / CREDENTIALS_FILE).read_text())
    assert stored["credential"].startswith("simcred-")
    assert control.post("/sim/instances/inst-1/scan", json={"phone": PHONE}).status_code == 409

    # Another sidecar restores the persisted auth_dir: same device, no QR.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    other, other_events = open_session("inst-1", tmp_path / "b")
    other.start()
    assert other_events.wait_for(Connected) == Connected(jid=JID, push_name="Alice")
    assert other_events.of(QrShown) == []
    # ...and the first one, still holding the same keys, is told it lost the stream.
    events.wait_for(StreamReplaced)
    info = control.get("/sim/instances/inst-1").json()
    assert (info["state"], info["phone"], info["push_name"]) == ("connected", PHONE, "Alice")


def test_send_text_and_image_are_listed_with_size_and_sha256(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, _ = pair(open_session, control, tmp_path)
    picture = bytes(range(256)) * 40

    text_id = session.send("5511888880000", Outgoing(kind="text", text="hello"))
    image_id = session.send(
        "5511888880000@s.whatsapp.net",
        Outgoing(kind="image", text="a picture", data=picture, mime_type="image/png", file_name="p.png"),
    )

    sent = control.get("/sim/instances/inst-1/sent").json()
    assert [(m["id"], m["to"], m["type"]) for m in sent] == [
        (text_id, "5511888880000@s.whatsapp.net", "text"),
        (image_id, "5511888880000@s.whatsapp.net", "image"),
    ]
    assert sent[0]["body"] == "hello"
    assert (sent[1]["caption"], sent[1]["media_size"], sent[1]["media_sha256"]) == (
        "a picture", len(picture), hashlib.sha256(picture).hexdigest()
    )
    with pytest.raises(TransportError, match="invalid destination: bad-phone-number"):
        session.send("12@s.whatsapp.net", Outgoing(kind="text", text="x"))


def test_send_before_pairing_fails_with_not_connected(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, events = open_session("inst-1", tmp_path)
    with pytest.raises(TransportError, match="not connected"):
        session.send(PHONE, Outgoing(kind="text", text="x"))
    session.start()
    events.wait_for(QrShown)
    with pytest.raises(TransportError, match="not connected"):
        session.send(PHONE, Outgoing(kind="text", text="x"))


def test_inbound_media_arrives_as_media_ref_and_downloads(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, events = pair(open_session, control, tmp_path)
    voice = b"OggS" + bytes(500)

    response = control.post(
        "/sim/instances/inst-1/inbound",
        json={
            "id": "IN-1",
            "chat": "5511888880000@s.whatsapp.net",
            "sender": "5511888880000@s.whatsapp.net",
            "push_name": "Carol",
            "media": {"type": "audio", "mime_type": "audio/ogg", "file_name": None,
                      "base64": base64.b64encode(voice).decode()},
        },
    )
    assert response.status_code == 200

    message = events.wait_for(IncomingMessage)
    assert isinstance(message, IncomingMessage)
    assert (message.wa_message_id, message.chat_jid, message.push_name) == (
        "IN-1", "5511888880000@s.whatsapp.net", "Carol"
    )
    assert message.media is not None
    assert (message.media.kind, message.media.mime_type, message.media.file_size) == ("audio", "audio/ogg", 504)
    assert session.download(message.media) == voice


def test_account_logout_sends_logged_out_and_removes_the_credential_file(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    _, events = pair(open_session, control, tmp_path)
    assert (tmp_path / CREDENTIALS_FILE).exists()

    assert control.post("/sim/instances/inst-1/logout").status_code == 200

    assert isinstance(events.wait_for(LoggedOut), LoggedOut)
    assert not (tmp_path / CREDENTIALS_FILE).exists()
    assert control.get("/sim/instances/inst-1").json()["paired"] is False


def test_device_logout_revokes_and_forgets_the_credential(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    shutil.rmtree(tmp_path / "copy", ignore_errors=True)
    session, events = pair(open_session, control, tmp_path / "live")
    shutil.copytree(tmp_path / "live", tmp_path / "copy")

    session.logout()

    assert not (tmp_path / "live" / CREDENTIALS_FILE).exists()
    events.wait_for(LoggedOut)
    stale, stale_events = open_session("inst-1", tmp_path / "copy")
    stale.start()
    assert stale_events.wait_for(LoggedOut) == LoggedOut(reason="credential revoked")
    assert not (tmp_path / "copy" / CREDENTIALS_FILE).exists()


def test_drop_disconnects_and_start_reconnects_with_the_credential(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, events = pair(open_session, control, tmp_path)

    assert control.post("/sim/instances/inst-1/drop").status_code == 200
    assert events.wait_for(Disconnected) == Disconnected(reason="network blip")
    assert control.get("/sim/instances/inst-1").json()["state"] == "offline"

    session.start()
    events.wait_for(Connected, count=2)
    assert len(events.of(QrShown)) == 1
    assert session.send(PHONE, Outgoing(kind="text", text="back")).startswith("SIM")


def test_start_called_from_the_sinks_reaction_to_disconnected_reconnects(
    sim: BackgroundSim, control: httpx.Client, tmp_path: Path
) -> None:
    events = Recorder()
    holder: list[SimSession] = []

    def sink(event: TransportEvent) -> None:
        events(event)
        if isinstance(event, Disconnected):
            holder[0].start()  # the loop that delivers this is still running

    session = SimTransport(sim.url).open_session("inst-1", tmp_path, sink)
    holder.append(session)
    try:
        session.start()
        events.wait_for(QrShown)
        control.post("/sim/instances/inst-1/scan", json={"phone": PHONE}).raise_for_status()
        events.wait_for(Connected)
        control.post("/sim/instances/inst-1/drop").raise_for_status()
        events.wait_for(Connected, count=2)
        assert control.get("/sim/instances/inst-1").json()["state"] == "connected"
    finally:
        session.stop()


def test_pairing_code_then_phone_pairs(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, events = open_session("inst-1", tmp_path)
    session.start()
    events.wait_for(QrShown)

    session.request_pairing_code("+55 11 99999-0001")

    issued = events.wait_for(PairingCodeIssued)
    assert isinstance(issued, PairingCodeIssued) and len(issued.code) == 8
    info = control.get("/sim/instances/inst-1").json()
    assert (info["pairing_code"], info["pairing_phone"]) == (issued.code, PHONE)
    control.post("/sim/instances/inst-1/scan", json={"phone": PHONE}).raise_for_status()
    assert events.wait_for(Connected) == Connected(jid=JID, push_name=None)
    with pytest.raises(TransportError, match="not waiting for pairing"):
        session.request_pairing_code(PHONE)


def test_stop_is_prompt_during_a_long_poll_and_closes_the_socket(
    open_session: Callable[..., tuple[SimSession, Recorder]], control: httpx.Client, tmp_path: Path
) -> None:
    session, _ = pair(open_session, control, tmp_path)
    time.sleep(0.2)  # let the loop park in its 10 s long-poll

    started = time.monotonic()
    session.stop()

    assert time.monotonic() - started < 1.0
    assert control.get("/sim/instances/inst-1").json()["state"] == "offline"
    assert (tmp_path / CREDENTIALS_FILE).exists()  # stop keeps the auth state


def test_unreachable_network_reports_connect_failed_and_keeps_retrying(
    open_session: Callable[..., tuple[SimSession, Recorder]], tmp_path: Path
) -> None:
    port = free_port()
    session, events = open_session("inst-1", tmp_path, url=f"http://127.0.0.1:{port}", retry_delay_s=0.1,
                                    max_retry_delay_s=0.2)
    session.start()
    failed = events.wait_for(ConnectFailed)
    assert isinstance(failed, ConnectFailed)
    assert failed.reason.startswith("sim network unreachable: ")
    assert not failed.permanent
    time.sleep(0.5)
    assert len(events.of(ConnectFailed)) == 1  # one report per outage, retries stay quiet
    assert events.of(Connected) == [] and events.of(QrShown) == []
    with pytest.raises(TransportError, match="not connected"):  # never pretends to be connected
        session.send(PHONE, Outgoing(kind="text", text="x"))

    # The network comes up on that port: the retry loop gets there without help.
    with BackgroundSim(port=port):
        events.wait_for(QrShown)
        started = time.monotonic()
        session.stop()
        assert time.monotonic() - started < 1.0


def test_network_going_away_disconnects_the_session(
    open_session: Callable[..., tuple[SimSession, Recorder]], tmp_path: Path
) -> None:
    private = BackgroundSim().start()
    try:
        session, events = open_session("inst-1", tmp_path, url=private.url)
        session.start()
        events.wait_for(QrShown)
    finally:
        private.stop()
    disconnected = events.wait_for(Disconnected)
    assert isinstance(disconnected, Disconnected)
    assert "sim network" in disconnected.reason
    assert events.of(Connected) == []


def test_module_entry_point_announces_its_port_and_exits_cleanly_on_sigterm_and_sigint() -> None:
    env = {**os.environ, "ZAPGATE_SIM_PORT": "0"}
    # Both at once: the cost here is interpreter start-up, which the two can share in time.
    procs = {
        sig: subprocess.Popen(
            [sys.executable, "-m", "zapgate_sim"], env=env, stdout=subprocess.PIPE, text=True
        )
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        for sig, proc in procs.items():
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("zapgate sim network on http://127.0.0.1:")
            url = line.rsplit(" ", 1)[1]
            assert httpx.get(f"{url}/sim/health", timeout=5.0).json() == {"ok": True}
            proc.send_signal(sig)
        for sig, proc in procs.items():
            assert proc.wait(timeout=5.0) == 0, sig
            assert proc.stdout is not None and proc.stdout.read() == ""  # exactly one line
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sessions_share_one_ssl_context(tmp_path: Path) -> None:
    """Each httpx.Client used to load the CA bundle into an SSL context of its own, ~0.7 MB, two per session:
    most of a sidecar's RSS per sim instance (bench/sidecar_scale.py). 200 clients now cost a few MB."""

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    transport = SimTransport("http://127.0.0.1:9")
    transport.open_session("warm-up", tmp_path / "warm-up", lambda event: None)
    before = rss_mb()
    sessions = [transport.open_session(f"i{n}", tmp_path / f"i{n}", lambda event: None) for n in range(200)]
    grown = rss_mb() - before
    assert len(sessions) == 200 and grown < 30, f"{grown:.1f} MB for 200 sessions"  # was ~140 MB


def test_a_started_background_sim_already_knows_its_port() -> None:
    """uvicorn reports `started` a moment before the sim reads its bound port; a caller that took the url in that
    moment got 'http://127.0.0.1:None' (it failed CI once). start() returns only once the url is whole."""
    for _ in range(10):
        with BackgroundSim() as running:
            assert running.server.ready.is_set()
            assert running.url.rsplit(":", 1)[1].isdigit(), running.url
            assert httpx.get(f"{running.url}/sim/groups").is_success
