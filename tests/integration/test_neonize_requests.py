"""Requests to the phone over real neonize/whatsmeow, up to the network boundary (as test_neonize_store does).

Nothing is faked: answers are neonize's own protobufs, errors are what the Go client raises when WhatsApp is
unreachable (a SOCKS proxy on a closed local port). A success is never simulated here: that needs WhatsApp.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from neonize.client import NewClient
from neonize.exc import GetProfilePictureError, IsOnWhatsAppError, NeonizeError, SendPresenceError
from neonize.proto.Neonize_pb2 import JID, GetProfilePictureReturnFunction, IsOnWhatsAppResponse

from tests.integration.test_neonize_store import Events, refused_proxy
from zapgate_sidecar.transport import ConnectFailed, NetworkUnreachable, Refused, TransportError
from zapgate_sidecar.transports.neonize.session import STORE_FILE
from zapgate_sidecar.transports.neonize.session_requests import (
    chat_presence_on,
    check_numbers_on,
    number_checks,
    request_error,
)
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport


def _jid(user: str, server: str) -> JID:
    return JID(User=user, Server=server, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


EMPTY = JID(User="", Server="", Device=0, RawAgent=0, Integrator=0, IsEmpty=True)


@pytest.fixture(scope="module")
def offline_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewClient]:
    """A registered Go client whose socket never came up: requests reach whatsmeow and stop there."""
    from neonize._binder import ProxySettings

    client = NewClient(str(tmp_path_factory.mktemp("requests") / STORE_FILE), uuid=f"requests-{os.getpid()}")
    with pytest.raises(NeonizeError):
        client.connect(ProxySettings(proxy_address=refused_proxy()))
    yield client
    client.stop()


# ---------------------------------------------------------------- IsOnWhatsApp's answers
def test_answers_are_matched_by_query_and_a_lid_gets_its_phone_jid() -> None:
    answers = [
        # out of order, a LID as whatsmeow's lid addressing mode gives, and one not on WhatsApp
        IsOnWhatsAppResponse(Query="+5511900000000", JID=_jid("5511900000000", "s.whatsapp.net"), IsIn=False),
        IsOnWhatsAppResponse(Query="+5511999990000", JID=_jid("123456789012345", "lid"), IsIn=True),
        IsOnWhatsAppResponse(Query="+5511977776666", JID=_jid("5511977776666", "s.whatsapp.net"), IsIn=True),
    ]
    asked_lids: list[str] = []

    def pn_of_lid(lid: JID) -> str:
        asked_lids.append(lid.User)
        return "5511999990000@s.whatsapp.net"

    checks = number_checks(["5511999990000", "5511977776666", "5511900000000", "5511955554444"], answers, pn_of_lid)
    assert [(c.number, c.exists, c.jid, c.lid) for c in checks] == [
        ("5511999990000", True, "5511999990000@s.whatsapp.net", "123456789012345@lid"),
        ("5511977776666", True, "5511977776666@s.whatsapp.net", None),
        ("5511900000000", False, None, None),
        ("5511955554444", False, None, None),  # skipped by the server: no answer, no account
    ]
    assert asked_lids == ["123456789012345"]


def test_a_lid_whatsmeow_has_no_phone_for_falls_back_to_the_number_asked() -> None:
    answers = [IsOnWhatsAppResponse(Query="+5511999990000", JID=_jid("123456789012345", "lid"), IsIn=True)]
    [check] = number_checks(["5511999990000"], answers, lambda _lid: "")
    assert check.jid == "5511999990000@s.whatsapp.net" and check.lid == "123456789012345@lid"
    [empty] = number_checks(["5511999990000"], [IsOnWhatsAppResponse(Query="+5511999990000", JID=EMPTY, IsIn=True)],
                            lambda _lid: "")
    assert empty.exists and empty.jid == "5511999990000@s.whatsapp.net" and empty.lid is None


# ---------------------------------------------------------------- the Go client, offline
def test_check_numbers_reaches_whatsmeow_and_fails_there_as_unreachable(offline_client: NewClient) -> None:
    with pytest.raises(NetworkUnreachable) as raised:
        check_numbers_on(offline_client, ["5511999990000", "5511977776666"])
    assert isinstance(raised.value.__cause__, IsOnWhatsAppError)
    assert str(raised.value) == ("check numbers: whatsapp unreachable: "
                                 "failed to send usync query: websocket not connected")


def test_check_numbers_wants_digits_only(offline_client: NewClient) -> None:
    with pytest.raises(Refused, match="digits only"):
        check_numbers_on(offline_client, ["+5511999990000"])  # the plus is ours to add: one form in


def test_chat_presence_reaches_whatsmeow_and_fails_there_as_unreachable(offline_client: NewClient) -> None:
    for state in ("composing", "recording", "paused"):
        with pytest.raises(NetworkUnreachable) as raised:
            chat_presence_on(offline_client, "5511999990000@s.whatsapp.net", state)  # type: ignore[arg-type]
        assert isinstance(raised.value.__cause__, SendPresenceError)
        assert "websocket not connected" in str(raised.value)
    with pytest.raises(Refused, match="invalid jid"):
        chat_presence_on(offline_client, "nobody@", "composing")


def test_session_requests_without_a_connection_are_unreachable(tmp_path: Path) -> None:
    events = Events()
    session = NeonizeTransport(connect_timeout=10, stop_timeout=2, proxy_address=refused_proxy()).open_session(
        "inst-req", tmp_path / "auth", events)
    try:
        with pytest.raises(NetworkUnreachable, match=r"^check numbers: not connected$"):
            session.check_numbers(["5511999990000"])  # never started
        session.start()
        assert isinstance(events.next(timeout=15), ConnectFailed)
        with pytest.raises(NetworkUnreachable, match=r"^chat presence: not connected$"):
            session.send_chat_presence("5511999990000@s.whatsapp.net", "composing")  # started, WhatsApp unreachable
    finally:
        session.stop()


# ---------------------------------------------------------------- error texts -> the port's errors
@pytest.mark.parametrize(
    ("exc", "expected", "kind"),
    [
        (IsOnWhatsAppError("failed to send usync query: websocket not connected"), NetworkUnreachable, None),
        (IsOnWhatsAppError("client is nil"), NetworkUnreachable, None),
        (SendPresenceError(b"the store doesn't contain a device JID"), NetworkUnreachable, None),
        (IsOnWhatsAppError("info query timed out"), NetworkUnreachable, None),
        (IsOnWhatsAppError("websocket disconnected before info query returned response"), NetworkUnreachable, None),
        (IsOnWhatsAppError("info query returned status 400: bad-request"), Refused, "bad_request"),
        (IsOnWhatsAppError("info query returned status 403: forbidden"), Refused, "forbidden"),
        (IsOnWhatsAppError("info query returned status 404: item-not-found"), Refused, "not_found"),
        (IsOnWhatsAppError("info query returned status 500: internal-server-error"), TransportError, None),
        (IsOnWhatsAppError("Function returned nothing."), TransportError, None),
        (GetProfilePictureError(GetProfilePictureReturnFunction(Error="info query returned status 401: x")),
         Refused, "forbidden"),
    ],
)
def test_neonize_errors_map_by_their_go_text(exc: Exception, expected: type[TransportError], kind: str | None) -> None:
    mapped = request_error("check numbers", exc)
    assert type(mapped) is expected
    if kind is not None:
        assert isinstance(mapped, Refused) and mapped.kind == kind
    assert str(mapped).startswith("check numbers: ")
