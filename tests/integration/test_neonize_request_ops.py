"""Every request to the phone over real neonize/whatsmeow, up to the network boundary (as test_neonize_requests).

Every operation goes through a real session that is not connected (the fence answers), and through a registered
Go client whose socket never came up (whatsmeow answers: unreachable); errors are what the Go client raises,
mapped by their text. A success from WhatsApp is never simulated: that needs WhatsApp. What the op functions
build and map is tested in test_neonize_request_mapping.py.

Calls that abort the Go process on a client that is not logged in (update_blocklist, set_profile_name,
get_contact, get_lid_from_pn; probed one per subprocess) are never made on the offline client here, nor
get_me (it aborts once the client is stopped).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from neonize.client import NewClient
from neonize.exc import NeonizeError, SendPresenceError
from neonize.proto.Neonize_pb2 import JID

from tests.integration.test_neonize_store import Events, refused_proxy
from zapgate_core.contract.request_ops.contacts import UserArgs
from zapgate_core.contract.request_ops.messages import EDIT_WINDOW_S, MarkReadArgs
from zapgate_core.contract.requests import ARGUMENTS, RequestOp
from zapgate_sidecar.transport import AnswerLost, ConnectFailed, NetworkUnreachable, Refused, TransportError
from zapgate_sidecar.transports.neonize import request_contacts, request_groups, request_messages
from zapgate_sidecar.transports.neonize.request_dispatch import HANDLERS, action_of, run_handler
from zapgate_sidecar.transports.neonize.request_errors import request_error
from zapgate_sidecar.transports.neonize.session import STORE_FILE
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

USER = "5511999990000@s.whatsapp.net"
OTHER = "5511977776666@s.whatsapp.net"
LID = "123456789012345@lid"
GROUP = "120363000000000000@g.us"


def jid_of(value: str) -> JID:
    user, _, server = value.partition("@")
    return JID(User=user, Server=server, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


EMPTY = JID(User="", Server="", Device=0, RawAgent=0, Integrator=0, IsEmpty=True)

# Valid arguments for every operation that goes through perform().
SAMPLE_ARGS: dict[str, dict[str, Any]] = {
    "user_info": {"jid": USER},
    "profile_picture": {"jid": USER},
    "block": {"jid": USER, "action": "block"},
    "blocklist": {},
    "edit_message": {"chat": USER, "message_id": "3EB0AAA", "text": "new"},
    "revoke_message": {"chat": USER, "message_id": "3EB0AAA"},
    "mark_read": {"chat": USER, "messages": [{"id": "3EB0AAA"}]},
    "own_presence": {"state": "available"},
    "group_create": {"name": "team", "participants": [USER]},
    "group_info": {"group": GROUP},
    "group_name": {"group": GROUP, "name": "team"},
    "group_description": {"group": GROUP, "description": "what we do"},
    "group_settings": {"group": GROUP, "announce": True},
    "group_participants": {"group": GROUP, "action": "add", "participants": [USER]},
    "group_invite_link": {"group": GROUP},
    "group_join": {"link": "https://chat.whatsapp.com/AbCdEfGh123"},
    "group_leave": {"group": GROUP},
    "profile_name": {"name": "Zap"},
    "profile_about": {"about": "busy"},
}


def args_of(op: str, **changes: Any) -> Any:
    return ARGUMENTS[op].model_validate({**SAMPLE_ARGS[op], **changes})


@pytest.fixture(scope="module")
def offline_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewClient]:
    """A registered Go client whose socket never came up: requests reach whatsmeow and stop there."""
    from neonize._binder import ProxySettings

    client = NewClient(str(tmp_path_factory.mktemp("request-ops") / STORE_FILE), uuid=f"request-ops-{os.getpid()}")
    with pytest.raises(NeonizeError):
        client.connect(ProxySettings(proxy_address=refused_proxy()))
    yield client
    client.stop()


# ---------------------------------------------------------------- the dispatch table
def test_every_operation_but_the_two_with_their_own_methods_has_a_handler() -> None:
    assert set(HANDLERS) == set(get_args(RequestOp)) - {"check_numbers", "chat_presence"}
    assert set(SAMPLE_ARGS) == set(HANDLERS)


def test_every_operation_through_a_session_that_is_not_connected_is_unreachable(tmp_path: Path) -> None:
    events = Events()
    session = NeonizeTransport(connect_timeout=10, stop_timeout=2, proxy_address=refused_proxy()).open_session(
        "inst-ops", tmp_path / "auth", events)
    try:
        for op in HANDLERS:  # never started: no Go client at all
            with pytest.raises(NetworkUnreachable, match=rf"^{action_of(op)}: not connected$"):
                session.perform(op, args_of(op))
        session.start()
        assert isinstance(events.next(timeout=15), ConnectFailed)
        for op in HANDLERS:  # started, a Go client registered, WhatsApp unreachable: the fence still holds
            with pytest.raises(NetworkUnreachable, match=rf"^{action_of(op)}: not connected$"):
                session.perform(op, args_of(op))
        # An edit past the window is refused from its arguments, connected or not: retrying cannot help.
        with pytest.raises(Refused) as refused:
            session.perform("edit_message", args_of("edit_message", sent_at=int(time.time()) - EDIT_WINDOW_S - 60))
        assert refused.value.kind == "expired"
    finally:
        session.stop()


def test_an_unknown_operation_is_refused(tmp_path: Path) -> None:
    session = NeonizeTransport(connect_timeout=10, stop_timeout=2).open_session("inst-x", tmp_path / "a", Events())
    with pytest.raises(Refused, match="check_numbers: not an operation"):
        session.perform("check_numbers", ARGUMENTS["check_numbers"].model_validate({"numbers": ["5511999990000"]}))


# ---------------------------------------------------------------- the offline Go client
@pytest.mark.parametrize(
    ("op", "changes"),
    [
        ("user_info", {}),
        ("profile_picture", {}),
        ("blocklist", {}),
        ("edit_message", {}),  # SendMessage: "the store doesn't contain a device JID"
        ("revoke_message", {}),  # our own (no sender): get_me is not asked
        ("mark_read", {"chat": GROUP, "messages": [{"id": "A", "sender": USER}, {"id": "B", "sender": OTHER}]}),
        ("group_create", {}),
        ("group_info", {}),
        ("group_name", {}),
        ("group_description", {}),
        ("group_settings", {"locked": True}),
        ("group_participants", {}),
        ("group_participants", {"action": "remove"}),
        ("group_invite_link", {"reset": True}),
        ("group_join", {}),
        ("group_leave", {}),
        ("profile_about", {}),
    ],
)
def test_operations_reach_whatsmeow_and_fail_there_as_unreachable(
    offline_client: NewClient, op: str, changes: dict[str, Any]
) -> None:
    with pytest.raises(NetworkUnreachable) as raised:
        HANDLERS[op](offline_client, args_of(op, **changes))
    assert str(raised.value).startswith(f"{action_of(op)}")
    assert "whatsapp unreachable" in str(raised.value)
    assert isinstance(raised.value.__cause__, NeonizeError)  # Go answered: the call really went there


def test_own_presence_without_a_push_name_fails_without_being_unreachable(offline_client: NewClient) -> None:
    # whatsmeow's ErrNoPushName: the account's name comes with the app state after login, not with a retry.
    with pytest.raises(TransportError) as raised:
        request_messages.own_presence_on(offline_client, args_of("own_presence"))
    assert type(raised.value) is TransportError
    assert isinstance(raised.value.__cause__, SendPresenceError)
    assert "push" in str(raised.value).lower()


def test_malformed_jids_are_refused_before_go_is_asked(offline_client: NewClient) -> None:
    with pytest.raises(Refused, match="invalid jid"):
        request_groups.group_name_on(offline_client, args_of("group_name", group="x@"))
    with pytest.raises(Refused, match="is not a group"):
        request_groups.group_leave_on(offline_client, args_of("group_leave", group=USER))
    with pytest.raises(Refused, match="is not a user"):
        request_contacts.user_info_on(offline_client, UserArgs(jid=GROUP))
    with pytest.raises(Refused, match="not an invite link"):
        request_groups.group_join_on(offline_client, args_of("group_join", link="https://example.com/a/b"))


def test_a_failed_receipt_says_how_many_went_out(offline_client: NewClient) -> None:
    with pytest.raises(NetworkUnreachable, match=r"^mark read \(0 of 2 marked\): whatsapp unreachable"):
        request_messages.mark_read_on(offline_client, MarkReadArgs.model_validate(
            {"chat": GROUP, "messages": [{"id": "A", "sender": USER}, {"id": "B", "sender": OTHER}]}))


# ---------------------------------------------------------------- error texts -> the port's errors
@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("websocket not connected", NetworkUnreachable, None),
        ("failed to get privacy token for participant x: the store doesn't contain a device JID", NetworkUnreachable,
         None),
        ("info query returned status 405: not-allowed", Refused, "forbidden"),
        ("info query returned status 406: not-acceptable", Refused, "bad_request"),
        ("that group does not exist", Refused, "not_found"),
        ("failed to get old group info to update topic: that group does not exist", Refused, "not_found"),
        ("you're not participating in that group", Refused, "forbidden"),
        ("you don't have the permission to get the group's invite link", Refused, "forbidden"),
        ("that group invite link has been revoked", Refused, "not_found"),
        ("that group invite link is not valid", Refused, "bad_request"),
        ("info query returned unknown error: <error code=\"not-admin\"/>", Refused, "forbidden"),
        ("can't send presence without PushName set", TransportError, None),
        ("info query returned status 429: rate-overlimit", TransportError, None),
    ],
)
def test_request_errors_map_by_their_go_text(text: str, expected: type[TransportError], kind: str | None) -> None:
    mapped = request_error("group info", NeonizeError(text))
    assert type(mapped) is expected
    if kind is not None:
        assert isinstance(mapped, Refused) and mapped.kind == kind
    assert str(mapped).startswith("group info: ")


class NoAnswer:
    """A stand-in client whose every call raises what whatsmeow raises when a request left and no answer came."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __getattr__(self, name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            raise NeonizeError(self.text)

        return call


@pytest.mark.parametrize("text", ["info query timed out", "timed out waiting for message send response",
                                  "websocket disconnected before info query returned response"])
def test_a_change_sent_without_an_answer_may_have_happened_and_is_not_unreachable(text: str) -> None:
    for op in ("group_leave", "group_create", "edit_message", "group_participants"):
        with pytest.raises(TransportError) as raised:
            run_handler(op, NoAnswer(text), args_of(op))
        assert type(raised.value) is AnswerLost, op
        assert str(raised.value).endswith("(sent without an answer: it may have happened)")
    # a read is harmless to repeat: try later
    with pytest.raises(NetworkUnreachable):
        run_handler("group_info", NoAnswer(text), args_of("group_info"))
    # a change that never left (no socket) is unreachable: it did not happen
    with pytest.raises(NetworkUnreachable):
        run_handler("group_leave", NoAnswer("websocket not connected"), args_of("group_leave"))
