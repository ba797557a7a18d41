"""Rules of the simulated WhatsApp network (zapgate_sim.network), no HTTP involved."""

from __future__ import annotations

import hashlib
import inspect
import threading
import time
from typing import Any

import pytest

from zapgate_sidecar.transport import (
    Connected,
    IncomingMessage,
    LoggedOut,
    PairingCodeIssued,
    QrShown,
    ReceiptReceived,
    StreamReplaced,
    Undecryptable,
    WhatsAppSession,
    WhatsAppTransport,
)
from zapgate_sim import network as simnet
from zapgate_sim.network import (
    InvalidRequest,
    NoPendingPairing,
    NotConnected,
    NotFound,
    NotPaired,
    ShuttingDown,
    SimNetwork,
    UnknownSession,
)
from zapgate_sim.transport import SimSession, SimTransport, decode_event

PHONE = "5511999990001"


def events(net: SimNetwork, instance: str, session: str, after: int = 0) -> list[dict[str, Any]]:
    return net.poll(instance, session, after, 0)["events"]


def types(net: SimNetwork, instance: str, session: str) -> list[str]:
    return [e["type"] for e in events(net, instance, session)]


def paired(net: SimNetwork, instance: str = "i1", phone: str = PHONE) -> tuple[str, str]:
    """A connected session on a freshly paired instance: (session id, credential)."""
    session, _ = net.connect(instance)
    net.scan(instance, phone, "Alice")
    credential = events(net, instance, session)[-1]["credential"]
    return session, credential


def test_qr_then_scan_connects_with_phone_jid_and_push_name() -> None:
    net = SimNetwork()
    session, cursor = net.connect("i1")
    assert cursor == 0
    first = events(net, "i1", session)
    assert first == [{"seq": 1, "type": "qr_shown", "code": "SIM-QR:i1:1"}]
    info = net.info("i1")
    assert (info["state"], info["qr"], info["paired"]) == ("waiting_qr", "SIM-QR:i1:1", False)

    net.scan("i1", "+55 11 99999-0001", "Alice")

    connected = events(net, "i1", session, after=1)
    assert len(connected) == 1
    assert connected[0]["type"] == "connected"
    assert connected[0]["jid"] == f"{PHONE}@s.whatsapp.net"
    assert connected[0]["push_name"] == "Alice"
    assert connected[0]["credential"].startswith("simcred-")
    info = net.info("i1")
    assert (info["state"], info["phone"], info["qr"], info["paired"]) == ("connected", PHONE, None, True)


def test_scan_without_pending_qr_is_refused() -> None:
    net = SimNetwork()
    with pytest.raises(NoPendingPairing):
        net.scan("nobody", PHONE)
    paired(net)
    with pytest.raises(NoPendingPairing):
        net.scan("i1", PHONE)
    net.connect("i2")
    with pytest.raises(InvalidRequest):
        net.scan("i2", "not-a-phone")


def test_qr_attempts_are_counted_and_a_newer_qr_supersedes_the_pending_one() -> None:
    net = SimNetwork()
    first, _ = net.connect("i1")
    second, _ = net.connect("i1")
    assert types(net, "i1", first) == ["qr_shown", "disconnected"]
    assert net.poll("i1", first, 0, 0)["closed"] is True
    assert events(net, "i1", second)[0]["code"] == "SIM-QR:i1:2"
    assert net.info("i1")["qr"] == "SIM-QR:i1:2"


def test_valid_credential_reconnects_without_qr() -> None:
    net = SimNetwork()
    session, credential = paired(net)
    net.disconnect("i1", session)
    assert net.info("i1")["state"] == "offline"

    again, _ = net.connect("i1", credential)
    got = events(net, "i1", again)
    assert [e["type"] for e in got] == ["connected"]
    assert got[0]["jid"] == f"{PHONE}@s.whatsapp.net"
    assert got[0]["credential"] == credential
    assert net.info("i1")["state"] == "connected"


def test_unknown_credential_is_logged_out() -> None:
    net = SimNetwork()
    session, _ = net.connect("i1", "simcred-made-up")
    got = events(net, "i1", session)
    assert got[0]["type"] == "logged_out"
    assert got[0]["reason"] == "unknown credential"
    assert net.poll("i1", session, 0, 0)["closed"] is True


def test_account_logout_revokes_the_credential() -> None:
    net = SimNetwork()
    session, credential = paired(net)

    net.remove_device("i1")

    assert types(net, "i1", session)[-1] == "logged_out"
    assert net.poll("i1", session, 0, 0)["closed"] is True
    info = net.info("i1")
    assert (info["state"], info["paired"], info["phone"]) == ("offline", False, None)
    retry, _ = net.connect("i1", credential)
    assert events(net, "i1", retry)[0] == {"seq": 4, "type": "logged_out", "reason": "credential revoked"}
    with pytest.raises(NotPaired):
        net.remove_device("i1")


def test_device_logout_revokes_and_is_idempotent_for_the_dead_credential() -> None:
    net = SimNetwork()
    session, credential = paired(net)
    assert net.logout_device("i1", session, credential) is True
    assert types(net, "i1", session)[-1] == "logged_out"
    assert net.logout_device("i1", None, credential) is False
    with pytest.raises(NotConnected):
        net.logout_device("i1", None, None)


def test_drop_disconnects_and_the_credential_still_works() -> None:
    net = SimNetwork()
    session, credential = paired(net)

    net.drop("i1")

    got = events(net, "i1", session)
    assert got[-1] == {"seq": 3, "type": "disconnected", "reason": "network blip"}
    assert net.info("i1")["state"] == "offline"
    with pytest.raises(NotConnected):
        net.drop("i1")
    again, _ = net.connect("i1", credential)
    assert types(net, "i1", again) == ["connected"]


def test_second_connection_with_same_credential_replaces_the_first() -> None:
    net = SimNetwork()
    old, credential = paired(net)

    new, _ = net.connect("i1", credential)

    assert types(net, "i1", old)[-1] == "stream_replaced"
    assert net.poll("i1", old, 0, 0)["closed"] is True
    assert types(net, "i1", new) == ["connected"]
    with pytest.raises(NotConnected):
        net.send("i1", old, PHONE, "text", "from the replaced socket")
    assert net.send("i1", new, PHONE, "text", "from the live one").startswith("SIM")


def test_pairing_again_unlinks_the_previous_device() -> None:
    net = SimNetwork()
    old, old_credential = paired(net)
    fresh, _ = net.connect("i1")  # a sidecar that lost its auth shows a new QR
    assert net.info("i1")["state"] == "connected"  # the old device is still linked meanwhile

    net.scan("i1", "5511999990002", "Bob")

    assert events(net, "i1", old)[-1]["type"] == "logged_out"
    assert events(net, "i1", fresh)[-1]["jid"] == "5511999990002@s.whatsapp.net"
    retry, _ = net.connect("i1", old_credential)
    assert types(net, "i1", retry) == ["logged_out"]


def test_pairing_code_is_deterministic_and_the_phone_can_pair_with_it() -> None:
    codes = []
    for _ in range(2):
        net = SimNetwork()
        session, _ = net.connect("i1")
        codes.append(net.request_pairing_code("i1", session, PHONE))
        assert events(net, "i1", session)[-1] == {"seq": 2, "type": "pairing_code_issued", "code": codes[-1]}
        assert net.info("i1")["pairing_code"] == codes[-1]
        net.scan("i1", PHONE)
        assert events(net, "i1", session)[-1]["type"] == "connected"
    assert codes[0] == codes[1]
    assert len(codes[0]) == 8
    assert set(codes[0]) <= set(simnet.PAIRING_ALPHABET)
    with pytest.raises(NoPendingPairing):
        net.request_pairing_code("i1", session, PHONE)


def test_message_ids_are_deterministic_per_instance_and_distinct_across_instances() -> None:
    def run() -> list[str]:
        net = SimNetwork()
        ids = []
        for instance in ("i1", "i2"):
            session, _ = paired(net, instance)
            ids += [net.send(instance, session, PHONE, "text", f"hello {n}") for n in range(3)]
        return ids

    first, second = run(), run()
    assert first == second
    assert len(set(first)) == 6
    assert all(i.startswith("SIM") and len(i) == 19 and int(i[3:], 16) >= 0 for i in first)


def test_sent_log_records_text_and_media_with_size_and_sha256() -> None:
    net = SimNetwork()
    session, _ = paired(net)
    picture = bytes(range(256)) * 10

    text_id = net.send("i1", session, "+55 (11) 99999-0002", "text", "hi there")
    image_id = net.send(
        "i1", session, "120363000000000001@g.us", "image", "look", picture, "image/png", "p.png"
    )

    assert net.sent("i1") == [
        {
            "id": text_id,
            "to": "5511999990002@s.whatsapp.net",
            "type": "text",
            "body": "hi there",
            "caption": None,
            "media_size": None,
            "media_sha256": None,
            "mime_type": None,
            "file_name": None,
        },
        {
            "id": image_id,
            "to": "120363000000000001@g.us",
            "type": "image",
            "body": None,
            "caption": "look",
            "media_size": 2560,
            "media_sha256": hashlib.sha256(picture).hexdigest(),
            "mime_type": "image/png",
            "file_name": "p.png",
        },
    ]
    assert net.info("i1")["sent_count"] == 2


@pytest.mark.parametrize(
    ("to", "kind", "text", "data", "reason"),
    [
        ("abc", "text", "x", b"", "invalid destination: not-a-phone-number-or-jid"),
        ("1@s.whatsapp.net", "text", "x", b"", "invalid destination: bad-phone-number"),
        (PHONE, "gif", "x", b"", "unsupported message type: gif"),  # sticker became a kind (issue 13)
        (PHONE, "text", "  ", b"", "empty text"),
        (PHONE, "image", "x", b"", "empty media"),
    ],
)
def test_send_rejects_bad_requests_with_a_reason(
    to: str, kind: str, text: str, data: bytes, reason: str
) -> None:
    net = SimNetwork()
    session, _ = paired(net)
    with pytest.raises(InvalidRequest, match=f"^{reason}$"):
        net.send("i1", session, to, kind, text, data)


def test_send_needs_a_connected_session() -> None:
    net = SimNetwork()
    session, _ = net.connect("i1")
    with pytest.raises(NotConnected):
        net.send("i1", session, PHONE, "text", "too early")
    with pytest.raises(NotConnected):
        net.send("ghost", "s1", PHONE, "text", "nobody")


def test_inbound_media_is_stored_for_download() -> None:
    net = SimNetwork()
    session, _ = paired(net)
    with pytest.raises(NotConnected):
        net.deliver_inbound("i2", "x@s.whatsapp.net", body="nobody home")

    message_id = net.deliver_inbound(
        "i1",
        "5511888880000@s.whatsapp.net",
        wa_message_id="ABC123",
        push_name="Carol",
        body="a doc",
        media=("document", "application/pdf", "a.pdf", b"%PDF-1.4 tiny"),
        timestamp=1_700_000_000,
    )

    assert message_id == "ABC123"
    payload = events(net, "i1", session)[-1]
    assert payload["type"] == "incoming_message"
    assert payload["sender_jid"] == "5511888880000@s.whatsapp.net"  # direct chat: the chat itself
    assert payload["media"]["file_size"] == len(b"%PDF-1.4 tiny")
    assert net.download("i1", payload["media"]["handle"]) == b"%PDF-1.4 tiny"
    with pytest.raises(NotFound):
        net.download("i2", payload["media"]["handle"])


def test_typed_and_quoted_inbound_decode_to_the_ports_fields_and_reach_the_contract() -> None:
    from zapgate_core.contract.worker_proxy import InboundMessage
    from zapgate_sidecar.inbound import is_deliverable, typed_fields
    from zapgate_sidecar.transport import Location, PollVote, Quoted, Reaction, Selection

    net = SimNetwork()
    session, _ = paired(net)
    chat = "5511888880000@s.whatsapp.net"
    net.deliver_inbound("i1", chat, wa_message_id="Q1", body="sim", quoted={"id": "W0", "body": "vem?"})
    net.deliver_inbound("i1", chat, wa_message_id="L1", kind="location",
                        typed={"location": {"latitude": 1.5, "longitude": -2.0, "name": None, "address": None}})
    net.deliver_inbound("i1", chat, wa_message_id="R1", kind="reaction",
                        typed={"reaction": {"wa_message_id": "W0", "emoji": "", "chat": chat, "from_me": True,
                                            "sender": None}})
    net.deliver_inbound("i1", chat, wa_message_id="B1", body="Sim", kind="buttons_response",
                        typed={"selection": {"id": "yes", "text": "Sim"}})
    sim_hash = "9313455e45aa22430a92fddbb70f21312d3c944ab590dfb1da845c1a96b664fe"  # sha256("Sim")
    net.deliver_inbound("i1", chat, wa_message_id="V1", body="Sim", kind="poll_choice",
                        typed={"poll_vote": {"poll_message_id": "P0", "option_hashes": [sim_hash], "options": ["Sim"]}})
    for kind, typed in (("location", {}), (None, {"poll": {"name": "q"}}), ("poll", {"location": {}}),
                        ("sticker", {}), ("poll_choice", {"poll": {"name": "q"}}),
                        ("poll", {"poll_vote": {"poll_message_id": "P0"}})):
        with pytest.raises(InvalidRequest):
            net.deliver_inbound("i1", chat, kind=kind, typed=typed)

    quoted, location, reaction, button, vote = [decode_event(e) for e in events(net, "i1", session)[-5:]]
    assert isinstance(quoted, IncomingMessage) and quoted.kind == "text"
    assert quoted.quoted == Quoted("W0", None, "vem?") and quoted.typed_content is None
    assert isinstance(location, IncomingMessage) and location.location == Location(1.5, -2.0)
    assert isinstance(reaction, IncomingMessage) and reaction.reaction == Reaction("W0", "", chat, True, None)
    assert isinstance(button, IncomingMessage) and button.selection == Selection("yes", "Sim")
    assert isinstance(vote, IncomingMessage) and (vote.kind, vote.text) == ("poll_choice", "Sim")
    assert vote.poll_vote == PollVote("P0", (sim_hash,), ("Sim",))
    assert all(is_deliverable(m) for m in (quoted, location, reaction, button, vote))  # a removed reaction too

    assert typed_fields(quoted) == {"quoted_wa_message_id": "W0", "quoted_text": "vem?"}
    assert typed_fields(reaction) == {"message_type": "reaction", "reaction": {
        "wa_message_id": "W0", "emoji": "", "chat": chat, "from_me": True, "sender": None}}
    assert typed_fields(button) == {"message_type": "buttons_response", "selection": {"id": "yes", "text": "Sim"}}
    voted = InboundMessage.model_validate({"instanceId": "i1", "from": chat, "chat_id_norm": chat, "body": vote.text,
                                           **typed_fields(vote)}).dump_wire()
    assert (voted["message_type"], voted["poll_vote"]) == (
        "poll_choice", {"poll_message_id": "P0", "option_hashes": [sim_hash], "options": ["Sim"]})
    plain = IncomingMessage("P1", chat, chat, False, 1, text="oi")
    assert typed_fields(plain) == {}
    body = {"instanceId": "i1", "from": chat, "chat_id_norm": chat, "body": location.text, **typed_fields(location)}
    assert InboundMessage.model_validate(body).dump_wire()["location"] == {
        "latitude": 1.5, "longitude": -2.0, "name": None, "address": None}


def test_undecryptable_and_receipt_events() -> None:
    net = SimNetwork()
    session, _ = paired(net)
    wa_id = net.send("i1", session, PHONE, "text", "hello")

    ids = net.undecryptable("i1", 3)
    net.receipt("i1", wa_id, "read")

    got = events(net, "i1", session)
    assert [e["wa_message_id"] for e in got if e["type"] == "undecryptable"] == ids
    assert got[-1] == {
        "seq": 6, "type": "receipt_received", "wa_message_ids": [wa_id],
        "chat_jid": f"{PHONE}@s.whatsapp.net", "kind": "read",
    }
    with pytest.raises(NotFound):
        net.receipt("i1", "SIMUNKNOWN", "read")


def test_every_event_type_decodes_to_the_port_dataclass() -> None:
    net = SimNetwork()
    session, _ = net.connect("i1")
    net.request_pairing_code("i1", session, PHONE)
    net.scan("i1", PHONE, "Alice")
    net.undecryptable("i1", 1)
    net.receipt("i1", "X1", "delivered", chat=f"{PHONE}@s.whatsapp.net")
    net.deliver_inbound("i1", "5511888880000@s.whatsapp.net", media=("image", "image/jpeg", None, b"jpg"))
    credential = events(net, "i1", session)[2]["credential"]
    net.connect("i1", credential)

    decoded = [decode_event(e) for e in events(net, "i1", session)]

    assert [type(e) for e in decoded] == [
        QrShown,
        PairingCodeIssued,
        Connected,
        Undecryptable,
        ReceiptReceived,
        IncomingMessage,
        StreamReplaced,
    ]
    assert decode_event({"type": "logged_out", "reason": "x"}) == LoggedOut("x")
    tags = {v for k, v in vars(simnet).items() if k.startswith("EV_")}
    assert all(decode_event({"type": t, "reason": "", "code": "c", "jid": "j", "wa_message_id": "w",
                             "chat_jid": "c", "wa_message_ids": [], "kind": "k", "sender_jid": "s",
                             "timestamp": 0}) is not None for t in tags)


def test_poll_waits_for_the_next_event_and_wakes_on_it() -> None:
    net = SimNetwork()
    session, _ = net.connect("i1")
    threading.Timer(0.1, net.scan, args=("i1", PHONE)).start()
    started = time.monotonic()

    result = net.poll("i1", session, 1, 5.0)

    assert 0.05 < time.monotonic() - started < 2.0
    assert [e["type"] for e in result["events"]] == ["connected"]
    assert result["next"] == 2
    empty = net.poll("i1", session, 2, 0.05)
    assert (empty["events"], empty["next"], empty["closed"]) == ([], 2, False)


def test_reset_and_shutdown_release_pollers() -> None:
    net = SimNetwork()
    session, _ = net.connect("i1")
    threading.Timer(0.1, net.reset).start()
    with pytest.raises(UnknownSession):
        net.poll("i1", session, 1, 5.0)

    session, _ = net.connect("i1")
    threading.Timer(0.1, net.shutdown).start()
    started = time.monotonic()
    with pytest.raises(ShuttingDown):
        net.poll("i1", session, 1, 5.0)
    assert time.monotonic() - started < 2.0
    with pytest.raises(ShuttingDown):
        net.connect("i1")
    net.reopen()
    net.connect("i1")


def test_concurrent_sends_get_unique_ids() -> None:
    net = SimNetwork()
    session, _ = paired(net)
    ids: list[str] = []
    lock = threading.Lock()

    def burst() -> None:
        for n in range(50):
            wa_id = net.send("i1", session, PHONE, "text", f"m{n}")
            with lock:
                ids.append(wa_id)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 400
    assert len(net.sent("i1")) == 400


@pytest.mark.parametrize(("port", "adapter"), [(WhatsAppSession, SimSession), (WhatsAppTransport, SimTransport)])
def test_sim_transport_implements_the_port_signatures(port: type, adapter: type) -> None:
    for name, member in vars(port).items():
        if callable(member) and not name.startswith("_"):
            expected = list(inspect.signature(member).parameters)
            assert list(inspect.signature(getattr(adapter, name)).parameters) == expected, name
    assert SimTransport("http://sim").name == "sim"


def test_an_event_wakes_only_its_own_instances_pollers() -> None:
    """Pollers wait on their instance's condition: linking 1,000 instances must not wake 1,000 parked
    pollers per event (O(n^2) for the sim, bench/sidecar_scale.py)."""
    net = SimNetwork()
    session, cursor = net.connect("quiet")
    net.poll("quiet", session, cursor, 0)  # its QR
    quiet = net._instances["quiet"]
    assert quiet.changed is not None
    wakeups = 0
    real_wait = quiet.changed.wait

    def counting_wait(timeout: float | None = None) -> bool:
        nonlocal wakeups
        wakeups += 1
        return real_wait(timeout)

    quiet.changed.wait = counting_wait  # type: ignore[method-assign]
    parked = threading.Thread(target=net.poll, args=("quiet", session, cursor + 1, 1.0))
    parked.start()
    time.sleep(0.1)
    for n in range(20):
        net.connect(f"busy-{n}")  # a QR event on other instances each
    parked.join(5)
    assert wakeups == 1  # parked once, woken by its own timeout only
    assert net.stats() == {"instances": 21, "states": {"waiting_qr": 21}, "paired": 0, "qr_shown": 21,
                           "sessions_open": 21}

    ended: list[str] = []

    def wait_for_shutdown() -> None:
        with pytest.raises(ShuttingDown):
            net.poll("quiet", session, cursor + 1, 5.0)
        ended.append("shut down")

    waiter = threading.Thread(target=wait_for_shutdown)
    waiter.start()
    time.sleep(0.1)
    net.shutdown()  # still releases every poller at once
    waiter.join(2)
    assert ended == ["shut down"]
