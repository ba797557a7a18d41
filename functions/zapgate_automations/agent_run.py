"""What an agent's run needs around the agent loop: its memory from history, its tools called signed.

- Memory: the chat's last `memory_messages` messages, one bounded Query on MessagesTable's `chat` index
  (both directions, newest first; never a scan), turned into the conversation oldest first: what the
  customer wrote is a user turn, what the business sent (a person or an automation) an assistant turn.
  The triggering message is always the last user turn, even when the index has not caught up with it.
- Tools: a tenant's endpoint is POSTed a JSON body and signed exactly like a webhook delivery
  (X-Zapgate-Timestamp, X-Zapgate-Signature `v1=HMAC-SHA256(secret, "<timestamp>.<body>")`, with every
  secret of the tenant's webhooks, so a receiver that verifies zapgate's webhooks verifies these too).
  The answer's JSON goes back to the model; a non-2xx, a timeout or a refused address goes back as an error.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zapgate_control.ports.messages import MessageRecord, OutboundMessage, ReceivedMessage
from zapgate_core.domain.automations.agent_loop import ToolOutcome
from zapgate_core.domain.automations.conversation import AssistantTurn, Conversation, ToolSpec, Turn, UserTurn
from zapgate_core.domain.automations.definitions import Agent, AgentTool
from zapgate_core.domain.jids import jid_user
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
)

TOOL_CALL_TYPE = "AUTOMATION_TOOL_CALL"  # X-Zapgate-Event-Type of a tool call
MAX_TOOL_ANSWER_BYTES = 64 * 1024  # what the model is handed of an endpoint's answer


@dataclass(frozen=True)
class ToolAnswer:
    """What an endpoint answered: status None when there was no HTTP answer (`error` says why)."""

    status: int | None
    body: bytes = b""
    error: str | None = None


class ToolTransport(Protocol):
    """POSTs one tool call (adapter: tool_http.HttpToolTransport); never raises for the endpoint's faults."""

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> ToolAnswer: ...


def memory(records: Sequence[MessageRecord], current_id: str, current_text: str,
           group_sender: str | None = None) -> tuple[Turn, ...]:
    """Turns oldest first from the chat's newest-first messages; the current message last.

    `group_sender` (a group chat: the current message's sender JID): the members' messages are all user turns,
    so each is prefixed with who wrote it ("Maria: …", or the number), or the model would read one person."""
    turns: list[Turn] = []
    current_label = None
    for record in reversed(records):
        if record.id == current_id:
            if isinstance(record, ReceivedMessage):
                current_label = _member(record)
            continue
        if isinstance(record, ReceivedMessage):
            text = record.content.body or ""
            if text.strip() and not record.content.from_me:
                turns.append(UserTurn(f"{_member(record)}: {text}" if group_sender is not None else text))
            elif text.strip():
                turns.append(AssistantTurn(text=text))
        elif isinstance(record, OutboundMessage):
            text = record.content.body or ""
            if text.strip():
                turns.append(AssistantTurn(text=text))
    if group_sender is not None:
        current_text = f"{current_label or jid_user(group_sender) or 'member'}: {current_text}"
    turns.append(UserTurn(current_text))
    return tuple(turns)


def _member(record: ReceivedMessage) -> str:
    """A group member as the model sees them: their push name, else their number (or LID user)."""
    content = record.content
    return content.push_name or jid_user(content.sender_pn or content.from_) or "member"


def conversation_for(agent: Agent, turns: tuple[Turn, ...]) -> Conversation:
    return Conversation(system=agent.system_prompt, turns=turns)


def tool_specs(agent: Agent) -> tuple[ToolSpec, ...]:
    return tuple(ToolSpec(tool.name, tool.description, dict(tool.parameters)) for tool in agent.tools)


@dataclass
class ToolCaller:
    """call(name, arguments) for the agent loop: the tenant's endpoint, signed, bounded by `remaining_s`."""

    tools: tuple[AgentTool, ...]
    transport: ToolTransport
    secrets: Callable[[], list[str]]  # the tenant's webhook signing secrets, read on the first call
    context: JsonObject  # instance, chat, message, automation: sent with every call
    remaining_s: Callable[[], float]
    per_call_timeout_s: float = 10.0
    now: Callable[[], float] = time.time

    def __call__(self, name: str, arguments: JsonObject) -> ToolOutcome:
        tool = next((t for t in self.tools if t.name == name), None)
        if tool is None:  # the loop refuses unknown names before calling; defensive
            return ToolOutcome.failure(f"there is no tool named {name!r}")
        timeout = min(self.per_call_timeout_s, self.remaining_s())
        if timeout <= 0:
            return ToolOutcome.failure("no time left to call the tool")
        call_id = str(uuid.uuid4())
        body = json.dumps({"id": call_id, "type": TOOL_CALL_TYPE, "tool": name, "arguments": arguments,
                           **self.context}, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(self.now()))
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: call_id, EVENT_TYPE_HEADER: TOOL_CALL_TYPE,
                   TIMESTAMP_HEADER: timestamp}
        secrets_ = self.secrets()
        if secrets_:
            headers[SIGNATURE_HEADER] = signature_header(secrets_, timestamp, body)
        answer = self.transport.post(tool.url, body, headers, timeout)
        return outcome_of(answer)


def outcome_of(answer: ToolAnswer) -> ToolOutcome:
    if answer.status is None:
        return ToolOutcome.failure(answer.error or "the tool could not be reached")
    if not 200 <= answer.status < 300:
        return ToolOutcome.failure(f"the tool answered HTTP {answer.status}")
    raw = answer.body[:MAX_TOOL_ANSWER_BYTES]
    if not raw.strip():
        return ToolOutcome.success({"ok": True})
    try:
        result: Any = json.loads(raw)
    except ValueError:
        result = {"text": raw.decode("utf-8", "replace")}
    return ToolOutcome.success(result)
