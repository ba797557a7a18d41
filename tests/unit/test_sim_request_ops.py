"""WhatsApp's rules for the requests to the phone on the simulated network (SimNetwork.perform), no HTTP:
groups and their members, invite links, edits and deletes within their windows, read receipts, contacts and
profile. Each test changes something and checks what the network (and the other accounts) now see."""

from __future__ import annotations

from typing import Any

import pytest

from zapgate_core.contract.request_ops.messages import EDIT_WINDOW_S
from zapgate_sim.network import (
    Expired,
    Forbidden,
    InvalidRequest,
    NotConnected,
    NotFound,
    NotOnWhatsApp,
    SimNetwork,
    sim_lid,
)
from zapgate_sim.sim_message_ops import REVOKE_WINDOW_S

ALICE, BOB, CAROL, DAVE = "5511999990001", "5511999990002", "5511999990003", "5511999990004"
NOBODY = "5511900000000"  # no WhatsApp account


def jid(digits: str) -> str:
    return f"{digits}@s.whatsapp.net"


class Clock:
    """The network's clock, stepped by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """Alice and Bob are gateway instances (a, b); Carol and Dave registered accounts outside the gateway."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.net = SimNetwork(clock=self.clock)
        self.sessions: dict[str, str] = {}
        for instance, phone, name in (("a", ALICE, "Alice"), ("b", BOB, "Bob")):
            self.sessions[instance], _ = self.net.connect(instance)
            self.net.scan(instance, phone, name)
        self.net.register_account(CAROL, "Carol", about="at the gym", picture=True)
        self.net.register_account(DAVE, "Dave")

    def op(self, instance: str, op: str, **args: Any) -> dict[str, Any]:
        return self.net.perform(instance, self.sessions[instance], op, args)

    def group(self, *members: str, name: str = "Team") -> str:
        created = self.op("a", "group_create", name=name, participants=[jid(m) for m in members])
        return str(created["jid"])

    def roles(self, group: str) -> dict[str, tuple[bool, bool]]:
        return {p["jid"]: (p["is_admin"], p["is_super_admin"]) for p in self.net.group_view(group)["participants"]}


@pytest.fixture
def w() -> World:
    return World()


# ---------------------------------------------------------------- groups
def test_group_create_makes_the_creator_super_admin_and_leaves_out_numbers_without_whatsapp(w: World) -> None:
    created = w.op("a", "group_create", name="  Team  ", participants=[jid(BOB), jid(CAROL), jid(NOBODY)])

    assert created["name"] == "Team" and created["owner"] == jid(ALICE)
    assert [(p["jid"], p["is_admin"], p["is_super_admin"]) for p in created["participants"]] == [
        (jid(ALICE), True, True), (jid(BOB), False, False), (jid(CAROL), False, False)]
    assert created["participants"][1]["lid"] == f"{sim_lid(BOB)}@lid"
    # Both gateway members discover it (GetJoinedGroups); the network shows it with its admins.
    assert w.net.list_groups("b", w.sessions["b"]) == [{"jid": created["jid"], "name": "Team"}]
    assert w.net.group_view(created["jid"])["admins"] == [jid(ALICE)]
    with pytest.raises(InvalidRequest):
        w.op("a", "group_create", name="x" * 101)


def test_only_members_read_a_group_and_an_unknown_one_is_not_found(w: World) -> None:
    group = w.group(CAROL)
    with pytest.raises(Forbidden):
        w.op("b", "group_info", group=group)
    with pytest.raises(NotFound):
        w.op("a", "group_info", group="120363000000000009@g.us")
    with pytest.raises(InvalidRequest):
        w.op("a", "group_info", group=jid(BOB))  # a user is not a group
    assert w.op("a", "group_info", group=group)["jid"] == group


def test_a_non_admin_cannot_add_participants_and_nothing_changes(w: World) -> None:
    group = w.group(BOB)
    before = w.net.group_view(group)

    with pytest.raises(Forbidden):
        w.op("b", "group_participants", group=group, action="add", participants=[jid(CAROL)])

    assert w.net.group_view(group) == before


def test_an_admin_adds_with_an_outcome_per_participant(w: World) -> None:
    group = w.group(BOB)

    answer = w.op("a", "group_participants", group=group, action="add",
                  participants=[jid(CAROL), jid(BOB), jid(NOBODY), f"{sim_lid(DAVE)}@lid"])

    assert [(p["jid"], p["ok"], p["error"]) for p in answer["participants"]] == [
        (jid(CAROL), True, None), (jid(BOB), False, "already_participant"), (jid(NOBODY), False, "not_on_whatsapp"),
        (f"{sim_lid(DAVE)}@lid", True, None)]  # a LID names the account it belongs to
    assert list(w.roles(group)) == [jid(ALICE), jid(BOB), jid(CAROL), jid(DAVE)]


def test_promote_demote_remove_and_the_super_admin_stays(w: World) -> None:
    group = w.group(BOB, CAROL)

    promoted = w.op("a", "group_participants", group=group, action="promote", participants=[jid(BOB), jid(DAVE)])
    assert [(p["ok"], p["error"]) for p in promoted["participants"]] == [(True, None), (False, "not_participant")]
    # Bob is an admin now: he may change participants, but not remove or demote the creator.
    removed = w.op("b", "group_participants", group=group, action="remove", participants=[jid(CAROL), jid(ALICE)])
    assert [(p["ok"], p["error"]) for p in removed["participants"]] == [(True, None), (False, "forbidden")]
    demoted = w.op("b", "group_participants", group=group, action="demote", participants=[jid(ALICE)])
    assert demoted["participants"][0]["error"] == "forbidden"
    assert w.roles(group) == {jid(ALICE): (True, True), jid(BOB): (True, False)}

    w.op("a", "group_participants", group=group, action="demote", participants=[jid(BOB)])
    with pytest.raises(Forbidden):
        w.op("b", "group_participants", group=group, action="add", participants=[jid(CAROL)])


def test_a_locked_group_lets_only_admins_edit_its_info(w: World) -> None:
    group = w.group(BOB)

    w.op("b", "group_name", group=group, name="Renamed by Bob")  # unlocked: any member
    assert w.net.list_groups("a", w.sessions["a"]) == [{"jid": group, "name": "Renamed by Bob"}]
    with pytest.raises(Forbidden):
        w.op("b", "group_settings", group=group, locked=True)  # settings: admins only
    w.op("a", "group_settings", group=group, locked=True)
    with pytest.raises(Forbidden):
        w.op("b", "group_description", group=group, description="mine")
    w.op("a", "group_description", group=group, description="rules")

    view = w.net.group_view(group)
    assert (view["name"], view["description"], view["locked"], view["announce"]) == (
        "Renamed by Bob", "rules", True, False)


def test_an_announce_group_takes_messages_from_admins_only(w: World) -> None:
    group = w.group(BOB)
    w.op("a", "group_settings", group=group, announce=True)

    with pytest.raises(Forbidden):
        w.net.send("b", w.sessions["b"], group, "text", "may I?")
    assert w.net.sent("b") == []
    assert w.net.send("a", w.sessions["a"], group, "text", "announcement")


def test_resetting_the_invite_link_invalidates_the_old_one(w: World) -> None:
    group = w.group(BOB)
    with pytest.raises(Forbidden):
        w.op("b", "group_invite_link", group=group)  # admins only

    old = w.op("a", "group_invite_link", group=group)["link"]
    new = w.op("a", "group_invite_link", group=group, reset=True)["link"]

    assert old.startswith("https://chat.whatsapp.com/") and new != old
    assert w.net.group_view(group)["invite_link"] == new
    w.op("a", "group_participants", group=group, action="remove", participants=[jid(BOB)])
    with pytest.raises(NotFound):
        w.op("b", "group_join", link=old)
    assert jid(BOB) not in w.roles(group)
    code = new.rsplit("/", 1)[1]
    assert w.op("b", "group_join", link=code) == {"jid": group}  # a bare code works too
    assert w.op("b", "group_join", link=new) == {"jid": group}  # already a member: ok
    assert w.roles(group)[jid(BOB)] == (False, False)
    assert w.net.list_groups("b", w.sessions["b"]) == [{"jid": group, "name": "Team"}]
    with pytest.raises(InvalidRequest):
        w.op("b", "group_join", link="https://example.com/not a code")


def test_leaving_a_group_and_the_last_admin_leaving(w: World) -> None:
    group = w.group(BOB, CAROL)

    w.op("a", "group_leave", group=group)

    # The only admin left: the longest-standing participant becomes admin, as WhatsApp does.
    assert w.roles(group) == {jid(BOB): (True, False), jid(CAROL): (False, False)}
    assert w.net.list_groups("a", w.sessions["a"]) == []
    with pytest.raises(Forbidden):
        w.op("a", "group_leave", group=group)
    with pytest.raises(Forbidden):
        w.op("a", "group_info", group=group)


def test_set_group_before_pairing_makes_the_instance_a_member_once_it_pairs() -> None:
    net = SimNetwork()
    net.set_group("c", "120363000000000042@g.us", "Declared")
    session, _ = net.connect("c")
    net.scan("c", CAROL, "Carol")

    info = net.perform("c", session, "group_info", {"group": "120363000000000042@g.us"})

    assert [(p["jid"], p["is_admin"]) for p in info["participants"]] == [(jid(CAROL), False)]
    net.perform("c", session, "group_name", {"group": "120363000000000042@g.us", "name": "Renamed"})
    assert net.list_groups("c", session) == [{"jid": "120363000000000042@g.us", "name": "Renamed"}]


# ---------------------------------------------------------------- messages
def test_only_the_sender_edits_and_only_within_the_window(w: World) -> None:
    message = w.net.send("a", w.sessions["a"], BOB, "text", "helo")

    with pytest.raises(Forbidden):
        w.op("b", "edit_message", chat=jid(ALICE), message_id=message, text="hacked")  # Bob received it
    with pytest.raises(NotFound):
        w.op("a", "edit_message", chat=jid(CAROL), message_id=message, text="x")  # not in that chat
    w.clock.now += EDIT_WINDOW_S  # the last second of the window
    edit = w.op("a", "edit_message", chat=jid(BOB), message_id=message, text="hello")

    assert w.net.sent("a")[0]["body"] == "hello"
    assert [(e["edit_id"], e["previous"], e["text"]) for e in w.net.sent("a")[0]["edits"]] == [
        (edit["edit_id"], "helo", "hello")]
    assert [m["text"] for m in w.net.messages("b")] == ["hello"]  # the receiver sees the edit
    w.clock.now += 1
    with pytest.raises(Expired):
        w.op("a", "edit_message", chat=jid(BOB), message_id=message, text="too late")
    assert w.net.sent("a")[0]["body"] == "hello"


def test_advance_clock_moves_the_network_past_the_edit_window() -> None:
    net = SimNetwork()
    session, _ = net.connect("a")
    net.scan("a", ALICE, "Alice")
    message = net.send("a", session, BOB, "text", "hi")

    net.advance_clock(EDIT_WINDOW_S + 1)

    with pytest.raises(Expired):
        net.perform("a", session, "edit_message", {"chat": jid(BOB), "message_id": message, "text": "x"})
    with pytest.raises(InvalidRequest):
        net.advance_clock(-1)
    net.reset()
    assert abs(net.now() - net._clock()) < 1  # reset puts the clock back


def test_a_revoked_message_stays_revoked_for_everyone_and_cannot_be_edited(w: World) -> None:
    message = w.net.send("a", w.sessions["a"], BOB, "text", "oops")

    first = w.op("a", "revoke_message", chat=jid(BOB), message_id=message)
    again = w.op("a", "revoke_message", chat=jid(BOB), message_id=message)

    assert again == first  # idempotent: the same revocation
    assert w.net.sent("a")[0]["revoked"]["revoke_id"] == first["revoke_id"]
    assert [(m["text"], m["revoked"]["by"]) for m in w.net.messages("b")] == [(None, jid(ALICE))]
    with pytest.raises(NotFound):
        w.op("a", "edit_message", chat=jid(BOB), message_id=message, text="fixed")
    with pytest.raises(Forbidden):
        w.op("b", "revoke_message", chat=jid(ALICE), message_id=message, sender=jid(ALICE))  # 1:1: not Bob's


def test_revoking_others_messages_in_a_group_takes_an_admin(w: World) -> None:
    group = w.group(BOB)
    from_bob = w.net.send("b", w.sessions["b"], group, "text", "spam")
    from_alice = w.net.send("a", w.sessions["a"], group, "text", "hello")

    with pytest.raises(Forbidden):
        w.op("b", "revoke_message", chat=group, message_id=from_alice, sender=jid(ALICE))
    with pytest.raises(NotFound):
        w.op("a", "revoke_message", chat=group, message_id=from_bob, sender=jid(CAROL))  # wrong sender
    w.op("a", "revoke_message", chat=group, message_id=from_bob, sender=jid(BOB))

    assert w.net.sent("b")[0]["revoked"]["by"] == jid(ALICE)
    assert "revoked" not in w.net.sent("a")[0]


def test_own_messages_can_be_deleted_for_everyone_for_48_hours(w: World) -> None:
    old = w.net.send("a", w.sessions["a"], BOB, "text", "old")
    w.clock.now += REVOKE_WINDOW_S + 1
    with pytest.raises(Expired):
        w.op("a", "revoke_message", chat=jid(BOB), message_id=old)
    assert "revoked" not in w.net.sent("a")[0]


def test_an_inbound_message_can_be_marked_read_and_not_edited(w: World) -> None:
    w.net.deliver_inbound("a", jid(CAROL), wa_message_id="IN1", body="hi Alice")

    marked = w.op("a", "mark_read", chat=jid(CAROL), messages=[{"id": "IN1"}, {"id": "UNKNOWN"}])

    assert marked == {"marked": 1}
    assert [(r["chat"], r["id"], r["sender"]) for r in w.net.reads("a")] == [(jid(CAROL), "IN1", jid(CAROL))]
    with pytest.raises(Forbidden):
        w.op("a", "edit_message", chat=jid(CAROL), message_id="IN1", text="x")


def test_a_read_receipt_reaches_the_sender_instance(w: World) -> None:
    message = w.net.send("a", w.sessions["a"], BOB, "text", "read me")
    cursor = w.net.poll("a", w.sessions["a"], 0, 0)["next"]

    assert w.op("b", "mark_read", chat=jid(ALICE), messages=[{"id": message}]) == {"marked": 1}

    events = w.net.poll("a", w.sessions["a"], cursor, 1)["events"]
    assert [(e["type"], e["wa_message_ids"], e["chat_jid"], e["kind"]) for e in events] == [
        ("receipt_received", [message], jid(BOB), "read")]
    assert [r["jid"] for r in w.net.sent("a")[0]["read_by"]] == [jid(BOB)]


# ---------------------------------------------------------------- contacts and profile
def test_user_info_and_profile_name_as_others_see_them(w: World) -> None:
    carol = w.op("a", "user_info", jid=jid(CAROL))
    assert (carol["push_name"], carol["about"], carol["lid"]) == ("Carol", "at the gym", f"{sim_lid(CAROL)}@lid")
    with pytest.raises(NotOnWhatsApp):
        w.op("a", "user_info", jid=jid(NOBODY))

    w.op("b", "profile_name", name="Bobby")
    w.op("b", "profile_about", about="busy")

    bob = w.op("a", "user_info", jid=f"{sim_lid(BOB)}@lid")
    assert (bob["push_name"], bob["about"]) == ("Bobby", "busy")
    assert w.net.account_view(BOB)["push_name"] == "Bobby"
    w.op("b", "profile_about", about="")
    assert w.op("a", "user_info", jid=jid(BOB))["about"] is None


def test_profile_picture_is_a_cdn_url_for_accounts_with_one(w: World) -> None:
    full = w.op("a", "profile_picture", jid=jid(CAROL))
    preview = w.op("a", "profile_picture", jid=jid(CAROL), preview=True)

    assert full["url"].startswith("https://") and full["picture_id"]
    assert full["url"] != preview["url"] and full["picture_id"] == preview["picture_id"]
    assert full == w.op("b", "profile_picture", jid=jid(CAROL))  # deterministic
    assert w.op("a", "profile_picture", jid=jid(DAVE))["url"] is None
    with pytest.raises(NotOnWhatsApp):
        w.op("a", "profile_picture", jid=jid(NOBODY))


def test_blocklist_is_per_account_and_hides_the_blockers_profile(w: World) -> None:
    w.op("b", "profile_about", about="private")

    assert w.op("b", "block", jid=jid(ALICE), action="block") == {"jids": [jid(ALICE)]}
    assert w.op("b", "block", jid=jid(CAROL), action="block") == {"jids": [jid(ALICE), jid(CAROL)]}
    assert w.op("b", "block", jid=jid(ALICE), action="block") == {"jids": [jid(ALICE), jid(CAROL)]}

    assert w.op("a", "blocklist") == {"jids": []}
    assert w.op("a", "user_info", jid=jid(BOB))["about"] is None  # Bob blocks Alice
    created = w.op("a", "group_create", name="No Bob", participants=[jid(BOB)])
    assert [p["jid"] for p in created["participants"]] == [jid(ALICE)]
    assert w.op("b", "block", jid=jid(ALICE), action="unblock") == {"jids": [jid(CAROL)]}
    assert w.op("a", "user_info", jid=jid(BOB))["about"] == "private"
    with pytest.raises(NotOnWhatsApp):
        w.op("b", "block", jid=jid(NOBODY), action="block")
    assert w.net.profile_view("b")["blocklist"] == [jid(CAROL)]


def test_own_presence_is_recorded(w: World) -> None:
    assert w.net.profile_view("a")["presence"] is None
    assert w.op("a", "own_presence", state="available") == {"done": True}
    assert w.net.profile_view("a")["presence"] == "available"


# ---------------------------------------------------------------- perform itself
def test_perform_runs_on_the_connected_session_only_and_validates_arguments(w: World) -> None:
    stale, _ = w.net.connect("a", "simcred-unknown")  # logged out at once: not the connected session
    with pytest.raises(NotConnected):
        w.net.perform("a", stale, "blocklist", {})
    with pytest.raises(InvalidRequest, match="unknown operation"):
        w.op("a", "format_disk")
    with pytest.raises(InvalidRequest, match="participants"):
        w.op("a", "group_participants", group="120363000000000001@g.us", action="add", participants=[])
    assert w.op("a", "check_numbers", numbers=[CAROL, NOBODY])["numbers"][0]["exists"] is True
    assert w.op("a", "chat_presence", chat=jid(CAROL), state="composing") == {"sent": True}
