"""Test-only: what the account's own phone does (issue 13). The phone sends a message (or another linked device
does), the network echoes one of this session's own sends back, and a history sync arrives after linking.

Each is an ordinary `incoming_message` event on the connected session's log with `from_me` (and `is_history`
for a sync), exactly as neonize reports them (MessageEv with IsFromMe; HistorySyncEv's conversations, which the
real adapter flattens into one message event each, newest first per chat).
"""

from __future__ import annotations

import time
from typing import Any

from .sim_core import SimCore
from .sim_state import InvalidRequest, NotFound, _hex16

EV_INCOMING_MESSAGE = "incoming_message"
MAX_HISTORY_CHATS = 100
MAX_HISTORY_PER_CHAT = 1000


class OwnMessagesMixin(SimCore):
    def _own_message(self, instance_id: str, payload: dict[str, Any]) -> None:
        instance = self._require_connected(instance_id)
        assert instance.connected is not None and instance.jid is not None
        self._emit(instance, instance.connected, {
            "type": EV_INCOMING_MESSAGE, "sender_jid": instance.jid, "from_me": True, "push_name": instance.push_name,
            **payload,
        })

    def from_phone(self, instance_id: str, chat: str, body: str, *, wa_message_id: str | None = None,
                   typed: dict[str, Any] | None = None) -> str:
        """The account's phone sent `body` to `chat` (with `typed`: a kind and its object, e.g. a location); returns
        its WhatsApp id."""
        with self._cond:
            instance = self._require_connected(instance_id)
            message_id = wa_message_id or "SIMPH" + _hex16(instance.id, "phone", self._next_phone(instance))
            self._own_message(instance_id, {"wa_message_id": message_id, "chat_jid": chat,
                                            "timestamp": int(time.time()), "text": body, **(typed or {})})
            return message_id

    def echo_sent(self, instance_id: str, wa_message_id: str) -> None:
        """Echo one of this account's sends back to its session as an own-device message (what another linked
        device's copy looks like), so a test sees it stored once."""
        with self._cond:
            instance = self._require_connected(instance_id)
            sent = next((m for m in instance.sent if m["id"] == wa_message_id), None)
            if sent is None:
                raise NotFound("no such sent message")
            self._own_message(instance_id, {"wa_message_id": wa_message_id, "chat_jid": sent["to"],
                                            "timestamp": int(time.time()),
                                            "text": sent.get("body") or sent.get("caption") or ""})

    def history_sync(self, instance_id: str, chats: int, per_chat: int, *, start: int | None = None) -> int:
        """A history sync of `chats` x `per_chat` messages, one minute apart, newest first per chat; every third
        one sent by the account. Returns how many were delivered."""
        if not 1 <= chats <= MAX_HISTORY_CHATS or not 1 <= per_chat <= MAX_HISTORY_PER_CHAT:
            raise InvalidRequest(f"chats 1..{MAX_HISTORY_CHATS}, per_chat 1..{MAX_HISTORY_PER_CHAT}")
        now = int(time.time()) if start is None else start
        with self._cond:
            instance = self._require_connected(instance_id)
            assert instance.connected is not None and instance.jid is not None
            for c in range(chats):
                chat = f"55119{c:08d}@s.whatsapp.net"
                for n in range(per_chat):
                    own = n % 3 == 0
                    self._emit(instance, instance.connected, {
                        "type": EV_INCOMING_MESSAGE, "is_history": True, "from_me": own,
                        "wa_message_id": "SIMHS" + _hex16(instance.id, "history", c, n), "chat_jid": chat,
                        "sender_jid": instance.jid if own else chat, "timestamp": now - 60 * (n + 1),
                        "text": f"history {c}/{n}",
                    })
            return chats * per_chat

    def _next_phone(self, instance: Any) -> int:
        counters: dict[str, int] = self.__dict__.setdefault("_sim_phone_counters", {})
        counters[instance.id] = counters.get(instance.id, 0) + 1
        return counters[instance.id]
