"""Poll votes through real neonize/whatsmeow: decryption, the session's handling, what it drops.

A vote is encrypted with a key derived from the poll's message secret, which whatsmeow keeps in its
store (``whatsmeow_message_secrets``). The store here is a real whatsmeow store (the repository's
fixture) given a device row and the poll's secret, so whatsmeow opens it as a paired device; the
connect goes nowhere (a refused proxy) and the Go client stays registered, which is all decryption
needs. Votes are encrypted here the way a phone does (whatsmeow's msgsecret.go: HKDF-SHA256 over the
secret, AES-GCM with the poll id and voter as additional data).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from neonize.client import NewClient
from neonize.exc import DecryptPollVoteError, NeonizeError
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa

from tests.unit.test_neonize_mapping import jid, message_event
from zapgate_sidecar.transport import IncomingMessage, PollVote, TransportEvent
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.session import STORE_FILE, NeonizeSession
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whatsmeow" / "unpaired-store.sqlite3"
OWN = "5511999990000@s.whatsapp.net"
DEVICE = "5511999990000:7@s.whatsapp.net"
VOTER = "5511988887777@s.whatsapp.net"
POLL_ID = "3EB0POLLCAFE"
SECRET = bytes(range(32))


def refused_proxy() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"socks5://127.0.0.1:{probe.getsockname()[1]}"


def offline(path: Path, uuid: str) -> NewClient:
    """A registered Go client on `path` whose connect could not reach WhatsApp."""
    load_neonize()  # as the transport does before any neonize use: it repairs decrypt_poll_vote
    from neonize._binder import ProxySettings

    client = NewClient(str(path), uuid=uuid)
    with pytest.raises(NeonizeError):
        client.connect(ProxySettings(proxy_address=refused_proxy()))
    return client


@pytest.fixture(scope="module")
def paired_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewClient]:
    """whatsmeow on a store with a device (keys are random: nothing here talks to WhatsApp) and the poll's secret,
    as whatsmeow stores it when the account sends a poll: chat = the voter, sender = our own phone JID."""
    path = tmp_path_factory.mktemp("paired") / STORE_FILE
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key, signed_pre_key,"
            " signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig, adv_account_sig_key,"
            " adv_device_sig) VALUES (?, 1, ?, ?, ?, 1, ?, ?, x'', ?, ?, ?)",
            (DEVICE, *(os.urandom(n) for n in (32, 32, 32, 64, 32, 64, 32, 64))),
        )
        db.execute("INSERT INTO whatsmeow_message_secrets (our_jid, chat_jid, sender_jid, message_id, key)"
                   " VALUES (?, ?, ?, ?, ?)", (DEVICE, VOTER, OWN, POLL_ID, SECRET))
    client = offline(path, f"poll-votes-{os.getpid()}")
    yield client
    client.stop()


def option_hash(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def vote_event(*chosen: str, poll_id: str = POLL_ID, msg_id: str = "3EB0VOTE01") -> nz.Message:
    """A vote from VOTER on our poll, encrypted as their phone does (whatsmeow EncryptPollVote)."""
    plaintext = wa.PollVoteMessage(selectedOptions=[option_hash(name) for name in chosen]).SerializeToString()
    info = f"{poll_id}{OWN}{VOTER}Poll Vote".encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(SECRET)
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, plaintext, f"{poll_id}\x00{VOTER}".encode())
    # The voter's key: their view of the chat (us), and fromMe=False (the poll is not theirs).
    update = wa.PollUpdateMessage(pollCreationMessageKey=MessageKey(remoteJID=OWN, fromMe=False, ID=poll_id),
                                  vote=wa.PollEncValue(encPayload=sealed, encIV=iv), senderTimestampMS=1)
    return message_event(wa.Message(pollUpdateMessage=update), msg_id=msg_id, chat=jid("5511988887777"))


def our_poll(*options: str) -> nz.Message:
    """The poll as the session sees it when the owner creates it on the phone: a from_me Message event."""
    poll = wa.PollCreationMessage(name="Almoço?", selectableOptionsCount=1,
                                  options=[wa.PollCreationMessage.Option(optionName=o) for o in options])
    return message_event(wa.Message(pollCreationMessage=poll), msg_id=POLL_ID, chat=jid("5511988887777"),
                         sender=jid("5511999990000"), from_me=True)


@contextmanager
def running_on(client: NewClient, *, connected: bool = True) -> Iterator[tuple[NeonizeSession, list[TransportEvent]]]:
    """A session whose current Go client is `client`, as after start() and (if `connected`) Connected.

    The fixture's client cannot connect, so the session's state is set to what Connected leaves; the
    client stays the fixture's (the session never stops it).
    """
    events: list[TransportEvent] = []
    session = NeonizeTransport(proxy_address=refused_proxy()).open_session("inst-votes", Path("/nonexistent"),
                                                                           events.append)
    session._client, session._running, session._connected = client, True, connected
    try:
        yield session, events
    finally:
        session._client, session._running, session._connected = None, False, False


def test_whatsmeow_decrypts_a_vote_for_a_poll_whose_secret_it_holds(paired_client: NewClient) -> None:
    vote = paired_client.decrypt_poll_vote(vote_event("Não"))
    assert list(vote.selectedOptions) == [option_hash("Não")]
    assert list(paired_client.decrypt_poll_vote(vote_event()).selectedOptions) == []  # a removed vote


def test_neonize_0_5_2_needs_the_result_hook_load_neonize_registers(paired_client: NewClient) -> None:
    """Flags the day neonize ships the hook itself (then the repair is a no-op and can go)."""
    from neonize import _binder

    function = _binder.gocode.DecryptPollVote
    assert function.errcheck is _binder.consume_bytes_struct
    function.errcheck = lambda result, _function, _arguments: result  # neonize as shipped: the raw pointer
    try:
        with pytest.raises(TypeError, match="LP_Bytes"):
            paired_client.decrypt_poll_vote(vote_event("Sim"))
    finally:
        function.errcheck = _binder.consume_bytes_struct


def test_the_session_reports_a_vote_on_a_poll_it_saw_with_the_option_names(paired_client: NewClient) -> None:
    with running_on(paired_client) as (session, events):
        session._on_event(paired_client, our_poll("Sim", "Não"))
        session._on_event(paired_client, vote_event("Não", "Sim"))
    created, voted = events
    assert isinstance(created, IncomingMessage) and (created.kind, created.from_me) == ("poll", True)
    assert isinstance(voted, IncomingMessage)
    assert (voted.kind, voted.text, voted.is_protocol, voted.from_me) == ("poll_choice", "Não, Sim", False, False)
    assert (voted.wa_message_id, voted.sender_jid) == ("3EB0VOTE01", VOTER)
    assert voted.poll_vote == PollVote(POLL_ID, (option_hash("Não").hex(), option_hash("Sim").hex()), ("Não", "Sim"))


def test_a_vote_on_a_poll_the_session_never_saw_carries_hashes_only(paired_client: NewClient) -> None:
    with running_on(paired_client) as (session, events):  # a fresh session: as after a sidecar restart
        session._on_event(paired_client, vote_event("Sim", msg_id="3EB0VOTE02"))
        session._on_event(paired_client, vote_event(msg_id="3EB0VOTE03"))
    hashes_only, removed = events
    assert isinstance(hashes_only, IncomingMessage) and isinstance(removed, IncomingMessage)
    assert (hashes_only.kind, hashes_only.text) == ("poll_choice", "")
    assert hashes_only.poll_vote == PollVote(POLL_ID, (option_hash("Sim").hex(),), ())
    assert (removed.kind, removed.poll_vote) == ("poll_choice", PollVote(POLL_ID, (), ()))


def test_a_vote_whatsmeow_cannot_decrypt_is_dropped_and_logged_without_content(
    paired_client: NewClient, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = vote_event("Sim", poll_id="3EB0OTHERPOLL", msg_id="3EB0VOTE04")  # no secret for that poll here
    with pytest.raises(DecryptPollVoteError, match="secret key not found"):
        paired_client.decrypt_poll_vote(unknown)
    tampered = vote_event("Sim", msg_id="3EB0VOTE05")
    tampered.Message.pollUpdateMessage.vote.encPayload = b"\x00" + tampered.Message.pollUpdateMessage.vote.encPayload
    with pytest.raises(DecryptPollVoteError):
        paired_client.decrypt_poll_vote(tampered)

    with caplog.at_level(logging.WARNING), running_on(paired_client) as (session, events):
        session._on_event(paired_client, our_poll("Sim", "Não"))
        session._on_event(paired_client, unknown)
        session._on_event(paired_client, tampered)
    assert [e.kind for e in events if isinstance(e, IncomingMessage)] == ["poll"]  # nothing for either vote
    dropped = [r.getMessage() for r in caplog.records if "poll vote" in r.getMessage()]
    assert dropped == ["neonize session inst-votes: poll vote 3EB0VOTE04 dropped: poll secret not found",
                       "neonize session inst-votes: poll vote 3EB0VOTE05 dropped: DecryptPollVoteError"]


def test_a_vote_reaching_a_session_that_is_not_connected_is_dropped_without_decrypting(
    paired_client: NewClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), running_on(paired_client, connected=False) as (session, events):
        session._on_event(paired_client, vote_event("Sim", msg_id="3EB0VOTE06"))
        assert session._inflight == 0
    assert events == []
    assert "poll vote 3EB0VOTE06 dropped: session not connected" in caplog.text


# ---------------------------------------------------------------- why only a connected session decrypts
_UNPAIRED_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tests.integration.test_neonize_poll_votes import offline, running_on, vote_event

    client = offline(Path(sys.argv[1]), "unpaired-votes")
    with running_on(client, connected=False) as (session, events):
        session._on_event(client, vote_event("Sim"))
    print("GATED", events, flush=True)
    client.decrypt_poll_vote(vote_event("Sim"))  # whatsmeow: nil message-secret store on an unpaired device
    print("SURVIVED", flush=True)
    """
)


def test_decrypting_on_an_unpaired_store_kills_the_process_so_the_session_never_does(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _UNPAIRED_SCRIPT, str(tmp_path / STORE_FILE)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert "GATED []" in result.stdout, result.stderr[-2000:]
    assert "SURVIVED" not in result.stdout and result.returncode != 0
    assert "nil pointer dereference" in result.stderr
