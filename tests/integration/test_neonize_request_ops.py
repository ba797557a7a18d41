"""Every request to the phone over real neonize/whatsmeow, up to the network boundary (as test_neonize_requests).

What is built (edit, revoke, read receipts) is neonize's own protobuf; what is mapped (group info, participants,
user info, block list) is built from neonize's answer protobufs; errors are what the Go client raises when
WhatsApp is unreachable. A success from WhatsApp is never simulated: that needs WhatsApp. A few tests drive the
op functions with a stand-in client object that records calls and answers with neonize's protobufs, to check
what this code asks Go for (calls per sender, fallbacks) where no offline Go client can answer.

Calls that abort the Go process on a client that is not logged in (update_blocklist, set_profile_name,
get_contact, get_lid_from_pn, get_me; probed one per subprocess) are never made on the offline client here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from neonize.client import NewClient
from neonize.exc import GetProfilePictureError, NeonizeError, SendPresenceError
from neonize.proto.Neonize_pb2 import (
    JID,
    Blocklist,
    ContactInfo,
    GetProfilePictureReturnFunction,
    GetUserInfoSingleReturnFunction,
    GroupAnnounce,
    GroupInfo,
    GroupLocked,
    GroupName,
    GroupParticipant,
    GroupTopic,
    ProfilePictureInfo,
    UserInfo,
    VerifiedName,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ProtocolMessage
from neonize.proto.waVnameCert.WAWebProtobufsVnameCert_pb2 import VerifiedNameCertificate

from tests.integration.test_neonize_store import Events, refused_proxy
from zapgate_core.contract.request_ops.contacts import BlockArgs, ProfilePictureArgs, UserArgs
from zapgate_core.contract.request_ops.messages import EDIT_WINDOW_S, EditMessageArgs, MarkReadArgs
from zapgate_core.contract.requests import ARGUMENTS, RESULTS, RequestOp
from zapgate_sidecar.transport import ConnectFailed, NetworkUnreachable, Refused, TransportError
from zapgate_sidecar.transports.neonize import request_contacts, request_groups, request_messages, request_profile
from zapgate_sidecar.transports.neonize.request_dispatch import HANDLERS, action_of
from zapgate_sidecar.transports.neonize.request_errors import request_error
from zapgate_sidecar.transports.neonize.session import STORE_FILE
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport

USER = "5511999990000@s.whatsapp.net"
OTHER = "5511977776666@s.whatsapp.net"
LID = "123456789012345@lid"
GROUP = "120363000000000000@g.us"


def _jid(value: str) -> JID:
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


class Recorder:
    """A stand-in client: records each call by name and answers with what it was given (neonize protobufs or
    neonize exceptions). Used only for the mapping around calls that no offline Go client can answer."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.contact = self

    def __getattr__(self, name: str) -> Any:
        if name not in self.answers:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            answer = self.answers[name]
            if isinstance(answer, BaseException):
                raise answer
            return answer(*args) if callable(answer) else answer

        return call


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


# ---------------------------------------------------------------- edit and revoke protobufs
def test_an_edit_is_a_message_edit_of_our_message_with_the_new_text() -> None:
    before = int(time.time() * 1000)
    message = request_messages.build_edit_message(USER, "3EB0AAA", "fixed typo")
    protocol = message.editedMessage.message.protocolMessage
    assert protocol.type == ProtocolMessage.MESSAGE_EDIT
    assert (protocol.key.remoteJID, protocol.key.fromMe, protocol.key.ID) == (USER, True, "3EB0AAA")
    assert not protocol.key.HasField("participant")
    assert protocol.editedMessage.conversation == "fixed typo"
    assert before <= protocol.timestampMS <= int(time.time() * 1000)


def test_the_edit_window_is_checked_only_when_the_send_time_is_known() -> None:
    now = 1_800_000_000
    request_messages.check_edit_window(EditMessageArgs(chat=USER, message_id="A", text="t"), now=now)
    request_messages.check_edit_window(
        EditMessageArgs(chat=USER, message_id="A", text="t", sent_at=now - EDIT_WINDOW_S), now=now)
    with pytest.raises(Refused) as refused:
        request_messages.check_edit_window(
            EditMessageArgs(chat=USER, message_id="A", text="t", sent_at=now - EDIT_WINDOW_S - 1), now=now)
    assert refused.value.kind == "expired"


def test_the_edit_op_refuses_an_expired_edit_without_sending() -> None:
    client = Recorder(send_message=AssertionError("an expired edit must not be sent"))
    with pytest.raises(Refused) as refused:
        request_messages.edit_message_on(client, args_of("edit_message", sent_at=int(time.time()) - 3600))
    assert refused.value.kind == "expired" and client.calls == []


def test_revoking_our_own_message_is_a_sender_revoke() -> None:
    message = request_messages.build_revoke_message(GROUP, "3EB0AAA", None)
    protocol = message.protocolMessage
    assert protocol.type == ProtocolMessage.REVOKE
    assert (protocol.key.remoteJID, protocol.key.fromMe, protocol.key.ID) == (GROUP, True, "3EB0AAA")
    assert not protocol.key.HasField("participant")
    # a sender that is this account (its LID user) is still ours
    mine = request_messages.build_revoke_message(GROUP, "3EB0AAA", LID, own_users={"123456789012345"})
    assert mine.protocolMessage.key.fromMe and not mine.protocolMessage.key.HasField("participant")


def test_revoking_someone_elses_message_in_a_group_names_its_author() -> None:
    message = request_messages.build_revoke_message(GROUP, "3EB0BBB", OTHER, own_users={"5511999990000"})
    key = message.protocolMessage.key
    assert message.protocolMessage.type == ProtocolMessage.REVOKE
    assert (key.remoteJID, key.fromMe, key.ID, key.participant) == (GROUP, False, "3EB0BBB", OTHER)


def test_revoking_someone_elses_message_in_a_direct_chat_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        request_messages.build_revoke_message(OTHER, "3EB0BBB", OTHER, own_users={"5511999990000"})
    assert refused.value.kind == "forbidden"


# ---------------------------------------------------------------- read receipts
def test_read_receipts_go_one_call_per_sender_in_groups() -> None:
    client = Recorder(mark_read=None)
    args = MarkReadArgs.model_validate({"chat": GROUP, "messages": [
        {"id": "A", "sender": USER}, {"id": "B", "sender": OTHER}, {"id": "C", "sender": USER},
        {"id": "A", "sender": USER},  # twice: one receipt
    ]})
    result = request_messages.mark_read_on(client, args)
    assert result.marked == 3
    calls = [(ids, kw["chat"].User, kw["sender"].User, kw["receipt"].value) for _, ids, kw in client.calls]
    assert calls == [(("A", "C"), "120363000000000000", "5511999990000", b"read"),
                     (("B",), "120363000000000000", "5511977776666", b"read")]


def test_read_receipts_in_a_direct_chat_name_no_sender() -> None:
    client = Recorder(mark_read=None)
    args = MarkReadArgs.model_validate({"chat": USER, "messages": [{"id": "A"}, {"id": "B", "sender": USER}]})
    assert request_messages.mark_read_on(client, args).marked == 2
    [(_, ids, kwargs)] = client.calls
    assert ids == ("A", "B") and kwargs["sender"].IsEmpty and kwargs["chat"].Server == "s.whatsapp.net"


def test_a_group_read_receipt_needs_each_sender() -> None:
    with pytest.raises(Refused, match="needs its sender"):
        request_messages.read_batches(GROUP, MarkReadArgs.model_validate(
            {"chat": GROUP, "messages": [{"id": "A"}]}).messages)


def test_a_failed_receipt_says_how_many_went_out(offline_client: NewClient) -> None:
    with pytest.raises(NetworkUnreachable, match=r"^mark read \(0 of 2 marked\): whatsapp unreachable"):
        request_messages.mark_read_on(offline_client, MarkReadArgs.model_validate(
            {"chat": GROUP, "messages": [{"id": "A", "sender": USER}, {"id": "B", "sender": OTHER}]}))


# ---------------------------------------------------------------- groups: neonize's protobufs -> the contract
def _participant(jid: str, *, lid: str = "", pn: str = "", admin: bool = False, creator: bool = False,
                 error: int = 0) -> GroupParticipant:
    return GroupParticipant(JID=_jid(jid), LID=_jid(lid) if lid else EMPTY, PhoneNumber=_jid(pn) if pn else EMPTY,
                            IsAdmin=admin or creator, IsSuperAdmin=creator, DisplayName="", Error=error)


def _group_info(participants: list[GroupParticipant], *, topic: str = "about us", deleted: bool = False) -> GroupInfo:
    return GroupInfo(
        JID=_jid(GROUP), OwnerJID=_jid(LID), OwnerPN=_jid(USER),
        GroupName=GroupName(Name="team", NameSetAt=0, NameSetBy=EMPTY),
        GroupTopic=GroupTopic(Topic=topic, TopicID="T1", TopicSetAt=0, TopicSetBy=EMPTY, TopicDeleted=deleted),
        GroupLocked=GroupLocked(isLocked=True), GroupAnnounce=GroupAnnounce(IsAnnounce=False, AnnounceVersionID=""),
        GroupCreated=1_700_000_000.0, ParticipantVersionID="1", Participants=participants,
    )


def test_group_info_maps_settings_owner_and_participants() -> None:
    info = request_groups.group_info_from(_group_info([
        _participant(LID, lid=LID, pn=USER, creator=True),
        _participant(OTHER, pn=OTHER),
        _participant("5511955554444@s.whatsapp.net", error=403),  # refused at creation: not a member
    ]))
    assert (info.jid, info.name, info.description, info.owner) == (GROUP, "team", "about us", LID)
    assert (info.announce, info.locked) == (False, True)
    assert abs(info.created_at - 1_700_000_000) <= 64  # float32 on neonize's wire
    assert [p.model_dump() for p in info.participants] == [
        {"jid": LID, "lid": LID, "phone_jid": USER, "is_admin": True, "is_super_admin": True},
        {"jid": OTHER, "lid": None, "phone_jid": OTHER, "is_admin": False, "is_super_admin": False},
    ]


def test_a_deleted_description_and_go_zero_times_read_as_empty() -> None:
    raw = _group_info([], deleted=True)
    raw.GroupCreated = -62135596800.0  # time.Time{}.Unix()
    raw.OwnerJID.CopyFrom(EMPTY)
    info = request_groups.group_info_from(raw)
    assert (info.description, info.created_at, info.owner) == ("", None, USER)


def test_participant_answers_match_by_any_of_their_jids_and_keep_the_order_asked() -> None:
    answers = [
        _participant(LID, lid=LID, pn=OTHER, error=409),  # asked as OTHER, answered as its LID
        _participant(USER, pn=USER),
        _participant("5511944443333@s.whatsapp.net", error=403),
        _participant("5511933332222@s.whatsapp.net", error=408),
        _participant("5511922221111@s.whatsapp.net", error=419),
    ]
    asked = [USER, OTHER, "5511944443333@s.whatsapp.net", "5511933332222@s.whatsapp.net",
             "5511922221111@s.whatsapp.net", "5511911110000@s.whatsapp.net"]
    result = request_groups.participant_outcomes(asked, answers, "add")
    assert [(o.jid, o.ok, o.error) for o in result.participants] == [
        (USER, True, None), (OTHER, False, "already_participant"),
        ("5511944443333@s.whatsapp.net", False, "forbidden"), ("5511933332222@s.whatsapp.net", False, "recently_left"),
        ("5511922221111@s.whatsapp.net", False, "419"), ("5511911110000@s.whatsapp.net", False, "no_answer"),
    ]
    removed = request_groups.participant_outcomes([OTHER], [_participant(OTHER, error=409)], "remove")
    assert removed.participants[0].error == "not_participant"
    added = request_groups.participant_outcomes([OTHER], [_participant(OTHER, error=404)], "add")
    assert added.participants[0].error == "not_on_whatsapp"


def test_invite_links_and_codes() -> None:
    assert request_groups.invite_link("https://chat.whatsapp.com/AbC") == "https://chat.whatsapp.com/AbC"
    assert request_groups.invite_link("AbC") == "https://chat.whatsapp.com/AbC"
    for link in ("https://chat.whatsapp.com/AbC", "chat.whatsapp.com/AbC/", "http://chat.whatsapp.com/AbC?x=1", "AbC"):
        assert request_groups.invite_code(link) == "AbC"


def test_group_settings_name_what_changed_when_the_second_call_fails() -> None:
    client = Recorder(set_group_announce=None,
                      set_group_locked=NeonizeError("info query returned status 403: forbidden"))
    with pytest.raises(Refused) as refused:
        request_groups.group_settings_on(client, args_of("group_settings", locked=True))
    assert refused.value.kind == "forbidden"
    assert str(refused.value).startswith("group settings (announce changed, locked not): ")
    assert [name for name, _, _ in client.calls] == ["set_group_announce", "set_group_locked"]


# ---------------------------------------------------------------- contacts
def _user_answer(
    jid: str, *, status: str = "", picture: str = "", verified: str = ""
) -> GetUserInfoSingleReturnFunction:
    info = UserInfo(Status=status, PictureID=picture)
    if verified:
        info.VerifiedName.CopyFrom(VerifiedName(Details=VerifiedNameCertificate.Details(verifiedName=verified)))
    return GetUserInfoSingleReturnFunction(JID=_jid(jid), UserInfo=info)


def _contact(push: str = "", business: str = "", found: bool = True) -> ContactInfo:
    return ContactInfo(Found=found, FirstName="", FullName="", PushName=push, BusinessName=business, RedactedPhone="")


def test_user_info_combines_the_usync_answer_the_lid_map_and_the_contact_store() -> None:
    info = request_contacts.user_info_from(
        USER, [_user_answer(OTHER), _user_answer(USER, status="hey", picture="171", verified="Acme Ltd")],
        LID, _contact(push="Ana", business="Acme"))
    assert info.model_dump() == {"jid": USER, "lid": LID, "push_name": "Ana", "business_name": "Acme",
                                 "verified_name": "Acme Ltd", "about": "hey", "picture_id": "171"}
    bare = request_contacts.user_info_from(USER, [_user_answer(USER)], "", _contact(push="x", found=False))
    assert bare.model_dump(exclude={"jid"}) == dict.fromkeys(
        ("lid", "push_name", "business_name", "verified_name", "about", "picture_id"))


def test_a_user_whatsapp_did_not_answer_for_has_no_account() -> None:
    with pytest.raises(Refused) as refused:
        request_contacts.user_info_from(USER, [], None, None)
    assert refused.value.kind == "not_on_whatsapp"


def test_user_info_reads_the_lid_and_tries_the_contact_store_under_both_jids() -> None:
    client = Recorder(get_user_info=[_user_answer(USER, status="hey")], get_lid_from_pn=_jid(LID),
                      get_contact=lambda jid: _contact(push="Ana") if jid.Server == "lid" else _contact(found=False))
    info = request_contacts.user_info_on(client, UserArgs(jid=USER))
    assert (info.lid, info.push_name, info.about) == (LID, "Ana", "hey")
    assert [(name, args[0].Server) for name, args, _ in client.calls if name == "get_contact"] == [
        ("get_contact", "s.whatsapp.net"), ("get_contact", "lid")]


def test_no_profile_picture_or_a_hidden_one_is_no_url() -> None:
    for sentence in ("that user or group does not have a profile picture",
                     "the user has hidden their profile picture from you"):
        client = Recorder(get_profile_picture=GetProfilePictureError(GetProfilePictureReturnFunction(Error=sentence)))
        picture = request_contacts.profile_picture_on(client, ProfilePictureArgs(jid=USER))
        assert picture.model_dump() == {"jid": USER, "url": None, "picture_id": None}
    client = Recorder(get_profile_picture=ProfilePictureInfo(URL="https://pps.whatsapp.net/x", ID="171"))
    picture = request_contacts.profile_picture_on(client, ProfilePictureArgs(jid=USER, preview=True))
    assert (picture.url, picture.picture_id) == ("https://pps.whatsapp.net/x", "171")
    assert client.calls[0][1][1].Preview is True


def test_a_block_answers_the_list_read_back_else_the_changes_answer() -> None:
    changed = Blocklist(DHash="1", JIDs=[_jid(LID)])
    full = Blocklist(DHash="2", JIDs=[_jid(LID), _jid("99999@lid"), EMPTY])
    client = Recorder(update_blocklist=changed, get_blocklist=full)
    blocked = request_contacts.block_on(client, BlockArgs(jid=USER, action="block"))
    assert blocked.jids == [LID, "99999@lid"]
    assert client.calls[0][2] == {} and client.calls[0][1][1].value == "block"
    client = Recorder(update_blocklist=changed, get_blocklist=NeonizeError("info query timed out"))
    assert request_contacts.block_on(client, BlockArgs(jid=LID, action="unblock")).jids == [LID]


def test_results_are_the_contracts_models() -> None:
    # what perform() hands the runtime must be RESULTS[op] (runtime/request_ops checks it)
    assert isinstance(request_groups.group_info_from(_group_info([])), RESULTS["group_info"])
    assert isinstance(request_contacts.blocklist_from(Blocklist(DHash="", JIDs=[])), RESULTS["blocklist"])
    assert isinstance(request_profile.profile_about_on(Recorder(set_status_message=None),
                                                       args_of("profile_about", about="")), RESULTS["profile_about"])


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
