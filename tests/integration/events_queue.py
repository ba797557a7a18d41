"""Reading what landed on an SQS queue in integration tests (moto): every message, received and deleted."""

from __future__ import annotations

import json
from typing import Any


def sqs() -> Any:
    from zapgate_control.aws import client

    return client("sqs")


def take_all(queue_url: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every message on the queue (received and deleted): (envelope, message attributes)."""
    taken: list[tuple[dict[str, Any], dict[str, str]]] = []
    while True:
        got = sqs().receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        messages = got.get("Messages") or []
        if not messages:
            return taken
        for message in messages:
            attributes = {k: v["StringValue"] for k, v in (message.get("MessageAttributes") or {}).items()}
            taken.append((json.loads(message["Body"]), attributes))
            sqs().delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
