"""What each request to the phone does on a session, and how its failure becomes the answer's error.

`run_op` is blocking (the runner calls it on a worker thread) and knows no HTTP: it reads the claimed
request's arguments with the contract's models, calls the session (the transport port) and returns the
result's JSON. `request_error` turns whatever it raised into the contract's `RequestError`; the public API
maps each code to its HTTP status (docs/requests.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from zapgate_core.contract.request_ops.contacts import CheckNumbersArgs, CheckNumbersResult, NumberCheck
from zapgate_core.contract.request_ops.messages import ChatPresenceArgs, ChatPresenceResult
from zapgate_core.contract.requests import ARGUMENTS, RESULTS, RequestError
from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_sidecar.transport import AnswerLost, NetworkUnreachable, Refused, TransportError, WhatsAppSession

MAX_ERROR_MESSAGE = 300  # RequestError.message's bound


def phone_digits(number: str) -> str:
    """A number in any common form ("+55 11 99999-0000", "5511999990000@s.whatsapp.net") as its digits."""
    try:
        destination = normalize_destination(number)
    except InvalidDestination as exc:
        raise Refused(f"not a phone number: {number[:40]!r} ({exc})") from exc
    if destination.kind != "pn":
        raise Refused(f"not a phone number: {number[:40]!r} (a {destination.kind} id)")
    return destination.jid.split("@", 1)[0]


def chat_jid(chat: str) -> str:
    """The chat a presence goes to: a phone number, a group id or a JID, as the JID WhatsApp addresses."""
    try:
        return normalize_destination(chat).jid
    except InvalidDestination as exc:
        raise Refused(f"not a chat: {chat[:40]!r} ({exc})") from exc


def check_numbers(session: WhatsAppSession, args: CheckNumbersArgs) -> CheckNumbersResult:
    asked = [(number, phone_digits(number)) for number in args.numbers]
    unique = list(dict.fromkeys(digits for _, digits in asked))  # one question per account, however it was written
    found = {check.number: check for check in session.check_numbers(unique)}
    checks = []
    for number, digits in asked:
        check = found.get(digits)
        if check is None or not check.exists:
            checks.append(NumberCheck(number=number, exists=False))
        else:
            checks.append(NumberCheck(number=number, exists=True, jid=check.jid, lid=check.lid))
    return CheckNumbersResult(numbers=checks)


def chat_presence(session: WhatsAppSession, args: ChatPresenceArgs) -> ChatPresenceResult:
    session.send_chat_presence(chat_jid(args.chat), args.state)
    return ChatPresenceResult(sent=True)


def run_op(session: WhatsAppSession, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one claimed request; its result as JSON. Raises TransportError (Refused for bad arguments)."""
    if op not in ARGUMENTS:
        raise Refused(f"unsupported operation: {op}")
    try:
        parsed = ARGUMENTS[op].model_validate(args)
    except ValidationError as exc:  # the API validated them; a server speaking another version may not have
        raise Refused(f"invalid arguments for {op}: {exc.error_count()} error(s)") from exc
    if isinstance(parsed, CheckNumbersArgs):
        return check_numbers(session, parsed).model_dump(mode="json")
    if isinstance(parsed, ChatPresenceArgs):
        return chat_presence(session, parsed).model_dump(mode="json")
    result = session.perform(op, parsed)  # type: ignore[arg-type]  # op is one of ARGUMENTS' names
    if not isinstance(result, RESULTS[op]):
        raise TransportError(f"{op}: the transport answered {type(result).__name__}, not {RESULTS[op].__name__}")
    return result.model_dump(mode="json")


def request_error(exc: BaseException) -> RequestError:
    """The answer for a request that raised: unreachable (try later), the refusal's kind, or failed."""
    message = (str(exc) or type(exc).__name__)[:MAX_ERROR_MESSAGE]
    if isinstance(exc, AnswerLost):
        return RequestError(code="outcome_unknown", message=message)
    if isinstance(exc, NetworkUnreachable | TimeoutError):
        return RequestError(code="unreachable", message=message)
    if isinstance(exc, Refused):
        return RequestError(code=exc.kind, message=message)
    if isinstance(exc, TransportError):
        return RequestError(code="failed", message=message)
    return RequestError(code="failed", message=f"internal error: {type(exc).__name__}")
