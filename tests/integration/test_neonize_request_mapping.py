"""Requests to the phone over neonize: what this code builds and maps, with neonize's own protobufs.

Edits, revocations and read receipts are built as neonize protobufs and their fields checked; group info,
participant answers, user info and block lists are mapped from neonize's answer protobufs into the contract's
models. Where an op function's calls matter (one receipt per sender, the block list read back, which setting
changed) it is driven with a stand-in client that records calls and answers with neonize's protobufs and
exceptions: no offline Go client can answer those, and nothing here pretends WhatsApp did.
(test_neonize_request_ops.py drives the same functions against the real Go client, offline.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from neonize.exc import GetProfilePictureError, NeonizeError
from neonize.proto.Neonize_pb2 import (
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

from tests.integration.test_neonize_request_ops import EMPTY, GROUP, LID, OTHER, USER, args_of, jid_of
from zapgate_core.contract.request_ops.contacts import BlockArgs, ProfilePictureArgs, UserArgs
from zapgate_core.contract.request_ops.messages import EDIT_WINDOW_S, EditMessageArgs, MarkReadArgs
from zapgate_core.contract.requests import RESULTS
from zapgate_sidecar.transport import Refused
from zapgate_sidecar.transports.neonize import request_contacts, request_groups, request_messages, request_profile


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
    with pytest.raises(Refused, match="not a message id"):  # Go would read two ids
        request_messages.read_batches(USER, MarkReadArgs.model_validate(
            {"chat": USER, "messages": [{"id": "A B"}]}).messages)


# ---------------------------------------------------------------- groups: neonize's protobufs -> the contract
def _participant(jid: str, *, lid: str = "", pn: str = "", admin: bool = False, creator: bool = False,
                 error: int = 0) -> GroupParticipant:
    return GroupParticipant(JID=jid_of(jid), LID=jid_of(lid) if lid else EMPTY, PhoneNumber=jid_of(pn) if pn else EMPTY,
                            IsAdmin=admin or creator, IsSuperAdmin=creator, DisplayName="", Error=error)


def _group_info(participants: list[GroupParticipant], *, topic: str = "about us", deleted: bool = False) -> GroupInfo:
    return GroupInfo(
        JID=jid_of(GROUP), OwnerJID=jid_of(LID), OwnerPN=jid_of(USER),
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
    # both answered as LIDs, in the other order: position alone would swap them
    third = "5511966665555@s.whatsapp.net"
    swapped = request_groups.participant_outcomes(
        [OTHER, third],
        [_participant("999@lid", lid="999@lid", pn=third), _participant(LID, lid=LID, pn=OTHER, error=409)], "add")
    assert [(o.jid, o.ok, o.error) for o in swapped.participants] == [(OTHER, False, "already_participant"),
                                                                       (third, True, None)]
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
    return GetUserInfoSingleReturnFunction(JID=jid_of(jid), UserInfo=info)


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
    client = Recorder(get_user_info=[_user_answer(USER, status="hey")], get_lid_from_pn=jid_of(LID),
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
    changed = Blocklist(DHash="1", JIDs=[jid_of(LID)])
    full = Blocklist(DHash="2", JIDs=[jid_of(LID), jid_of("99999@lid"), EMPTY])
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
