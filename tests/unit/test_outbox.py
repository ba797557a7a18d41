"""The events outbox without AWS: which stream change is which event, the template's filters evaluated on
stream records, the images' decoding (Decimals) and how a refused publish fails exactly its records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from zapgate_core.domain.events import inbound_event, message_status_event
from zapgate_core.domain.outbox import Change, events_of, tenant_of
from zapgate_devstack.stream_worker import matches
from zapgate_devstack.template import load_template, stream_sources

INBOUND = {
    "id": "msg-in", "instance_id": "inst-1", "tenant_id": "tenant-a", "direction": "inbound", "state": "received",
    "created_at": "2025-11-24T16:00:00.123Z", "timeline_sk": "1764000000123#msg-in",
    "from": "5511988887777@s.whatsapp.net", "body": "olá", "wa_message_id": "3EB0C0FFEE",
    "chat_id_norm": "5511988887777@s.whatsapp.net", "sender_jid_raw": "5511988887777@s.whatsapp.net",
    "push_name": "Maria", "wa_timestamp": "1764000000", "media_type": "image", "file_size": 48213,
    "media_url": "https://x.test/a.jpg", "mime_type": "image/jpeg", "from_me": False,
    "expires_at_epoch": 1771776000,
}  # fmt: skip
QUEUED = {
    "id": "msg-out", "instance_id": "inst-1", "tenant_id": "tenant-a", "direction": "outbound", "state": "queued",
    "to": "5511988887777", "body": "hi", "claim_count": 0, "created_at": "2025-11-24T16:01:00.000Z",
}  # fmt: skip
CLAIMED = {**QUEUED, "state": "claimed", "claim_count": 1, "lease_expires_at": 1764000180000}
SENT = {**CLAIMED, "state": "sent", "wa_message_id": "WA9", "finished_at": "2025-11-24T16:01:02.000Z"}
DELIVERED = {**SENT, "state": "delivered", "delivered_at": "2025-11-24T16:01:03.000Z"}
READ = {**DELIVERED, "state": "read", "read_at": "2025-11-24T16:01:09.000Z"}
FAILED = {**CLAIMED, "state": "failed", "error": "lease_expired", "finished_at": "2025-11-24T16:05:00.000Z"}
LINKED = {**INBOUND, "parent_id": "msg-earlier"}


def _change(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, sequence: str = "100") -> Change:
    return Change(sequence, name, old, new)


# ------------------------------------------------------------------ the mapping (pure)
def test_a_new_inbound_message_is_its_message_inbound_envelope() -> None:
    assert events_of(_change("INSERT", None, INBOUND)) == [inbound_event(INBOUND)]
    assert tenant_of(_change("INSERT", None, INBOUND)) == "tenant-a"


@pytest.mark.parametrize(
    ("old", "new"), [(CLAIMED, SENT), (SENT, DELIVERED), (DELIVERED, READ), (CLAIMED, FAILED), (QUEUED, FAILED)]
)
def test_an_outbound_move_to_a_reported_state_is_its_message_status_envelope(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    (event,) = events_of(_change("MODIFY", old, new))
    assert event == message_status_event(new)
    assert event["payload"]["message"]["status"] == new["state"]


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("INSERT", None, QUEUED),  # enqueue: no event
        ("MODIFY", QUEUED, CLAIMED),  # a claim
        ("MODIFY", CLAIMED, {**CLAIMED, "claim_count": 2}),  # a re-claim
        ("MODIFY", SENT, {**SENT, "send_debug": "{}"}),  # same state again: no move
        ("MODIFY", INBOUND, LINKED),  # the processor's parent_id
        ("REMOVE", READ, None),  # TTL
        ("REMOVE", INBOUND, None),
        ("INSERT", None, {**SENT, "direction": "outbound"}),  # an outbound INSERT is never a move
    ],
)
def test_everything_else_is_no_event(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    assert events_of(_change(name, old, new)) == []


def test_event_ids_are_the_same_for_the_same_change_so_a_retry_is_deduplicated() -> None:
    def ident(change: Change) -> str:
        return str(events_of(change)[0]["id"])

    assert ident(_change("INSERT", None, INBOUND, "1")) == ident(_change("INSERT", None, INBOUND, "2"))
    assert ident(_change("MODIFY", CLAIMED, SENT)) != ident(_change("MODIFY", SENT, DELIVERED))


# ------------------------------------------------------------------ the template's FilterCriteria
def _image(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}


def _record(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, sequence: str = "100") -> dict[str, Any]:
    """A record as Lambda hands it (what the devstack's stream poller builds from GetRecords)."""
    stream: dict[str, Any] = {"Keys": {"id": {"S": (new or old or {})["id"]}}, "SequenceNumber": sequence,
                              "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES",
                              "ApproximateCreationDateTime": 1764000000.0}
    if new is not None:
        stream["NewImage"] = _image(new)
    if old is not None:
        stream["OldImage"] = _image(old)
    return {"eventID": f"e{sequence}", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": stream,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2025-11-24T00:00:00.000"}


def _filters() -> Sequence[dict[str, Any]]:
    (source,) = [s for s in stream_sources(load_template()) if s.function == "EventsPublisherFunction"]
    assert source.table == "MessagesTable" and source.filters, "the publisher reads MessagesTable's stream, filtered"
    return source.filters


CHANGES = [
    ("INSERT", None, INBOUND, True),
    ("INSERT", None, QUEUED, False),
    ("MODIFY", QUEUED, CLAIMED, False),
    ("MODIFY", CLAIMED, SENT, True),
    ("MODIFY", SENT, DELIVERED, True),
    ("MODIFY", DELIVERED, READ, True),
    ("MODIFY", CLAIMED, FAILED, True),
    ("MODIFY", INBOUND, LINKED, False),
    ("REMOVE", READ, None, False),
    ("REMOVE", INBOUND, None, False),
]


@pytest.mark.parametrize(("name", "old", "new", "invokes"), CHANGES)
def test_the_template_filters_let_through_exactly_the_changes_that_can_be_events(
    name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, invokes: bool
) -> None:
    assert matches(_filters(), _record(name, old, new)) is invokes
    # Never filtered out while the mapping would report it (a filter dropping an event loses it).
    assert invokes == bool(events_of(_change(name, old, new)))


def test_the_matcher_really_evaluates_the_patterns() -> None:
    # Guards the test above against a matcher that lets everything (or nothing) through.
    assert matches([{"eventName": ["INSERT"]}], _record("MODIFY", CLAIMED, SENT)) is False
    assert matches([{"dynamodb": {"NewImage": {"state": {"S": ["sent"]}}}}], _record("MODIFY", CLAIMED, SENT)) is True
    assert matches([], _record("REMOVE", READ, None)) is True  # no FilterCriteria: every record


# ------------------------------------------------------------------ images → plain items (handler layer)
def test_stream_images_decode_like_the_adapters_so_the_envelope_is_the_same() -> None:
    from zapgate_outbox.handler import change_of

    change = change_of(_record("INSERT", None, INBOUND))
    assert change.new == INBOUND and change.old is None and change.sequence_number == "100"
    assert isinstance(change.new["file_size"], int)  # a Decimal would change the JSON ("48213" vs 48213.0)
    assert events_of(change) == [inbound_event(INBOUND)]


def test_stream_images_keep_the_typed_fields_of_an_inbound_message() -> None:
    from zapgate_outbox.handler import change_of

    located = {**INBOUND, "media_type": None, "media_url": None, "mime_type": None, "file_size": None,
               "message_type": "location", "quoted_wa_message_id": "3EB0Q", "quoted_text": "onde?",
               "location": {"latitude": "-23.55052", "longitude": "-46.633308", "name": "Sé"}}
    located = {k: v for k, v in located.items() if v is not None}
    polled = {**located, "message_type": "poll", "poll": {"name": "Almoço?", "options": ["Sim", "Não"],
                                                           "selectable_count": 1}}
    del polled["location"]
    voted = {**located, "message_type": "poll_choice", "body": "",  # a removed vote: empty lists
             "poll_vote": {"poll_message_id": "3EB0POLL", "option_hashes": [], "options": []}}
    del voted["location"]
    for item in (located, polled, voted):
        change = change_of(_record("INSERT", None, item))
        assert change.new == item
        assert events_of(change) == [inbound_event(item)]
    message = events_of(change_of(_record("INSERT", None, located)))[0]["payload"]["message"]
    assert message["location"]["latitude"] == -23.55052 and message["quotedMessageId"] == "3EB0Q"
    poll = events_of(change_of(_record("INSERT", None, polled)))[0]["payload"]["message"]["poll"]
    assert poll == {"name": "Almoço?", "options": ["Sim", "Não"], "selectableCount": 1}
    assert isinstance(poll["selectableCount"], int)
    vote = events_of(change_of(_record("INSERT", None, voted)))[0]["payload"]["message"]
    assert (vote["type"], vote["text"]) == ("poll_choice", None)
    assert vote["pollVote"] == {"pollMessageId": "3EB0POLL", "optionHashes": [], "options": []}


# ------------------------------------------------------------------ publishing: what fails is what SQS refused
class FakePublisher:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.calls: list[tuple[str, list[str]]] = []

    def publish_reporting(self, tenant_id: str, events: Sequence[dict[str, Any]]) -> list[str]:
        self.calls.append((tenant_id, [e["id"] for e in events]))
        return [e["id"] for e in events if e["id"] in self.refuse]


def test_events_are_published_per_tenant_and_only_refused_records_fail() -> None:
    from zapgate_control.services import outbox

    other = {**INBOUND, "id": "msg-b", "tenant_id": "tenant-b"}
    changes = [
        _change("INSERT", None, INBOUND, "1"),
        _change("MODIFY", QUEUED, CLAIMED, "2"),  # no event
        _change("MODIFY", CLAIMED, SENT, "3"),
        _change("INSERT", None, other, "4"),
        _change("INSERT", None, {**INBOUND, "id": "msg-x", "tenant_id": None}, "5"),  # no tenant: skipped
    ]
    sent_id = message_status_event(SENT)["id"]  # type: ignore[index]
    publisher = FakePublisher(refuse={sent_id})
    assert outbox.publish(publisher, changes) == {"3"}
    assert publisher.calls == [("tenant-a", [inbound_event(INBOUND)["id"], sent_id]),
                               ("tenant-b", [inbound_event(other)["id"]])]
    assert outbox.publish(FakePublisher(), changes) == set()
