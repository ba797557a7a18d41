"""The neonize transport against real neonize/whatsmeow, up to the network boundary.

Nothing is mocked: stores are created by whatsmeow itself, sessions run the real Go client.
WhatsApp is made unreachable deterministically (a SOCKS proxy on a closed local port, or a
local peer that accepts TCP and never answers), so the tests behave the same on a machine
with internet. One test uses the machine's own network and runs only when web.whatsapp.com
does not resolve, which is the state this repository's CI and dev boxes are in.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from neonize.client import ClientFactory, NewClient
from neonize.exc import NeonizeError, UploadError

from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    MediaRef,
    NetworkUnreachable,
    Outgoing,
    QrShown,
    TransportError,
    TransportEvent,
)
from zapgate_sidecar.transports.neonize.errors import command_error
from zapgate_sidecar.transports.neonize.outbound_builders import build_outgoing
from zapgate_sidecar.transports.neonize.session import STORE_FILE, NeonizeSession
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whatsmeow" / "unpaired-store.sqlite3"
# Tables whatsmeow's sqlstore creates (upgrade 15 / compat 8 in neonize 0.5.2).
EXPECTED_TABLES = {
    "whatsmeow_version",
    "whatsmeow_device",
    "whatsmeow_identity_keys",
    "whatsmeow_pre_keys",
    "whatsmeow_sessions",
    "whatsmeow_sender_keys",
    "whatsmeow_app_state_sync_keys",
    "whatsmeow_app_state_version",
    "whatsmeow_app_state_mutation_macs",
    "whatsmeow_contacts",
    "whatsmeow_chat_settings",
    "whatsmeow_message_secrets",
    "whatsmeow_privacy_tokens",
    "whatsmeow_lid_map",
    "whatsmeow_event_buffer",
    "whatsmeow_retry_buffer",
    "whatsmeow_nct_salt",
}


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def refused_proxy() -> str:
    return f"socks5://127.0.0.1:{closed_port()}"


def whatsapp_resolves() -> bool:
    try:
        socket.getaddrinfo("web.whatsapp.com", 443)
    except OSError:
        return False
    return True


def tables(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


class Events:
    """A sink that only enqueues, as the port requires."""

    def __init__(self) -> None:
        self.queue: queue.Queue[TransportEvent] = queue.Queue()

    def __call__(self, event: TransportEvent) -> None:
        self.queue.put(event)

    def next(self, timeout: float) -> TransportEvent:
        return self.queue.get(timeout=timeout)

    def drain(self) -> list[TransportEvent]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


@pytest.fixture()
def session(tmp_path: Path) -> Iterator[tuple[NeonizeSession, Events]]:
    events = Events()
    transport = NeonizeTransport(connect_timeout=10, stop_timeout=2, proxy_address=refused_proxy())
    opened = transport.open_session("inst-test", tmp_path / "auth", events)
    yield opened, events
    opened.stop()


# ---------------------------------------------------------------- the store whatsmeow writes
@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store created by whatsmeow itself: NewClient + a connect attempt that cannot reach WhatsApp."""
    path = tmp_path_factory.mktemp("store") / STORE_FILE
    client = NewClient(str(path), uuid=f"store-fixture-{os.getpid()}")
    from neonize._binder import ProxySettings

    with pytest.raises(NeonizeError, match="failed to dial whatsapp web websocket"):
        client.connect(ProxySettings(proxy_address=refused_proxy()))
    client.stop()
    return path


def test_whatsmeow_creates_its_sqlite_store_on_connect(real_store: Path) -> None:
    assert real_store.is_file()
    assert tables(real_store) >= EXPECTED_TABLES
    with sqlite3.connect(f"file:{real_store}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM whatsmeow_device").fetchone() == (0,)  # never paired
        (version, compat) = db.execute("SELECT version, compat FROM whatsmeow_version").fetchone()
    assert version >= 1 and compat >= 1
    # neonize's own reader of the store agrees: no device in it
    assert ClientFactory.get_all_devices_from_db(str(real_store)) == []


def test_fixture_copy_matches_a_fresh_store_and_whatsmeow_reopens_it(real_store: Path, tmp_path: Path) -> None:
    """tests/fixtures/whatsmeow/unpaired-store.sqlite3 is a real store; this flags it when neonize's schema moves."""
    assert FIXTURE.is_file() and FIXTURE.stat().st_size < 200_000
    assert tables(FIXTURE) == tables(real_store)
    with sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True) as db:
        fixture_version = db.execute("SELECT version, compat FROM whatsmeow_version").fetchone()
    with sqlite3.connect(f"file:{real_store}?mode=ro", uri=True) as db:
        assert db.execute("SELECT version, compat FROM whatsmeow_version").fetchone() == fixture_version

    restored = tmp_path / "auth" / STORE_FILE
    restored.parent.mkdir()
    shutil.copyfile(FIXTURE, restored)
    client = NewClient(str(restored), uuid=f"fixture-reopen-{os.getpid()}")
    from neonize._binder import ProxySettings

    # whatsmeow opens and upgrades it (a no-op here) before dialling; the dial is what fails
    with pytest.raises(NeonizeError, match="failed to dial"):
        client.connect(ProxySettings(proxy_address=refused_proxy()))
    client.stop()
    assert ClientFactory.get_all_devices_from_db(str(restored)) == []


# ---------------------------------------------------------------- sessions, offline
def test_start_against_unreachable_whatsapp_reports_connect_failed(session: tuple[NeonizeSession, Events]) -> None:
    opened, events = session
    started = time.monotonic()
    opened.start()
    assert time.monotonic() - started < 0.5  # start() returns at once; neonize loads on the session thread

    event = events.next(timeout=15)
    assert isinstance(event, ConnectFailed)
    assert event.reason.startswith("whatsapp unreachable: ")
    assert "connection refused" in event.reason
    assert event.permanent is False
    assert not opened.connected
    assert opened.store_path.is_file()  # the store exists even though WhatsApp was never reached

    stopping = time.monotonic()
    opened.stop()
    assert time.monotonic() - stopping < 2.5
    time.sleep(0.3)
    assert events.drain() == []  # the failure is reported once, nothing after stop


@pytest.mark.skipif(whatsapp_resolves(), reason="needs a machine without a route to WhatsApp")
def test_start_on_this_machines_network_reports_unreachable(tmp_path: Path) -> None:
    events = Events()
    opened = NeonizeTransport(connect_timeout=10, stop_timeout=2).open_session("inst-net", tmp_path, events)
    opened.start()
    try:
        event = events.next(timeout=15)
        assert isinstance(event, ConnectFailed), event
        assert not isinstance(event, Connected | QrShown)
        assert event.reason.startswith("whatsapp unreachable: ")
        assert event.permanent is False
    finally:
        started = time.monotonic()
        opened.stop()
        assert time.monotonic() - started < 2.5


def test_session_restarts_with_a_fresh_client_after_stop(session: tuple[NeonizeSession, Events]) -> None:
    opened, events = session
    for _ in range(2):
        opened.start()
        event = events.next(timeout=15)
        assert isinstance(event, ConnectFailed) and event.reason.startswith("whatsapp unreachable")
        opened.stop()
    assert events.drain() == []


def test_commands_without_a_connection_raise_transport_error(session: tuple[NeonizeSession, Events]) -> None:
    opened, events = session
    text = Outgoing(kind="text", text="olá")
    media = MediaRef(kind="image", mime_type="image/jpeg", file_name=None, file_size=1, handle=object())

    with pytest.raises(TransportError, match=r"^not connected$"):
        opened.send("5511988887777@s.whatsapp.net", text)  # never started
    with pytest.raises(TransportError, match="not connected"):
        opened.request_pairing_code("+55 11 98888-7777")

    opened.start()
    assert isinstance(events.next(timeout=15), ConnectFailed)
    with pytest.raises(TransportError, match=r"^not connected$"):
        opened.send("5511988887777@s.whatsapp.net", text)  # started, but WhatsApp unreachable
    with pytest.raises(TransportError, match=r"^not connected$"):
        opened.send("5511988887777@s.whatsapp.net", Outgoing(kind="image", data=b"\xff\xd8", mime_type="image/jpeg"))
    with pytest.raises(TransportError, match="not a neonize message"):
        opened.download(media)
    with pytest.raises(TransportError, match=r"^not connected$"):
        opened.logout()
    with pytest.raises(TransportError, match="no pairing socket"):
        opened.request_pairing_code("5511988887777")  # the attempt already ended: no wait
    with pytest.raises(TransportError, match="8 to 15 digits"):
        opened.request_pairing_code("123")

    opened.stop()
    with pytest.raises(TransportError, match=r"^not connected$"):
        opened.send("5511988887777@s.whatsapp.net", text)


# ---------------------------------------------------------------- a peer that never answers
_SILENT_PEER_SCRIPT = textwrap.dedent(
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
    transport = NeonizeTransport(
        connect_timeout=1.5, stop_timeout=1.0, proxy_address=f"socks5://127.0.0.1:{listener.getsockname()[1]}"
    )
    session = transport.open_session("silent", Path(sys.argv[1]), events.append)
    session.start()
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    session.stop()
    print("EVENTS", [type(e).__name__ + ":" + getattr(e, "reason", "") for e in events])
    print("STOP_SECONDS", round(time.monotonic() - started, 3))
    print("ACCEPTED", len(accepted))
    sys.stdout.flush()
    # neonize runs its blocking Go call on a non-daemon thread that a hung dial never releases:
    # a normal interpreter exit would wait for it, so the process ends the way the sidecar must.
    os._exit(0)
    """
)


def test_silent_peer_connect_watchdog_and_bounded_stop(tmp_path: Path) -> None:
    """whatsmeow's dial has no timeout and Stop waits behind it: the watchdog and stop() must not."""
    result = subprocess.run(
        [sys.executable, "-c", _SILENT_PEER_SCRIPT, str(tmp_path / "auth")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["EVENTS"] == "['ConnectFailed:whatsapp unreachable: no answer from web.whatsapp.com within 1.5s']"
    assert int(lines["ACCEPTED"]) >= 1  # the dial really reached the silent peer
    assert float(lines["STOP_SECONDS"]) < 1.6


# ---------------------------------------------------------------- outgoing media, up to the upload
@pytest.fixture(scope="module")
def offline_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewClient]:
    """A registered Go client whose socket never came up: uploads reach whatsmeow and stop there."""
    from neonize._binder import ProxySettings

    client = NewClient(str(tmp_path_factory.mktemp("offline") / STORE_FILE), uuid=f"offline-{os.getpid()}")
    with pytest.raises(NeonizeError):
        client.connect(ProxySettings(proxy_address=refused_proxy()))
    yield client
    client.stop()


def png_bytes() -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (16, 16), "green").save(buffer, "PNG")
    return buffer.getvalue()


def test_text_is_handed_to_neonize_as_is(offline_client: NewClient) -> None:
    assert build_outgoing(offline_client, Outgoing(kind="text", text="olá @5511988887777")) == "olá @5511988887777"
    with pytest.raises(TransportError, match="empty text"):
        build_outgoing(offline_client, Outgoing(kind="text", text=""))
    with pytest.raises(TransportError, match="no media data"):
        build_outgoing(offline_client, Outgoing(kind="document", text="caption only"))


def test_undecodable_image_fails_before_any_upload(offline_client: NewClient) -> None:
    with pytest.raises(TransportError, match="not a decodable image"):
        build_outgoing(offline_client, Outgoing(kind="image", data=b"not an image", mime_type="image/jpeg"))


@pytest.mark.parametrize(
    "outgoing",
    [
        Outgoing(kind="image", text="foto", data=png_bytes(), mime_type="image/png"),
        Outgoing(kind="document", text="pdf", data=b"%PDF-1.4\n%zapgate\n", mime_type="application/pdf",
                 file_name="a.pdf"),
        Outgoing(kind="audio", data=b"OggS\x00\x02" + b"\x00" * 64, mime_type="audio/ogg; codecs=opus"),
        Outgoing(kind="video", text="vídeo", data=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64),
    ],
    ids=["image", "document", "audio", "video"],
)
def test_media_reaches_whatsmeow_upload_and_fails_there_as_unreachable(
    offline_client: NewClient, outgoing: Outgoing
) -> None:
    with pytest.raises(UploadError) as raised:
        build_outgoing(offline_client, outgoing)
    assert "websocket not connected" in str(raised.value)
    mapped = command_error(f"send {outgoing.kind}", raised.value)
    assert isinstance(mapped, NetworkUnreachable)
    assert str(mapped).startswith(f"send {outgoing.kind}: whatsapp unreachable: ")


def test_every_event_the_session_handles_is_one_neonize_defines() -> None:
    # The session registers its handlers by name; a name neonize renamed would fail only at connect time.
    from neonize import events

    from zapgate_sidecar.transports.neonize.session import HANDLED_EVENTS

    missing = [name for name in HANDLED_EVENTS if not isinstance(getattr(events, name, None), type)]
    assert missing == []
    assert "ConnectedEv" not in HANDLED_EVENTS and isinstance(events.ConnectedEv, type)
