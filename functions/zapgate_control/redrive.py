"""Dead-letter redrive for the events queue: DLQ messages back onto EventsQueue, attributes intact.

Receive → SendMessageBatch to the source queue → delete from the DLQ, ten at a time, so a message
is deleted only once its copy is on the source queue. (SQS's StartMessageMoveTask would do the
same server-side, but moto cannot run it and this keeps local and AWS alike.) A crash between send
and delete redrives that message twice: receivers de-duplicate on X-Zapgate-Event-Id. A redriven
event starts over with a fresh receive count, so it gets the whole retry schedule again.

FIFO queues (AutomationsQueue, issue 11) work the same way: each message goes back to its own message
group, with the DLQ message's id as the deduplication id, so a crash between send and delete that
redrives it again within SQS's 5-minute window is dropped by SQS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BATCH = 10
_COPIED = ("DataType", "StringValue", "BinaryValue")


@dataclass
class RedriveResult:
    moved: int = 0
    failed: int = 0


def dead_letter_queue_url(sqs: Any, queue_url: str) -> str:
    """The DLQ named by the queue's RedrivePolicy."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if "RedrivePolicy" not in attributes:
        raise SystemExit(f"{queue_url} has no RedrivePolicy: no dead-letter queue to redrive")
    arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    max_messages: int | None = None,
    progress: Callable[[str], None] = print,
) -> RedriveResult:
    result = RedriveResult()
    while max_messages is None or result.moved + result.failed < max_messages:
        want = BATCH if max_messages is None else min(BATCH, max_messages - result.moved - result.failed)
        received = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=want, WaitTimeSeconds=1, VisibilityTimeout=60,
            MessageAttributeNames=["All"], AttributeNames=["MessageGroupId"],
        ).get("Messages") or []
        if not received:
            break
        sent = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": message["Body"],
                    "MessageAttributes": {
                        name: {key: value[key] for key in _COPIED if key in value}
                        for name, value in (message.get("MessageAttributes") or {}).items()
                    },
                }
                | _fifo_fields(queue_url, message)
                for n, message in enumerate(received)
            ],
        )
        done = [received[int(entry["Id"])] for entry in sent.get("Successful") or []]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        result.moved += len(done)
        result.failed += len(received) - len(done)
        progress(f"moved {result.moved} event(s) back to the events queue" +
                 (f", {result.failed} could not be sent (left in the DLQ)" if result.failed else ""))
    return result


def _fifo_fields(queue_url: str, message: dict[str, Any]) -> dict[str, str]:
    """A FIFO queue's message group and deduplication id for a redriven message (nothing for a standard queue)."""
    if not queue_url.endswith(".fifo"):
        return {}
    group = (message.get("Attributes") or {}).get("MessageGroupId") or "redriven"
    return {"MessageGroupId": group, "MessageDeduplicationId": str(message["MessageId"])[:128]}
