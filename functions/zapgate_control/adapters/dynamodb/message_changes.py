"""Edits, revokes (delete for everyone) and read marks of stored messages: one conditional UpdateItem each.

Kept beside messages.py (DynamoMessageStore takes these methods from MessageChangesMixin) so that module
stays readable. The rules the conditions make atomic:

- an edit applies only when its `edit_key` ("<ms>#<edit's WhatsApp id>") is above the stored one, so a
  repeated report (a sidecar retry, a second sidecar after a failover) and an older edit arriving late
  change nothing and report nothing; and never to a revoked message;
- the first edit copies the text the message was stored with into `original_body` (if_not_exists), in the
  same write that replaces `body`: the old text is never lost, whatever happens between two calls;
- a revoke sets `revoked_at` / `revoked_by` once; the message (and its text) stays, only marked;
- a read mark sets `read_at` once, on a received message only.

Both answer ALL_NEW on success and the item as it was (ALL_OLD) when the condition refuses, so a repeat is
told apart from a missing message without an extra read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_control.adapters.dynamodb.codec import from_item, is_conditional_failure, old_item, to_item, to_values
from zapgate_control.adapters.dynamodb.message_items import record_of
from zapgate_control.aws import client
from zapgate_control.ports.messages import (
    MessageEdit,
    MessageNotFound,
    MessageRecord,
    MessageRevoke,
    MessageRevokedAlready,
)
from zapgate_core.domain.ids import inbound_id

if TYPE_CHECKING:
    from zapgate_control.clock import Clock

_MESSAGE_EXISTS = "attribute_exists(id) AND attribute_exists(direction)"  # not a doorbell, not gone


def _is_missing_operand(exc: Exception) -> bool:
    """DynamoDB refuses a SET operand naming an attribute the item lacks (`body` of a captionless media)."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return error.get("Code") == "ValidationException" and "does not exist" in str(error.get("Message", ""))


class MessageChangesMixin:
    table: str
    clock: Clock

    def mark_edited(self, message_id: str, edit: MessageEdit) -> tuple[MessageRecord, bool]:
        """The message with the edit's text; (message, False) for an edit not newer than the one stored."""
        try:
            return self._edit(message_id, edit, "#body"), True
        except Exception as exc:
            if not _is_missing_operand(exc):
                current = self._refused(exc, message_id)
                if current.get("revoked_at"):
                    raise MessageRevokedAlready(message_id) from exc
                return self._record(current, message_id), False
        try:  # no stored text at all: the original text was ""
            return self._edit(message_id, edit, ":blank"), True
        except Exception as exc:
            current = self._refused(exc, message_id)
            if current.get("revoked_at"):
                raise MessageRevokedAlready(message_id) from exc
            return self._record(current, message_id), False

    def _edit(self, message_id: str, edit: MessageEdit, previous: str) -> MessageRecord:
        response = client("dynamodb").update_item(
            TableName=self.table,
            Key=to_item({"id": message_id}),
            UpdateExpression=(
                f"SET original_body = if_not_exists(original_body, {previous}), #body = :text, edited_at = :at, "
                "edit_key = :key, edit_count = if_not_exists(edit_count, :zero) + :one"
            ),
            ConditionExpression=(
                f"{_MESSAGE_EXISTS} AND attribute_not_exists(revoked_at) "
                "AND (attribute_not_exists(edit_key) OR edit_key < :key)"
            ),
            ExpressionAttributeNames={"#body": "body"},
            ExpressionAttributeValues=to_values(
                {":text": edit.text, ":at": edit.edited_at, ":key": edit.edit_key, ":zero": 0, ":one": 1,
                 **({":blank": ""} if previous == ":blank" else {})}
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return self._record(from_item(response["Attributes"]) or {}, message_id)

    def mark_revoked(self, message_id: str, revoke: MessageRevoke) -> tuple[MessageRecord, bool]:
        """The message marked deleted for everyone; (message, False) when it already was."""
        sets = {"revoked_at": revoke.revoked_at, "revoked_by": revoke.revoked_by}
        sets = {k: v for k, v in sets.items() if v is not None}
        try:
            response = client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression="SET " + ", ".join(f"{k} = :{k}" for k in sets),
                ConditionExpression=f"{_MESSAGE_EXISTS} AND attribute_not_exists(revoked_at)",
                ExpressionAttributeValues=to_values({f":{k}": v for k, v in sets.items()}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            return self._record(self._refused(exc, message_id), message_id), False
        return self._record(from_item(response["Attributes"]) or {}, message_id), True

    def mark_read(self, message_id: str, read_at: str) -> bool:
        """Mark a received message read by this account (once: a repeat keeps the first time); False when it
        already was, or is no received message."""
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"id": message_id}),
                UpdateExpression="SET read_at = :at",
                ConditionExpression=f"{_MESSAGE_EXISTS} AND direction = :inbound AND attribute_not_exists(read_at)",
                ExpressionAttributeValues=to_values({":at": read_at, ":inbound": "inbound"}),
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            return False
        return True

    def find_by_wa_message_id(self, instance_id: str, wa_message_id: str) -> MessageRecord | None:
        """The instance's message WhatsApp knows as `wa_message_id`: an inbound one by its derived id (one
        GetItem), else an outbound one through the `by_wa_message_id` index (one Query, then one GetItem:
        the index projects only the instance and direction)."""
        dynamodb = client("dynamodb")
        found = from_item(dynamodb.get_item(
            TableName=self.table, Key=to_item({"id": inbound_id(instance_id, wa_message_id)})).get("Item"))
        if found and found.get("instance_id") == instance_id:
            return record_of(found)
        response = dynamodb.query(
            TableName=self.table,
            IndexName="by_wa_message_id",
            KeyConditionExpression="wa_message_id = :w",
            FilterExpression="instance_id = :i",
            ExpressionAttributeValues=to_values({":w": wa_message_id, ":i": instance_id}),
        )
        for raw in response.get("Items", []):
            item = from_item(dynamodb.get_item(TableName=self.table, Key={"id": raw["id"]}).get("Item"))
            record = record_of(item)
            if record is not None:
                return record
        return None

    @staticmethod
    def _refused(exc: Exception, message_id: str) -> dict[str, Any]:
        """The item a refused condition answered; MessageNotFound when there is no message (re-raises others)."""
        if not is_conditional_failure(exc):
            raise exc
        current = old_item(exc)
        if not current or current.get("direction") not in ("inbound", "outbound"):
            raise MessageNotFound(message_id) from exc
        return current

    @staticmethod
    def _record(item: dict[str, Any], message_id: str) -> MessageRecord:
        record = record_of(item)
        if record is None:
            raise MessageNotFound(message_id)
        return record
