"""Parent linking (seed 001) for MESSAGE_INBOUND events, a batch at a time.

The newest earlier message in the same chat, from the same sender, of the opposite kind (text vs
media), at most 90 s before, becomes `parentId` in the envelope and `parent_id` on the stored message
(one UpdateItem). It runs in the events processor, off the inbound request, and is idempotent, so a
retried record recomputes the same link.

A batch reads each instance's recent messages once (MessageStore.recent_inbound_windows: one Query
over all its records' windows) instead of once per record; each record still sees exactly the window
it saw alone, so the links are the same.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from zapgate_control.ports.messages import MessageStore
from zapgate_core.domain.events import PARENT_WINDOW_MS, iso_to_ms, pick_parent
from zapgate_core.domain.json_types import JsonObject


def needs_link(envelope: JsonObject) -> bool:
    return not envelope["payload"]["message"].get("parentId")


def window_end(envelope: JsonObject) -> str:
    # Every message stored in that millisecond ("~" sorts after any id): pick_parent itself keeps
    # only those strictly before this one by their stored timeline_sk.
    return f"{iso_to_ms(envelope['timestamp']):013d}#~"


def link_with(messages: MessageStore, envelope: JsonObject, recent: list[JsonObject]) -> JsonObject:
    """The envelope with message.parentId set when the heuristic finds a parent among `recent` (stored too)."""
    message = envelope["payload"]["message"]
    later = next((item for item in recent if item.get("id") == message["id"]), None)
    if later is None:  # expired, or not where the envelope says it is: nothing to link
        return envelope
    parent_id = later.get("parent_id") or pick_parent(later, recent)
    if not parent_id:
        return envelope
    if not later.get("parent_id"):
        messages.set_parent(message["id"], parent_id)
    linked = copy.deepcopy(envelope)
    linked["payload"]["message"]["parentId"] = parent_id
    return linked


def link_parent(messages: MessageStore, envelope: JsonObject) -> JsonObject:
    """One envelope on its own (one Query)."""
    if not needs_link(envelope):
        return envelope
    recent = messages.recent_inbound(envelope["instanceId"], window_end(envelope), PARENT_WINDOW_MS)
    return link_with(messages, envelope, recent)


def link_parents(messages: MessageStore, envelopes: Sequence[JsonObject]) -> list[JsonObject | Exception]:
    """Each envelope linked, or the error that kept it from being linked (only its own instance's
    records fail with it); one read per instance for the whole batch."""
    answer: list[JsonObject | Exception] = list(envelopes)
    by_instance: dict[str, list[int]] = {}
    for n, envelope in enumerate(envelopes):
        if needs_link(envelope):
            by_instance.setdefault(str(envelope["instanceId"]), []).append(n)
    for instance_id, positions in by_instance.items():
        try:
            windows = messages.recent_inbound_windows(
                instance_id, [window_end(envelopes[n]) for n in positions], PARENT_WINDOW_MS)
        except Exception as exc:
            for n in positions:
                answer[n] = exc
            continue
        for n in positions:
            try:
                answer[n] = link_with(messages, envelopes[n], windows[window_end(envelopes[n])])
            except Exception as exc:
                answer[n] = exc
    return answer
