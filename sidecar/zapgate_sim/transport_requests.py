"""The sim transport's requests to the phone (check_numbers, chat presence, and `perform` for every other
operation), and how it reads the sim's answers: a refusal carries its kind beside the detail
(``{"detail", "kind"}``) and becomes Refused(kind); not connected (409 / 410 / 503) is NetworkUnreachable.
"""

from __future__ import annotations

from typing import Any, cast, get_args
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.requests import RESULTS, RequestOp
from zapgate_sidecar.transport import (
    ChatPresenceState,
    NetworkUnreachable,
    NumberOnWhatsApp,
    RefusalKind,
    Refused,
    TransportError,
)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and detail:
        return detail
    return f"sim network error: HTTP {response.status_code}"


REFUSAL_KINDS: frozenset[str] = frozenset(get_args(RefusalKind))


def _refusal_kind(response: httpx.Response) -> RefusalKind | None:
    """The refusal the network named (`kind` beside `detail`); a 400 or a body the route rejected (422 without a
    kind) is a bad request; anything else is not a refusal (a 404 without a kind is a route this sim lacks)."""
    try:
        kind = response.json().get("kind")
    except (ValueError, AttributeError):
        kind = None
    if isinstance(kind, str) and kind in REFUSAL_KINDS:
        return cast(RefusalKind, kind)
    if response.status_code in (400, 422):
        return "bad_request"
    return None


class PhoneRequests:
    """SimSession's requests to the phone; SimSession provides the session id and the command client."""

    _session_id: str | None

    def _command(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # SimSession's

    # ------------------------------------------------------------ requests to the phone
    def _request_failure(self, response: httpx.Response) -> TransportError:
        """As the real transport says it: not connected is unreachable; WhatsApp's refusals are Refused(kind), the
        kind as the network named it (a 404 alone cannot tell not_found from not_on_whatsapp)."""
        detail = _detail(response)
        if response.status_code in (409, 410, 503):
            return NetworkUnreachable(detail)
        kind = _refusal_kind(response)
        if kind is not None:
            return Refused(detail, kind)
        return TransportError(detail)

    def check_numbers(self, numbers: list[str]) -> list[NumberOnWhatsApp]:
        session_id = self._session_id
        if session_id is None:
            raise NetworkUnreachable("not connected")
        response = self._command("POST", "/check-numbers", json={"session": session_id, "numbers": numbers})
        if response.status_code != 200:
            raise self._request_failure(response)
        return [NumberOnWhatsApp(number=n["number"], exists=bool(n["exists"]), jid=n.get("jid"), lid=n.get("lid"))
                for n in response.json()["numbers"]]

    def send_chat_presence(self, chat: str, state: ChatPresenceState) -> None:
        session_id = self._session_id
        if session_id is None:
            raise NetworkUnreachable("not connected")
        response = self._command("POST", "/chat-presence", json={"session": session_id, "chat": chat, "state": state})
        if response.status_code != 200:
            raise self._request_failure(response)

    def perform(self, op: RequestOp, args: ContractModel) -> ContractModel:
        """Every request to the phone over one route; the answer is checked against the contract's RESULTS[op], so
        a sim that answered something the port cannot carry fails here, loudly, not in the control plane."""
        session_id = self._session_id
        if session_id is None:
            raise NetworkUnreachable("not connected")
        response = self._command("POST", f"/ops/{quote(op, safe='')}",
                                 json={"session": session_id, "args": args.model_dump(mode="json")})
        if response.status_code != 200:
            raise self._request_failure(response)
        try:
            return RESULTS[op].model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise TransportError(f"{op}: unreadable answer from the sim: {_short(exc)}") from exc
