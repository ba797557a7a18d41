"""Requests to the phone over neonize: check numbers (whatsmeow IsOnWhatsApp), chat presence (SendChatPresence),
and ``perform`` for every other operation (request_dispatch: one function per operation in request_contacts,
request_messages, request_groups and request_profile; errors mapped by request_errors).

What neonize 0.5.2 does here (read in its source and probed offline, /tmp research notes of issue 10):

* ``is_on_whatsapp(*numbers)`` sends one usync query for the batch. Numbers must be ``+<digits>``: without
  the plus the server reads them as national numbers relative to our own account. Answers carry ``Query``
  (the number as sent), ``IsIn`` and ``JID``, which current whatsmeow (``addressing_mode=lid``) often fills
  with the *LID*; the phone JID whatsmeow also reads is dropped by neonize's proto, so it comes from the
  LID<->PN map whatsmeow keeps (``get_pn_from_lid``), else from the number asked. Users the server skips
  have no answer: answers are matched by ``Query``, never by position.
* ``send_chat_presence(jid, state, media)`` is a fire-and-forget stanza: it fails only locally (not
  connected, not logged in); whatever the other side does with it is never seen.
* Errors are ``NeonizeError`` subclasses whose text is Go's; they are classified by text (``request_error``).
* A call blocks up to 75 s (whatsmeow's IQ timeout) and cannot be cancelled: the runtime bounds it.
* ``get_pn_from_lid`` aborts the process on a client that is not logged in: like every call here it runs
  only inside the session's fence with ``need_connected`` (session_core._go_call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from zapgate_core.domain.jids import LID_SERVER, USER_SERVER
from zapgate_sidecar.transport import (
    ChatPresenceState,
    NetworkUnreachable,
    NumberOnWhatsApp,
    Refused,
    TransportError,
)
from zapgate_sidecar.transports.neonize.jids import jid_proto, jid_to_str
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.request_errors import request_error
from zapgate_sidecar.transports.neonize.session_core import SessionCore

__all__ = ["SessionRequests", "chat_presence_on", "check_numbers_on", "number_checks", "request_error"]

if TYPE_CHECKING:
    from neonize.client import NewClient
    from neonize.proto.Neonize_pb2 import JID

    from zapgate_core.contract.base import ContractModel
    from zapgate_core.contract.requests import RequestOp


def number_checks(
    numbers: list[str], answers: Iterable[Any], pn_of_lid: Callable[[JID], str]
) -> list[NumberOnWhatsApp]:
    """IsOnWhatsApp's answers, one per number asked (digits) in order; a number without an answer does not exist.

    `pn_of_lid` gives the phone JID whatsmeow stored for a LID ("" when unknown)."""
    by_query: dict[str, Any] = {}
    for answer in answers:
        by_query.setdefault(answer.Query.lstrip("+"), answer)
    checks = []
    for digits in numbers:
        answer = by_query.get(digits)
        if answer is None or not answer.IsIn:
            checks.append(NumberOnWhatsApp(number=digits, exists=False))
            continue
        found = jid_to_str(answer.JID)
        lid = found if found.endswith(f"@{LID_SERVER}") else None
        jid = found if found.endswith(f"@{USER_SERVER}") else None
        if jid is None and lid is not None:
            jid = pn_of_lid(answer.JID) or None
        checks.append(NumberOnWhatsApp(number=digits, exists=True, jid=jid or f"{digits}@{USER_SERVER}", lid=lid))
    return checks


def check_numbers_on(client: NewClient, numbers: list[str]) -> list[NumberOnWhatsApp]:
    """One usync query for the batch (digits only in; `+` added as whatsmeow requires)."""
    asked = [n for n in numbers if n.isdigit()]
    if len(asked) != len(numbers):
        raise Refused("check numbers: numbers must be digits only, with the country code")
    try:
        answers = client.is_on_whatsapp(*(f"+{n}" for n in asked))
    except Exception as exc:
        raise request_error("check numbers", exc) from exc

    def pn_of_lid(lid: JID) -> str:
        try:
            return jid_to_str(client.get_pn_from_lid(lid))
        except Exception:  # the map is a nicety: the number asked is the phone JID's user anyway
            return ""

    return number_checks(asked, answers, pn_of_lid)


def chat_presence_on(client: NewClient, chat: str, state: ChatPresenceState) -> None:
    load_neonize()
    from neonize.utils.enum import ChatPresence, ChatPresenceMedia

    presence = ChatPresence.CHAT_PRESENCE_PAUSED if state == "paused" else ChatPresence.CHAT_PRESENCE_COMPOSING
    media = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO if state == "recording" \
        else ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
    try:
        target = jid_proto(chat)
    except TransportError as exc:
        raise Refused(f"chat presence: {exc}") from exc
    try:
        client.send_chat_presence(target, presence, media)
    except Exception as exc:
        raise request_error("chat presence", exc) from exc


class SessionRequests(SessionCore):
    @contextmanager
    def _request_fence(self, action: str) -> Iterator[NewClient]:
        """The session's fence, where "not connected" means unreachable (try later), not a failed request."""
        with self._cond:
            up = self._running and self._client is not None and self._connected
        if not up:
            raise NetworkUnreachable(f"{action}: not connected")
        with self._go_call() as client:  # still raises if the session went down since
            yield client

    def check_numbers(self, numbers: list[str]) -> list[NumberOnWhatsApp]:
        with self._request_fence("check numbers") as client:
            return check_numbers_on(client, numbers)

    def send_chat_presence(self, chat: str, state: ChatPresenceState) -> None:
        with self._request_fence("chat presence") as client:
            chat_presence_on(client, chat, state)

    def perform(self, op: RequestOp, args: ContractModel) -> ContractModel:
        """One request to the phone (request_dispatch.HANDLERS), refused from its arguments alone when it can be,
        else run inside the fence: every neonize call there needs a logged-in, connected client."""
        # Imported here: the operations' modules load the contract's pydantic models, which a session that is
        # never asked anything does not need.
        from zapgate_sidecar.transports.neonize.request_dispatch import HANDLERS, PRECHECKS, action_of, run_handler

        if op not in HANDLERS:
            raise Refused(f"{op}: not an operation the neonize transport runs through perform")
        precheck = PRECHECKS.get(op)
        if precheck is not None:
            precheck(args)
        with self._request_fence(action_of(op)) as client:
            return run_handler(op, client, args)
