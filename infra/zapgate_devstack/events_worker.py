"""Lambda's SQS poller, locally: EventsQueue (on moto) → the real events processor handler.

What AWS does for an SQS event source with ReportBatchItemFailures, emulated in a thread:
long-poll up to 10 messages, hand them to the handler as an SQS event (records with messageId,
receiptHandle, body, attributes.ApproximateReceiveCount, messageAttributes, eventSourceARN),
delete the records the handler did not list in `batchItemFailures`, and leave the listed ones
on the queue: they come back when their visibility timeout ends (the processor sets it to the
backoff delay) and, after maxReceiveCount receives, moto moves them to the dead-letter queue as
SQS does. A handler that raises fails the whole batch, as in Lambda.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zapgate_devstack.emulator import REGION

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
HANDLER = "zapgate_events.handler.handler"  # the Handler of EventsProcessorFunction in template.yaml
BATCH_SIZE = 10
WAIT_SECONDS = 1  # short long-polls: a stop request is honoured within about a second


@dataclass
class LambdaContext:
    """The fields Powertools reads from Lambda's context object."""

    function_name: str = "EventsProcessorFunction-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:EventsProcessorFunction-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_ms: int = 150_000
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


@dataclass
class PollResult:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    crashed: bool = False


def _message_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """SQS API shape (StringValue, DataType) → Lambda event shape (stringValue, dataType, ...)."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (raw or {}).items()
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda hands a function for these received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": message.get("Attributes", {}).get("SentTimestamp", ""),
                    "SenderId": message.get("Attributes", {}).get("SenderId", ""),
                    "ApproximateFirstReceiveTimestamp": message.get("Attributes", {}).get(
                        "ApproximateFirstReceiveTimestamp", ""
                    ),
                },
                "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
                "md5OfBody": message.get("MD5OfBody")
                or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


class EventsWorker:
    """Polls `queue_url` and invokes `handler` (default: the template's processor) like Lambda would."""

    def __init__(self, sqs: Any, queue_url: str, handler: Handler | None = None,
                 wait_seconds: int = WAIT_SECONDS, log: Callable[[str], None] | None = None) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self._handler = handler
        self.wait_seconds = wait_seconds
        self.log = log or (lambda line: None)
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def handler(self) -> Handler:
        if self._handler is None:
            # Imported on first use, after the functions' environment is in place (as Lambda's init).
            from zapgate_events.handler import handler

            self._handler = handler
        return self._handler

    def poll_once(self, wait_seconds: int | None = None) -> PollResult:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        result = PollResult(received=len(messages))
        if not messages:
            return result
        try:
            answer = self.handler(sqs_event(messages, self.queue_arn), LambdaContext()) or {}
        except Exception as exc:  # Lambda: the invocation failed, every record comes back
            self.log(f"events processor raised {type(exc).__name__}: {exc}; the batch will be redelivered")
            result.failed, result.crashed = len(messages), True
            return result
        failed_ids = {item.get("itemIdentifier") for item in answer.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        result.failed = len(messages) - len(done)
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
            result.deleted = len(done)
        return result

    def drain(self, max_polls: int = 20) -> PollResult:
        """Poll without waiting until the queue has nothing visible (tests); totals over the polls."""
        total = PollResult()
        for _ in range(max_polls):
            result = self.poll_once(wait_seconds=0)
            if not result.received:
                break
            total.received += result.received
            total.deleted += result.deleted
            total.failed += result.failed
        return total

    # ------------------------------------------------------------ background thread (make run)
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.poll_once()
            except Exception as exc:  # moto going away at shutdown, or a transient error: keep polling
                if self._stop.is_set():
                    return
                self.log(f"events worker: {type(exc).__name__}: {exc}")
                self._stop.wait(1)
                continue
            if result.failed and not result.crashed:
                self.log(f"events worker: {result.failed} of {result.received} events not delivered, will retry")

    def start(self) -> EventsWorker:
        self._thread = threading.Thread(target=self._run, name="events-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.join(timeout)


def register_hint(base_url: str, api_key: str, port: int = 9000) -> str:
    """What `make run` prints: how to receive this stack's events on a local receiver."""
    return (
        f"  webhooks: python -m zapgate_devstack.webhook_receiver --port {port} "
        f"--register {base_url}/v1 --api-key {api_key}\n"
        f"    (registers http://127.0.0.1:{port}/hook as a webhook and prints each signed delivery; docs/events.md)"
    )


def start_for(server: Any, names: Any, log: Callable[[str], None] | None = None) -> EventsWorker | None:
    """The worker for the template's EventsQueue on this moto server (None if the template has none)."""
    queue_url = names.physical.get("EventsQueue")
    if not queue_url:
        return None
    return EventsWorker(server.client("sqs"), queue_url, log=log or (lambda line: print(line, flush=True))).start()
