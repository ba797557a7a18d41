"""The sidecar's forwarding of issue 10's changes: each port event becomes its worker-proxy report, an unknown
message is tried again a little later, and a call is rejected on the phone only when the server says so."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from zapgate_core.contract.inbound_changes import InboundChangeResponse
from zapgate_sidecar.runtime import change_forwarding as forwarding
from zapgate_sidecar.runtime.change_forwarding import ChangeForwarding, report_of
from zapgate_sidecar.transport_changes import (
    CallReceived,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
)

CUSTOMER = "5511988887777@s.whatsapp.net"
GROUP = "120363012345678901@g.us"


def test_each_change_is_its_report_on_the_wire() -> None:
    edited = report_of("inst-1", MessageEdited("3EB0A", "E1", CUSTOMER, CUSTOMER, "novo", 1764000000000))
    assert edited.model_dump(mode="json", by_alias=True) == {
        "kind": "message_edited", "instanceId": "inst-1", "wa_message_id": "3EB0A", "edit_wa_message_id": "E1",
        "chat_id": CUSTOMER, "sender": CUSTOMER, "sender_pn": None, "from_me": False, "text": "novo",
        "timestamp": 1764000000000,
    }
    revoked = report_of("inst-1", MessageRevoked("3EB0A", CUSTOMER, CUSTOMER, 1764000000000))
    assert revoked.model_dump()["kind"] == "message_revoked"
    participants = report_of("inst-1", GroupParticipantsChanged(GROUP, "add", (CUSTOMER,), None, 1))
    assert participants.model_dump()["participants"] == [CUSTOMER]
    info = report_of("inst-1", GroupInfoChanged(GROUP, None, 1, name="Loja", announce=True))
    assert info.model_dump(exclude_none=True)["name"] == "Loja"
    call = report_of("inst-1", CallReceived("C1", CUSTOMER, 1, video=True, group_jid=GROUP))
    assert call.model_dump(mode="json", by_alias=True)["from"] == CUSTOMER
    assert call.model_dump()["is_group"] is True


class _Proxy:
    def __init__(self, answers: list[InboundChangeResponse]) -> None:
        self.answers, self.reports = answers, []

    async def inbound_change(self, report: Any) -> InboundChangeResponse:
        self.reports.append(report)
        return self.answers.pop(0)


class _Session:
    def __init__(self) -> None:
        self.rejected: list[tuple[str, str]] = []

    def reject_call(self, caller: str, call_id: str) -> None:
        self.rejected.append((caller, call_id))


def _runtime(proxy: _Proxy, session: object) -> Any:
    return SimpleNamespace(instance_id="inst-1", deps=SimpleNamespace(proxy=proxy, telemetry=SimpleNamespace(
        incr=lambda *_: None)), session=SimpleNamespace(current=session))


@pytest.mark.parametrize(("reject", "rejected"), [(True, [(CUSTOMER, "C1")]), (False, [])])
def test_a_call_is_rejected_only_when_the_server_says_so(reject: bool, rejected: list[tuple[str, str]]) -> None:
    proxy, session = _Proxy([InboundChangeResponse(outcome="applied", reject=reject)]), _Session()
    changes = ChangeForwarding(_runtime(proxy, session))
    asyncio.run(changes._deliver(CallReceived("C1", CUSTOMER, 1)))
    assert session.rejected == rejected and changes.calls_rejected == len(rejected)


def test_an_edit_of_a_message_not_stored_yet_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forwarding, "UNKNOWN_MESSAGE_RETRIES_S", (0.0, 0.0))
    proxy = _Proxy([InboundChangeResponse(outcome="unknown_message"), InboundChangeResponse(outcome="applied")])
    asyncio.run(ChangeForwarding(_runtime(proxy, None))._deliver(
        MessageEdited("3EB0A", "E1", CUSTOMER, CUSTOMER, "novo", 1)))
    assert len(proxy.reports) == 2


def test_a_transport_that_cannot_reject_leaves_the_call_ringing() -> None:
    proxy = _Proxy([InboundChangeResponse(outcome="applied", reject=True)])
    changes = ChangeForwarding(_runtime(proxy, object()))
    asyncio.run(changes._deliver(CallReceived("C1", CUSTOMER, 1)))
    assert changes.calls_rejected == 0
