"""Requests to the phone on the simulated network: number checks, chat presence, the accounts outside
the gateway they look up, and the test-only stall.
"""

from __future__ import annotations

from typing import Any

from zapgate_core.domain.jids import LID_SERVER, USER_SERVER, InvalidDestination, normalize_destination

from .sim_core import SimCore
from .sim_records import sim_picture_id
from .sim_state import (
    CHAT_PRESENCE_STATES,
    MAX_NUMBERS_PER_CHECK,
    MAX_PRESENCES,
    InvalidRequest,
    NotConnected,
    _phone_digits,
    sim_lid,
)


class RequestsMixin(SimCore):
    """check_numbers, chat presence, registered accounts and the stall that delays their answers."""

    def check_numbers(self, instance_id: str, session_id: str, numbers: list[str]) -> list[dict[str, Any]]:
        """whatsmeow IsOnWhatsApp: for each number (any common form), whether it has an account."""
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            if not 1 <= len(numbers) <= MAX_NUMBERS_PER_CHECK:
                raise InvalidRequest(f"1..{MAX_NUMBERS_PER_CHECK} numbers per check")
            answers = []
            for number in numbers:
                digits = _phone_digits(number)
                exists = self._account_exists(digits)
                answers.append({"number": number, "exists": exists,
                                "jid": f"{digits}@{USER_SERVER}" if exists else None,
                                "lid": f"{sim_lid(digits)}@{LID_SERVER}" if exists else None})
            self._hold_answer(instance)
            return answers

    def send_chat_presence(self, instance_id: str, session_id: str, chat: str, state: str) -> None:
        """whatsmeow SendChatPresence: fire-and-forget, so only a malformed chat or state is refused."""
        if state not in CHAT_PRESENCE_STATES:
            raise InvalidRequest(f"unknown chat presence: {state}")
        try:
            destination = normalize_destination(chat)
        except InvalidDestination as exc:
            raise InvalidRequest(f"invalid chat: {exc}") from exc
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            seen = destination.kind == "group" or self._account_exists(destination.jid.split("@", 1)[0])
            # sent_before: how many messages the instance had sent when this showed (issue 13: a test sees that a
            # paced send's typing came right before it).
            instance.presences.append({"from": instance.jid, "chat": destination.jid, "state": state,
                                       "seen": seen, "at": self._now(), "sent_before": instance.sent_counter})
            del instance.presences[:-MAX_PRESENCES]
            self._hold_answer(instance)

    def stall(self, instance_id: str, seconds: float) -> None:
        """Test-only: the instance's next check_numbers or chat presence runs, then answers `seconds` late."""
        with self._cond:
            self._instance(instance_id).stall_s = seconds
    def register_account(self, phone: str, push_name: str | None = None, about: str | None = None,
                         picture: bool = False) -> dict[str, Any]:
        """Someone outside the gateway has WhatsApp on this number (check_numbers finds it); `about` and `picture`
        are what user_info and profile_picture then show of them. Registering again updates the account."""
        digits = _phone_digits(phone)
        with self._cond:
            self._accounts[digits] = push_name
            if about is not None:
                self._about[digits] = about
            if picture:
                self._pictures[digits] = sim_picture_id(digits, self._pictures.get(digits))
            else:
                self._pictures.pop(digits, None)
            return {"jid": f"{digits}@{USER_SERVER}", "lid": f"{sim_lid(digits)}@{LID_SERVER}", "push_name": push_name,
                    "about": self._about.get(digits), "picture_id": self._pictures.get(digits)}

    def presences(self, instance_id: str) -> list[dict[str, Any]]:
        with self._cond:
            instance = self._instances.get(instance_id)
            return [dict(p) for p in instance.presences] if instance else []
