"""Issue 10 on the sim: injected edits, revokes, group changes and calls reach a SimSession as the port's change
events, and the session's reject_call shows on the network (GET /sim/instances/{id}/calls)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.test_sim_transport import Recorder, control, open_session, pair, sim  # noqa: F401  # fixtures
from zapgate_sidecar.transport import TransportError
from zapgate_sidecar.transport_changes import (
    CallReceived,
    CallRejecter,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
)
from zapgate_sim.transport import SimSession

CUSTOMER = "5511988887777@s.whatsapp.net"
GROUP = "120363012345678901@g.us"


def test_injected_changes_arrive_as_change_events_and_a_rejected_call_is_seen(
    open_session: Callable[..., tuple[SimSession, Recorder]],  # noqa: F811
    control: httpx.Client,  # noqa: F811
    tmp_path: Path,
) -> None:
    session, events = pair(open_session, control, tmp_path / "a")
    post = control.post
    assert post("/sim/instances/inst-1/edit", json={"chat": CUSTOMER, "id": "3EB0A", "body": "novo",
                                                     "edit_id": "E1", "timestamp_ms": 1764000000000}).status_code == 200
    edited = events.wait_for(MessageEdited)
    assert edited == MessageEdited(wa_message_id="3EB0A", edit_wa_message_id="E1", chat_jid=CUSTOMER,
                                   sender_jid=CUSTOMER, text="novo", timestamp_ms=1764000000000)
    post("/sim/instances/inst-1/revoke", json={"chat": CUSTOMER, "id": "3EB0A"}).raise_for_status()
    revoked = events.wait_for(MessageRevoked)
    assert isinstance(revoked, MessageRevoked) and revoked.revoked_by == CUSTOMER
    post("/sim/instances/inst-1/group-change", json={"group": GROUP, "action": "promote", "participants": [CUSTOMER],
                                                     "name": "Loja 2", "by": CUSTOMER}).raise_for_status()
    assert events.wait_for(GroupParticipantsChanged).action == "promote"  # type: ignore[attr-defined]
    assert events.wait_for(GroupInfoChanged).name == "Loja 2"  # type: ignore[attr-defined]
    assert post("/sim/instances/inst-1/group-change", json={"group": GROUP}).status_code == 400

    call_id = post("/sim/instances/inst-1/call", json={"from": CUSTOMER, "video": True}).json()["call_id"]
    call = events.wait_for(CallReceived)
    assert isinstance(call, CallReceived) and call.call_id == call_id and call.video
    assert control.get("/sim/instances/inst-1/calls").json()[0]["state"] == "ringing"
    assert isinstance(session, CallRejecter)
    session.reject_call(CUSTOMER, call_id)
    session.reject_call(CUSTOMER, call_id)  # twice: still one rejection on the phone
    (seen,) = control.get("/sim/instances/inst-1/calls").json()
    assert seen["state"] == "rejected" and seen["reject_requests"] == 2 and seen["rejected_at"]
    with pytest.raises(TransportError):
        session.reject_call(CUSTOMER, "NO-SUCH-CALL")
