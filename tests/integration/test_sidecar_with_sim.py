"""The sidecar's own code end to end in one process: real worker-proxy app (uvicorn, moto),
the simulated WhatsApp network, and the sidecar's fleet/runtime — nothing mocked."""

from __future__ import annotations

import base64
import functools
import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, WORKER_SECRET
from tests.integration.background import BackgroundApp, BackgroundSidecar, wait_until
from tests.integration.worker_client import make_instance


def _instances(env: dict[str, str]) -> Any:
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    return DynamoInstanceStore(env["INSTANCES_TABLE"])


def _settings(edge: str, sim_url: str, tmp: Path, owner: str, **overrides: Any) -> Any:
    from zapgate_sidecar.settings import load_settings

    env = {
        "EDGE_BASE_URL": f"{edge}/worker-proxy",
        "WORKER_SECRET": WORKER_SECRET,
        "PORT": "0",
        "DISCOVERY_POLL_MS": "300",
        "INSTANCE_LOCK_TTL_MS": "4000",
        "AUTH_BASE": str(tmp / owner / "auth"),
        "MEDIA_BASE": str(tmp / owner / "media"),
        "ZAPGATE_TRANSPORT": "sim",
        "ZAPGATE_SIM_URL": sim_url,
        "INSTANCE_OWNER": owner,
        "AUTH_SAVE_INTERVAL_S": "0.5",
        **overrides,
    }
    return load_settings(env)


@pytest.fixture
def stack(aws_env: dict[str, str], tmp_path: Path):
    from zapgate_sim.server import BackgroundSim
    from zapgate_worker_proxy.app import app as worker_app

    with BackgroundApp(worker_app) as edge, BackgroundSim() as sim:
        yield edge, sim, tmp_path


def test_qr_scan_send_and_receive(stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env, "support")
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        store = _instances(aws_env)
        qr = wait_until(lambda: getattr(store.get(instance["id"]), "qr_code", None), 15, "QR reported")
        assert qr.startswith("data:image/png;base64,")
        assert store.get(instance["id"]).status == "CONNECTING"
        assert store.get(instance["id"]).lock.owner == "sidecar-a"

        scan = httpx.post(f"{sim.url}/sim/instances/{instance['id']}/scan",
                          json={"phone": "5511999990000", "push_name": "Loja"})
        assert scan.status_code == 200
        wait_until(lambda: store.get(instance["id"]).status == "CONNECTED", 10, "CONNECTED")
        connected = store.get(instance["id"])
        assert connected.wa_jid == "5511999990000@s.whatsapp.net" and connected.qr_code is None

        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        sent = public.post(f"/v1/instances/{instance['id']}/messages", json={"to": "5511988887777", "body": "oi"})
        assert sent.status_code == 202
        message_id = sent.json()["id"]
        delivered = wait_until(
            lambda: httpx.get(f"{sim.url}/sim/instances/{instance['id']}/sent").json(), 10, "message on the network")
        assert delivered[0]["to"] == "5511988887777@s.whatsapp.net" and delivered[0]["body"] == "oi"
        status = wait_until(lambda: (public.get(f"/v1/instances/{instance['id']}/messages/{message_id}").json()
                                     if public.get(f"/v1/instances/{instance['id']}/messages/{message_id}")
                                     .json()["status"] == "sent" else None), 10, "marked sent")
        assert status["wa_message_id"] == delivered[0]["id"]

        picture = b"\x89PNG\r\n\x1a\n" + b"p" * 5000
        inbound = httpx.post(f"{sim.url}/sim/instances/{instance['id']}/inbound", json={
            "id": "IN1", "chat": "5511988887777@s.whatsapp.net", "sender": "5511988887777@s.whatsapp.net",
            "push_name": "Maria", "body": "veja",
            "media": {"type": "image", "mime_type": "image/png", "file_name": "p.png",
                      "base64": base64.b64encode(picture).decode()}})
        assert inbound.status_code == 200
        received = wait_until(lambda: public.get(f"/v1/instances/{instance['id']}/messages?direction=inbound")
                              .json()["messages"], 10, "inbound stored")
        assert received[0]["body"] == "veja"
        assert received[0]["media_type"] == "image"
        media = httpx.get(received[0]["media_url"])
        assert hashlib.sha256(media.content).hexdigest() == hashlib.sha256(picture).hexdigest()
        assert (tmp / "sidecar-a" / "media" / instance["id"] / "IN1.png").read_bytes() == picture
    finally:
        sidecar.stop()
    released = _instances(aws_env).get(instance["id"])
    assert released.lock.owner is None and released.status == "DISCONNECTED"


def _connect(sim: Any, store: Any, instance_id: str, phone: str = "5511999990000") -> None:
    wait_until(lambda: getattr(store.get(instance_id), "qr_code", None), 15, "QR reported")
    assert httpx.post(f"{sim.url}/sim/instances/{instance_id}/scan", json={"phone": phone}).status_code == 200
    wait_until(lambda: store.get(instance_id).status == "CONNECTED", 10, "CONNECTED")


def test_logout_wipes_auth_and_shows_a_new_qr(stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    store = _instances(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, store, instance["id"])
        credentials = tmp / "sidecar-a" / "auth" / instance["id"] / "sim-credentials.json"
        wait_until(credentials.exists, 5, "credentials on disk")
        first_qr_attempts = httpx.get(f"{sim.url}/sim/instances/{instance['id']}").json()
        assert httpx.post(f"{sim.url}/sim/instances/{instance['id']}/logout").status_code == 200
        wait_until(lambda: store.get(instance["id"]).qr_code, 10, "a new QR after logout")
        assert store.get(instance["id"]).status == "CONNECTING"
        assert not credentials.exists()
        assert httpx.get(f"{sim.url}/sim/instances/{instance['id']}").json() != first_qr_attempts
        _connect(sim, store, instance["id"], phone="5511911112222")
        assert store.get(instance["id"]).wa_jid == "5511911112222@s.whatsapp.net"
    finally:
        sidecar.stop()


def test_bad_mac_flood_trips_the_breaker(stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    store = _instances(aws_env)
    settings = _settings(edge.url, sim.url, tmp, "sidecar-a", BAD_MAC_THRESHOLD="5", BAD_MAC_WINDOW_MS="60000")
    sidecar = BackgroundSidecar(settings).start()
    try:
        _connect(sim, store, instance["id"])
        httpx.post(f"{sim.url}/sim/instances/{instance['id']}/undecryptable", json={"count": 4})
        # Below the threshold: still connected.
        assert store.get(instance["id"]).status == "CONNECTED"
        httpx.post(f"{sim.url}/sim/instances/{instance['id']}/undecryptable", json={"count": 3})
        wait_until(lambda: store.get(instance["id"]).qr_code, 10, "new QR after the breaker")
        assert store.get(instance["id"]).status == "CONNECTING"
    finally:
        sidecar.stop()


def test_network_blip_reconnects_without_a_qr(stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    store = _instances(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, store, instance["id"])
        assert httpx.post(f"{sim.url}/sim/instances/{instance['id']}/drop").status_code == 200
        wait_until(lambda: store.get(instance["id"]).status == "DISCONNECTED", 5, "DISCONNECTED reported")
        wait_until(lambda: store.get(instance["id"]).status == "CONNECTED", 10, "reconnected (2 s backoff)")
        assert store.get(instance["id"]).qr_code is None
    finally:
        sidecar.stop()


def test_two_sidecars_split_instances_without_overlap(stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    edge, sim, tmp = stack
    ids = {make_instance(aws_env, f"i{n}", priority=n % 3)["id"] for n in range(6)}
    store = _instances(aws_env)
    a = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    b = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-b")).start()
    try:
        def owners() -> dict[str, str | None]:
            return {i: store.get(i).lock.owner for i in ids}

        # Slow start makes the split settle within a few discovery cycles even when one sidecar
        # starts first; a sidecar above its fair share hands the surplus back.
        wait_until(lambda: sorted(owners().values(), key=str) == ["sidecar-a"] * 3 + ["sidecar-b"] * 3, 30,
                   "a 3/3 split")
        assert sorted(owners().values(), key=str) == ["sidecar-a"] * 3 + ["sidecar-b"] * 3
        for instance_id in ids:
            wait_until(lambda i=instance_id: store.get(i).qr_code, 10, "QR for each")
    finally:
        a.stop()
        b.stop()


def test_a_sidecar_started_later_gets_its_share_without_a_restart(stack: tuple[Any, Any, Path],
                                                                   aws_env: dict[str, str]) -> None:
    """Scale-out: B holds nothing, so only its announced presence tells A to hand half back."""
    edge, sim, tmp = stack
    ids = [make_instance(aws_env, f"i{n}")["id"] for n in range(4)]
    store = _instances(aws_env)
    fast = {"PRESENCE_INTERVAL_MS": "500", "STOP_COOLDOWN_MS": "1500"}

    def owners() -> list[str | None]:
        return [store.get(i).lock.owner for i in ids]

    a = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a", **fast)).start()
    b = None
    try:
        wait_until(lambda: owners() == ["sidecar-a"] * 4, 20, "sidecar-a alone takes all 4")
        for n, instance_id in enumerate(ids):  # connected runtimes leave a target only after the cooldown
            _connect(sim, store, instance_id, phone=f"551190000000{n}")
        b = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-b", **fast)).start()
        split = ["sidecar-a"] * 2 + ["sidecar-b"] * 2
        wait_until(lambda: sorted(owners(), key=str) == split, 30, "a 2/2 split after sidecar-b starts")
        time.sleep(2)  # settled: nobody takes back what it handed over
        assert sorted(owners(), key=str) == split
        # A kept the top two running (it stopped only the surplus); B runs the rest (a new QR here:
        # without AUTH_STATE_TABLE the keys stay on A's disk).
        kept = [i for i, owner in zip(ids, owners(), strict=True) if owner == "sidecar-a"]
        assert kept == ids[:2] and all(store.get(i).status == "CONNECTED" for i in kept)
    finally:
        a.stop()
        if b is not None:
            b.stop()
    assert owners() == [None] * 4


def test_receipts_move_a_sent_message_to_delivered_then_read(stack: tuple[Any, Any, Path],
                                                             aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    store = _instances(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, store, instance["id"])
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        message_id = public.post(f"/v1/instances/{instance['id']}/messages",
                                 json={"to": "5511988887777", "body": "oi"}).json()["id"]

        def status() -> str:
            return str(public.get(f"/v1/instances/{instance['id']}/messages/{message_id}").json()["status"])

        wait_until(lambda: status() == "sent", 10, "sent")
        wa_id = public.get(f"/v1/instances/{instance['id']}/messages/{message_id}").json()["wa_message_id"]
        for kind, expected in (("delivered", "delivered"), ("read", "read")):
            assert httpx.post(f"{sim.url}/sim/instances/{instance['id']}/receipt",
                              json={"wa_message_id": wa_id, "kind": kind}).status_code == 200
            wait_until(lambda e=expected: status() == e, 10, f"status {expected}")
    finally:
        sidecar.stop()


def test_location_contact_reaction_and_reply_reach_the_network(stack: tuple[Any, Any, Path],
                                                                aws_env: dict[str, str]) -> None:
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    store = _instances(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, store, instance["id"])
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        base = f"/v1/instances/{instance['id']}/messages"
        to = "5511988887777"
        first = public.post(base, json={"to": to, "body": "oi"}).json()["id"]
        wait_until(lambda: public.get(f"{base}/{first}").json()["status"] == "sent", 10, "first sent")
        first_wa = public.get(f"{base}/{first}").json()["wa_message_id"]

        assert httpx.post(f"{sim.url}/sim/instances/{instance['id']}/inbound", json={
            "id": "IN7", "chat": f"{to}@s.whatsapp.net", "sender": f"{to}@s.whatsapp.net",
            "body": "tudo bem?"}).status_code == 200
        wait_until(lambda: public.get(f"{base}?direction=inbound").json()["messages"], 10, "inbound stored")

        requests = [
            {"to": to, "type": "location",
             "location": {"latitude": -23.5, "longitude": -46.6, "name": "Loja", "address": "Rua A"}},
            {"to": to, "type": "contact", "contact": {"display_name": "Ana", "phone": "+5511977776666"}},
            {"to": to, "type": "reaction", "reaction": {"message_id": "IN7", "emoji": "👍"}},
            {"to": to, "body": "respondendo", "reply_to": first},
            {"to": to, "type": "poll", "poll": {"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 0}},
        ]
        for body in requests:
            response = public.post(base, json=body)
            assert response.status_code == 202, response.text
        sent = wait_until(lambda: (lambda s: s if len(s) >= 6 else None)(
            httpx.get(f"{sim.url}/sim/instances/{instance['id']}/sent").json()), 15, "all sent")
        by_type = {m["type"]: m for m in sent[1:]}
        assert by_type["location"]["location"] == {
            "latitude": -23.5, "longitude": -46.6, "name": "Loja", "address": "Rua A"}
        contact = by_type["contact"]["contact"]
        assert contact["display_name"] == "Ana" and "waid=5511977776666" in contact["vcard"]
        reaction = by_type["reaction"]["reaction"]
        assert (reaction["wa_message_id"], reaction["emoji"], reaction["from_me"]) == ("IN7", "👍", False)
        reply = by_type["text"]
        assert reply["body"] == "respondendo"
        assert reply["quoted"]["wa_message_id"] == first_wa and reply["quoted"]["body"] == "oi"
        assert reply["quoted"]["sender"] == "5511999990000@s.whatsapp.net"
        assert by_type["poll"]["poll"] == {"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 0}
    finally:
        sidecar.stop()


def _events(queue_url: str) -> list[dict[str, Any]]:
    """Every envelope on EventsQueue (received and deleted)."""
    import json

    from zapgate_control.aws import client

    sqs, envelopes = client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return envelopes


SIM_HASH = "9313455e45aa22430a92fddbb70f21312d3c944ab590dfb1da845c1a96b664fe"  # sha256("Sim")


def test_typed_and_quoted_inbound_reach_history_and_events(
        stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    """A quoted text, a location, a reaction and a poll vote played by the phone, through the sidecar's own code,
    stored with their kind (public API) and reported as MESSAGE_INBOUND with seed 002's quote and typed objects."""
    from tests.integration.outbox import publish
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, _instances(aws_env), instance["id"])
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        base = f"/v1/instances/{instance['id']}/messages"
        customer = "5511988887777@s.whatsapp.net"
        sent = public.post(base, json={"to": "5511988887777", "body": "seu pedido saiu"}).json()["id"]
        ours = wait_until(lambda: public.get(f"{base}/{sent}").json()["wa_message_id"], 10, "sent")
        phone = {"chat": customer, "sender": customer, "push_name": "Maria"}
        for body in (
            {**phone, "id": "Q1", "body": "chega hoje?",
             "quoted": {"id": ours, "sender": "5511999990000@s.whatsapp.net", "body": "seu pedido saiu"}},
            {**phone, "id": "L1", "body": "Casa\ngeo:-23.550520,-46.633308", "type": "location",
             "location": {"latitude": -23.55052, "longitude": -46.633308, "name": "Casa"}},
            {**phone, "id": "R1", "type": "reaction",
             "reaction": {"wa_message_id": ours, "emoji": "", "chat": customer, "from_me": True}},
            {**phone, "id": "V1", "body": "Sim", "type": "poll_choice",
             "poll_vote": {"poll_message_id": "P0", "option_hashes": [SIM_HASH], "options": ["Sim"]}},
        ):
            assert httpx.post(f"{sim.url}/sim/instances/{instance['id']}/inbound", json=body).status_code == 200
        received = wait_until(lambda: (lambda m: m if len(m) == 4 else None)(
            public.get(f"{base}?direction=inbound").json()["messages"]), 15, "four inbound stored")
        by_wa = {m["wa_message_id"]: m for m in received}
        assert (by_wa["Q1"]["type"], by_wa["Q1"]["body"]) == ("text", "chega hoje?")
        assert (by_wa["Q1"]["quoted_wa_message_id"], by_wa["Q1"]["quoted_text"]) == (ours, "seu pedido saiu")
        assert by_wa["L1"]["type"] == "location"
        assert by_wa["L1"]["location"] == {"latitude": -23.55052, "longitude": -46.633308, "name": "Casa",
                                           "address": None}
        assert (by_wa["R1"]["type"], by_wa["R1"]["body"]) == ("reaction", "")  # a removed reaction: no text
        assert by_wa["R1"]["reaction"] == {"emoji": "", "message_id": None, "wa_message_id": ours, "from_me": True}
        assert (by_wa["V1"]["type"], by_wa["V1"]["body"]) == ("poll_choice", "Sim")
        assert by_wa["V1"]["poll_vote"] == {"poll_message_id": "P0", "option_hashes": [SIM_HASH], "options": ["Sim"]}

        publish(aws_env)
        inbound = {e["payload"]["message"]["waMessageId"]: e["payload"]["message"]
                   for e in _events(aws_env["EVENTS_QUEUE_URL"]) if e["type"] == "MESSAGE_INBOUND"}
        assert set(inbound) == {"Q1", "L1", "R1", "V1"}
        assert (inbound["Q1"]["type"], inbound["Q1"]["text"]) == ("text", "chega hoje?")
        assert (inbound["Q1"]["quotedMessageId"], inbound["Q1"]["quotedText"]) == (ours, "seu pedido saiu")
        assert "location" not in inbound["Q1"] and "reaction" not in inbound["Q1"]
        assert inbound["L1"]["type"] == "location" and inbound["L1"]["quotedMessageId"] is None
        assert inbound["L1"]["location"] == {"latitude": -23.55052, "longitude": -46.633308, "name": "Casa",
                                             "address": None}
        assert (inbound["R1"]["type"], inbound["R1"]["text"]) == ("reaction", None)
        assert inbound["R1"]["reaction"] == {"waMessageId": ours, "emoji": "", "fromMe": True}
        assert (inbound["V1"]["type"], inbound["V1"]["text"], inbound["V1"]["parentId"]) == ("poll_choice", "Sim", None)
        assert inbound["V1"]["pollVote"] == {"pollMessageId": "P0", "optionHashes": [SIM_HASH], "options": ["Sim"]}
    finally:
        sidecar.stop()


@pytest.fixture
def media_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server for outbound media_url downloads (the sidecar fetches them itself)."""
    root = tmp_path / "site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_voice_note_reaches_the_network_as_one_and_audio_files_do_not(
        stack: tuple[Any, Any, Path], aws_env: dict[str, str], media_site: tuple[str, Path]) -> None:
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    site_url, site_root = media_site
    ogg = b"OggS" + b"\x00" * 60
    (site_root / "note.ogg").write_bytes(ogg)
    instance = make_instance(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, _instances(aws_env), instance["id"])
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        base = f"/v1/instances/{instance['id']}/messages"
        audio = {"to": "5511988887777", "type": "audio", "media_url": f"{site_url}/note.ogg", "mime_type": "audio/ogg"}
        assert public.post(base, json={**audio, "voice_note": True}).status_code == 202
        assert public.post(base, json=audio).status_code == 202
        sent = wait_until(lambda: (lambda s: s if len(s) >= 2 else None)(
            httpx.get(f"{sim.url}/sim/instances/{instance['id']}/sent").json()), 15, "both sent")
        assert sorted(str(m.get("voice_note")) for m in sent) == ["None", "True"]
        assert all(m["type"] == "audio" and m["media_sha256"] == hashlib.sha256(ogg).hexdigest() for m in sent)
    finally:
        sidecar.stop()


def test_a_message_sent_right_after_pairing_goes_out_without_waiting_for_a_renewal(
        stack: tuple[Any, Any, Path], aws_env: dict[str, str]) -> None:
    """The heartbeat long-polls for work on the locks it lists: a newly acquired instance must get a
    heartbeat of its own at once, not at the next renewal (TTL/2 = 15 s with seed 000's 30 s TTL)."""
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    instance = make_instance(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a", INSTANCE_LOCK_TTL_MS="30000")).start()
    try:
        _connect(sim, _instances(aws_env), instance["id"])
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        sent = public.post(f"/v1/instances/{instance['id']}/messages", json={"to": "5511988887777", "body": "oi"})
        assert sent.status_code == 202
        wait_until(lambda: httpx.get(f"{sim.url}/sim/instances/{instance['id']}/sent").json(), 5,
                   "sent within 5 s of pairing (a renewal is 15 s away)")
    finally:
        sidecar.stop()
