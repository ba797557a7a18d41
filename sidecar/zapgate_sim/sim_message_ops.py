"""Requests to the phone about messages: edit, delete for everyone (revoke), mark read; and the record of every
message the network carried, which those rules need and the views show.

WhatsApp's rules, as the network enforces them:

* Only the sender edits, only a text or a caption, and only within EDIT_WINDOW_S (15 min) of sending, by the
  network's clock; a deleted message cannot be edited (not_found: it is gone). The `sent_at` argument is the
  sidecar's hint for refusing early; the network knows when the message was sent and ignores it.
* The sender deletes their own message for everyone within REVOKE_WINDOW_S (48 h); in a group, an admin deletes
  anyone's. Anyone else: forbidden. Deleting an already deleted message is ok and answers the first revocation's
  id again (idempotent, so a retried request cannot fail on its own success).
* A read receipt is recorded on the message (`read_by`, seen by its sender on /sent) and, when the sender is a
  connected gateway instance, reaches it as a `read` receipt event. Messages the network does not know, our own,
  or ones in another chat get no receipt and do not count in `marked`.
* A message is known to the network when a gateway instance sent it (through `send`) or one received it (an
  inbound event): each account has its own view (its side of the chat) of one shared record, so an edit or a
  revocation is what every account that has the message sees.
"""

from __future__ import annotations

from typing import Any

from zapgate_core.contract.request_ops.messages import EDIT_WINDOW_S
from zapgate_core.domain.jids import GROUP_SERVER, InvalidDestination, normalize_destination

from .sim_messages import MessagesMixin
from .sim_records import MAX_READS_PER_INSTANCE, MAX_VIEWS_PER_INSTANCE, Msg, View
from .sim_state import (
    EV_INCOMING_MESSAGE,
    EV_RECEIPT_RECEIVED,
    Expired,
    Forbidden,
    InvalidRequest,
    NotFound,
    _hex16,
    _Instance,
)

REVOKE_WINDOW_S = 48 * 3600  # WhatsApp's window for "delete for everyone" (about two days)
EDITABLE_TYPES = frozenset({"text", "image", "video", "document"})  # a text, or a caption


def _chat(value: str) -> str:
    """A chat as the network keys it (phone numbers and JIDs alike); malformed → bad_request."""
    try:
        return normalize_destination(value).jid
    except InvalidDestination as exc:
        raise InvalidRequest(f"invalid chat: {exc}") from exc


def _loose_chat(value: str) -> str:
    """Like _chat for what tests deliver: keep a value the contract would refuse rather than fail the delivery."""
    try:
        return normalize_destination(value).jid
    except InvalidDestination:
        return value


class MessageOpsMixin(MessagesMixin):
    """Edit, revoke and mark read over a record of the messages sent and received through the network."""

    # ------------------------------------------------------------ recording what crosses the network
    def send(self, *args: Any, **kwargs: Any) -> str:
        """MessagesMixin.send, then the message joins the network's record (with the clock's send time) and the
        receivers that are gateway instances get their view of it. A group the network knows refuses a sender who
        is not in it, or who is not an admin when only admins send (announce)."""
        with self._cond:
            instance_id = args[0] if args else kwargs["instance_id"]
            session_id = args[1] if len(args) > 1 else kwargs.get("session_id")
            to = args[2] if len(args) > 2 else kwargs.get("to")
            self._check_group_send(instance_id, session_id, to)
            wa_id = super().send(*args, **kwargs)
            instance = self._instances[instance_id]
            self._record_sent(instance, instance.sent[-1])  # appended just now, under this same lock
            return wa_id

    def _check_group_send(self, instance_id: str, session_id: object, to: object) -> None:
        instance = self._instances.get(instance_id)
        if instance is None or instance.connected is None or instance.connected != session_id or type(to) is not str:
            return  # send itself refuses: not connected (on this session), or a malformed destination
        group = self._groups.get(_loose_chat(to))
        if group is None:
            return  # a group the network was never told about: accepted as before (tests send to made-up ones)
        if instance.jid not in group.participants:
            raise Forbidden("not a participant of this group")
        if group.announce and not group.is_admin(instance.jid):
            raise Forbidden("only admins send messages to this group")

    def _record_sent(self, instance: _Instance, record: dict[str, Any]) -> None:
        assert instance.jid is not None
        text = record["body"] if record["body"] is not None else record["caption"]
        msg = Msg(record["id"], instance.jid, record["to"], record["type"], text, self._now())
        self._add_view(instance.id, View(msg.chat, True, msg))
        group = self._groups.get(msg.chat)
        if group is not None:
            receivers = [jid for jid in group.participants if jid != instance.jid]
            chat_for_them = msg.chat
        else:
            receivers = [msg.chat] if msg.chat.endswith("@s.whatsapp.net") else []
            chat_for_them = instance.jid
        for jid in receivers:
            other = self._instance_of(jid.split("@", 1)[0])
            if other is not None and other.id != instance.id:
                self._add_view(other.id, View(chat_for_them, False, msg))

    def _observe(self, instance: _Instance, payload: dict[str, Any]) -> None:
        super()._observe(instance, payload)
        if payload.get("type") != EV_INCOMING_MESSAGE or payload.get("is_history"):
            return
        message_id = str(payload["wa_message_id"])
        extras = self._extras_of(instance.id)
        if message_id in extras.views:
            return  # already known to this account (its own send echoed back, a redelivery)
        chat = _loose_chat(str(payload["chat_jid"]))
        from_me = bool(payload.get("from_me"))
        sender = instance.jid if from_me and instance.jid else _loose_chat(str(payload.get("sender_jid") or chat))
        media = payload.get("media")
        kind = payload.get("kind") or (media["kind"] if media else "text")
        msg = Msg(message_id, sender, chat, kind, payload.get("text") or None, self._now())
        self._add_view(instance.id, View(chat, from_me, msg))

    def _add_view(self, instance_id: str, view: View) -> None:
        views = self._extras_of(instance_id).views
        views[view.msg.id] = view
        while len(views) > MAX_VIEWS_PER_INSTANCE:
            del views[next(iter(views))]

    def _view(self, instance: _Instance, chat: str, message_id: str) -> View:
        view = self._extras_of(instance.id).views.get(message_id)
        if view is None or view.chat != _chat(chat):
            raise NotFound("no such message in this chat")
        return view

    def _same_user(self, a: str, b: str) -> bool:
        try:
            return a == b or (self._user_digits(a) or a) == (self._user_digits(b) or b)
        except InvalidRequest:
            return False

    def _op_id(self, instance: _Instance, what: str) -> str:
        extras = self._extras_of(instance.id)
        extras.op_counter += 1
        return "SIM" + what[:3].upper() + _hex16(instance.id, what, extras.op_counter)

    # ------------------------------------------------------------ the operations (lock held, session checked)
    def _edit_message(self, instance: _Instance, chat: str, message_id: str, text: str) -> dict[str, Any]:
        view = self._view(instance, chat, message_id)
        msg = view.msg
        if not view.from_me:
            raise Forbidden("only the sender edits a message")
        if msg.revoked is not None:
            raise NotFound("the message was deleted")
        if msg.type not in EDITABLE_TYPES:
            raise InvalidRequest(f"a {msg.type} message has no text to edit")
        if self._now() - msg.sent_at > EDIT_WINDOW_S:
            raise Expired(f"messages can be edited for {EDIT_WINDOW_S // 60} minutes")
        edit_id = self._op_id(instance, "edit")
        msg.edits.append({"edit_id": edit_id, "previous": msg.text, "text": text, "at": self._now()})
        msg.text = text
        return {"edit_id": edit_id}

    def _revoke_message(self, instance: _Instance, chat: str, message_id: str, sender: str | None) -> dict[str, Any]:
        view = self._view(instance, chat, message_id)
        msg = view.msg
        if sender is not None and not self._same_user(sender, msg.sender):
            raise NotFound("no such message from that sender")
        if not view.from_me:
            group = self._groups.get(view.chat) if view.chat.endswith(f"@{GROUP_SERVER}") else None
            if group is None or not group.is_admin(instance.jid):
                raise Forbidden("only the sender, or a group admin, deletes a message for everyone")
        if msg.revoked is not None:
            return {"revoke_id": msg.revoked["revoke_id"]}
        if self._now() - msg.sent_at > REVOKE_WINDOW_S:
            raise Expired(f"messages can be deleted for everyone for {REVOKE_WINDOW_S // 3600} hours")
        revoke_id = self._op_id(instance, "revoke")
        msg.revoked = {"by": instance.jid, "revoke_id": revoke_id, "at": self._now()}
        return {"revoke_id": revoke_id}

    def _mark_read(self, instance: _Instance, chat: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        assert instance.jid is not None
        extras = self._extras_of(instance.id)
        chat_jid = _chat(chat)
        marked = 0
        for asked in messages:
            view = extras.views.get(asked["id"])
            if view is None or view.chat != chat_jid or view.from_me:
                continue
            marked += 1
            now = self._now()
            view.msg.read_by.setdefault(instance.jid, now)
            extras.reads.append({"chat": chat_jid, "id": asked["id"], "sender": view.msg.sender, "at": now})
            self._tell_sender_read(view.msg)
        del extras.reads[:-MAX_READS_PER_INSTANCE]
        return {"marked": marked}

    def _tell_sender_read(self, msg: Msg) -> None:
        """The sender's phone gets the read receipt, when the sender is a connected gateway instance."""
        sender = self._instance_of(msg.sender.split("@", 1)[0]) if msg.sender.endswith("@s.whatsapp.net") else None
        if sender is None or sender.connected is None:
            return
        view = self._extras_of(sender.id).views.get(msg.id)
        if view is None or not view.from_me:
            return
        self._emit(sender, sender.connected, {"type": EV_RECEIPT_RECEIVED, "wa_message_ids": [msg.id],
                                              "chat_jid": view.chat, "kind": "read"})

    # ------------------------------------------------------------ views
    @staticmethod
    def _msg_json(view: View) -> dict[str, Any]:
        msg = view.msg
        return {"id": msg.id, "chat": view.chat, "from_me": view.from_me, "sender": msg.sender, "type": msg.type,
                "text": None if msg.revoked else msg.text, "sent_at": msg.sent_at,
                "edits": [dict(e) for e in msg.edits], "revoked": dict(msg.revoked) if msg.revoked else None,
                "read_by": [{"jid": j, "at": at} for j, at in msg.read_by.items()]}

    def messages(self, instance_id: str) -> list[dict[str, Any]]:
        """Every message this account has (sent and received), each as it stands now: edited, deleted, read."""
        with self._cond:
            return [self._msg_json(v) for v in self._extras_of(instance_id).views.values()]

    def reads(self, instance_id: str) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(r) for r in self._extras_of(instance_id).reads]

    def sent(self, instance_id: str) -> list[dict[str, Any]]:
        """As MessagesMixin.sent, plus what happened to each message since, only once something did (so a plain
        send's record is unchanged): `edits` and the current text, `revoked`, `read_by`."""
        with self._cond:
            records = super().sent(instance_id)
            views = self._extras_of(instance_id).views
            for record in records:
                view = views.get(record["id"])
                if view is None:
                    continue
                msg = view.msg
                if msg.edits:
                    record["edits"] = [dict(e) for e in msg.edits]
                    record["body" if record["body"] is not None else "caption"] = msg.text
                if msg.revoked:
                    record["revoked"] = dict(msg.revoked)
                if msg.read_by:
                    record["read_by"] = [{"jid": j, "at": at} for j, at in msg.read_by.items()]
            return records

