"""The sim transport's `perform` over HTTP against a running sim network: the answers come back as the contract's
result models, the network's refusals as Refused with their kind, no connection as NetworkUnreachable; and what
each operation did shows on the sim's read-only views (the rules themselves: tests/unit/test_sim_request_ops.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from zapgate_core.contract.request_ops.contacts import BlockArgs, Blocklist, NoArgs, UserArgs, UserInfo
from zapgate_core.contract.request_ops.groups import (
    GroupArgs,
    GroupCreateArgs,
    GroupInfo,
    GroupJoinArgs,
    GroupParticipantsArgs,
    GroupParticipantsResult,
    InviteLinkArgs,
)
from zapgate_core.contract.request_ops.messages import (
    EDIT_WINDOW_S,
    EditMessageArgs,
    EditMessageResult,
    RevokeMessageArgs,
)
from zapgate_sidecar.transport import NetworkUnreachable, Refused, WhatsAppSession

ALICE, BOB, CAROL = "5511999990001", "5511999990002", "5511999990003"


def jid(digits: str) -> str:
    return f"{digits}@s.whatsapp.net"


@pytest.fixture
def sim_url() -> Iterator[str]:
    from zapgate_sim.server import BackgroundSim

    with BackgroundSim() as sim:
        yield sim.url


def _connected(url: str, instance: str, phone: str, auth_dir: Path) -> WhatsAppSession:
    """A started SimSession, paired with `phone` and connected (its session id known)."""
    from zapgate_sim.transport import SimTransport

    connected = threading.Event()

    def sink(event: Any) -> None:
        if type(event).__name__ == "Connected":
            connected.set()

    session = SimTransport(url, poll_wait_ms=500).open_session(instance, auth_dir, sink)
    session.start()
    deadline = time.monotonic() + 5
    while httpx.get(f"{url}/sim/instances/{instance}").json()["qr"] is None:
        assert time.monotonic() < deadline, "no QR"
        time.sleep(0.05)
    assert httpx.post(f"{url}/sim/instances/{instance}/scan", json={"phone": phone, "push_name": instance}).is_success
    assert connected.wait(5)
    return session


def test_perform_answers_contract_models_and_the_views_show_it(sim_url: str, tmp_path: Path) -> None:
    assert httpx.post(f"{sim_url}/sim/accounts",
                      json={"phone": CAROL, "push_name": "Carol", "about": "hi", "picture": True}).is_success
    alice = _connected(sim_url, "alice", ALICE, tmp_path / "a")
    bob = _connected(sim_url, "bob", BOB, tmp_path / "b")
    try:
        info = alice.perform("user_info", UserArgs(jid=jid(CAROL)))
        assert isinstance(info, UserInfo) and (info.push_name, info.about) == ("Carol", "hi")
        assert httpx.get(f"{sim_url}/sim/accounts/{CAROL}").json()["picture_id"] is not None

        group = alice.perform("group_create", GroupCreateArgs(name="Team", participants=[jid(BOB)]))
        assert isinstance(group, GroupInfo)
        assert [(p.jid, p.is_super_admin) for p in group.participants] == [(jid(ALICE), True), (jid(BOB), False)]
        added = alice.perform("group_participants", GroupParticipantsArgs(
            group=group.jid, action="add", participants=[jid(CAROL), "5511900000000@s.whatsapp.net"]))
        assert isinstance(added, GroupParticipantsResult)
        assert [(p.ok, p.error) for p in added.participants] == [(True, None), (False, "not_on_whatsapp")]
        shown = httpx.get(f"{sim_url}/sim/groups/{group.jid}").json()
        assert (shown["name"], shown["admins"], len(shown["participants"])) == ("Team", [jid(ALICE)], 3)
        assert [g["jid"] for g in httpx.get(f"{sim_url}/sim/groups").json()] == [group.jid]

        link = alice.perform("group_invite_link", InviteLinkArgs(group=group.jid, reset=True)).model_dump()["link"]
        assert httpx.get(f"{sim_url}/sim/groups/{group.jid}").json()["invite_link"] == link
        bob.perform("group_leave", GroupArgs(group=group.jid))
        assert bob.perform("group_join", GroupJoinArgs(link=link)).model_dump() == {"jid": group.jid}

        blocked = bob.perform("block", BlockArgs(jid=jid(CAROL), action="block"))
        assert isinstance(blocked, Blocklist) and blocked.jids == [jid(CAROL)]
        assert bob.perform("blocklist", NoArgs()) == blocked
        assert httpx.get(f"{sim_url}/sim/instances/bob/profile").json()["blocklist"] == [jid(CAROL)]
    finally:
        alice.stop()
        bob.stop()


def test_refusals_map_to_their_kinds(sim_url: str, tmp_path: Path) -> None:
    alice = _connected(sim_url, "alice", ALICE, tmp_path / "a")
    bob = _connected(sim_url, "bob", BOB, tmp_path / "b")
    try:
        message = alice.send(jid(BOB), _text("helo"))
        group = alice.perform("group_create", GroupCreateArgs(name="Team", participants=[jid(BOB)]))
        assert isinstance(group, GroupInfo)

        cases: list[tuple[WhatsAppSession, str, Any, str]] = [
            (alice, "user_info", UserArgs(jid="5511900000000@s.whatsapp.net"), "not_on_whatsapp"),
            (alice, "user_info", UserArgs(jid=group.jid), "bad_request"),
            (alice, "group_info", GroupArgs(group="120363000000000009@g.us"), "not_found"),
            (bob, "group_participants",
             GroupParticipantsArgs(group=group.jid, action="add", participants=[jid(CAROL)]), "forbidden"),
            (bob, "edit_message", EditMessageArgs(chat=jid(ALICE), message_id=message, text="x"), "forbidden"),
            (alice, "edit_message", EditMessageArgs(chat=jid(ALICE), message_id=message, text="x"), "not_found"),
        ]
        for session, op, args, kind in cases:
            with pytest.raises(Refused) as refused:
                session.perform(op, args)
            assert refused.value.kind == kind, (op, str(refused.value))

        assert httpx.post(f"{sim_url}/sim/clock/advance", json={"seconds": EDIT_WINDOW_S + 1}).is_success
        with pytest.raises(Refused) as late:
            alice.perform("edit_message", EditMessageArgs(chat=jid(BOB), message_id=message, text="hello"))
        assert late.value.kind == "expired"

        revoked = alice.perform("revoke_message", RevokeMessageArgs(chat=jid(BOB), message_id=message))
        sent = httpx.get(f"{sim_url}/sim/instances/alice/sent").json()
        assert sent[0]["revoked"]["revoke_id"] == revoked.model_dump()["revoke_id"]
        received = httpx.get(f"{sim_url}/sim/instances/bob/messages").json()
        assert [(m["id"], m["revoked"] is not None) for m in received] == [(message, True)]
    finally:
        alice.stop()
        bob.stop()
    with pytest.raises(NetworkUnreachable):
        alice.perform("blocklist", NoArgs())  # stopped: no connection


def test_an_edit_within_the_window_shows_on_sent(sim_url: str, tmp_path: Path) -> None:
    alice = _connected(sim_url, "alice", ALICE, tmp_path / "a")
    try:
        message = alice.send(jid(BOB), _text("helo"))
        edit = alice.perform("edit_message", EditMessageArgs(chat=jid(BOB), message_id=message, text="hello"))
        assert isinstance(edit, EditMessageResult)
        sent = httpx.get(f"{sim_url}/sim/instances/alice/sent").json()[0]
        assert (sent["body"], sent["edits"][0]["edit_id"]) == ("hello", edit.edit_id)
    finally:
        alice.stop()


def _text(body: str) -> Any:
    from zapgate_sidecar.transport import Outgoing

    return Outgoing(kind="text", text=body)


def test_the_sidecar_runtime_runs_ops_on_the_sim_session(sim_url: str, tmp_path: Path) -> None:
    """run_op / request_error (zapgate_sidecar/runtime/request_ops.py) over the sim transport: the JSON result and
    the error code the sidecar answers the control plane with."""
    from zapgate_sidecar.runtime.request_ops import request_error, run_op

    alice = _connected(sim_url, "alice", ALICE, tmp_path / "a")
    try:
        created = run_op(alice, "group_create", {"name": "Via runtime", "participants": [jid(BOB)]})
        assert [p["jid"] for p in created["participants"]] == [jid(ALICE)]  # Bob has no account here
        assert run_op(alice, "profile_name", {"name": "Alice B."}) == {"done": True}
        assert httpx.get(f"{sim_url}/sim/accounts/{ALICE}").json()["push_name"] == "Alice B."
        with pytest.raises(Refused) as refused:
            run_op(alice, "user_info", {"jid": jid(BOB)})
        assert request_error(refused.value).code == "not_on_whatsapp"
    finally:
        alice.stop()
