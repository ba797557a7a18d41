"""Lambda's DynamoDB stream poller, locally: MessagesTable's stream (on moto) → the real events outbox handler.

What AWS does for a `Type: DynamoDB` event source of template.yaml, emulated in a thread:
DescribeStream → each shard → GetShardIterator (the mapping's StartingPosition the first time, then
the iterator each GetRecords answers) → GetRecords (up to BatchSize) → the Lambda event (Records with
eventID, eventName, eventSource "aws:dynamodb", eventSourceARN, awsRegion and dynamodb{Keys,
NewImage, OldImage, SequenceNumber, SizeBytes, StreamViewType, ApproximateCreationDateTime}) →
the template's FilterCriteria (records that match no pattern never reach the function, as in AWS) →
the handler. With ReportBatchItemFailures, a batch that lists failures is read again from the
lowest failed sequence number on the next poll; a handler that raises is retried from the batch's
first record. After MaximumRetryAttempts the batch is given up: a failure record (stream pointers,
as Lambda's) goes to the OnFailure queue and the poller moves on.

Polls every POLL_INTERVAL_S per shard (Lambda polls a DynamoDB stream's shards about 4 times a
second), so locally an event reaches EventsQueue ~0.1-0.2 s after its write.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zapgate_devstack.emulator import REGION
from zapgate_devstack.events_worker import LambdaContext
from zapgate_devstack.template import StreamSource, load_template, stream_sources

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
POLL_INTERVAL_S = 0.15
PRUNE_EVERY = 200  # polls between two prunings of moto's shard iterators (see forget_moto_iterators)
_running: set[StreamWorker] = set()  # started workers: their current iterators must survive a pruning


def forget_moto_iterators() -> int:
    """Drop the shard iterators moto issued that no running worker holds; how many were dropped.

    Each GetRecords makes moto store a new iterator, forever (AWS expires them after 15 minutes):
    at ~7 polls a second that is tens of MB an hour in a long `make run`. moto runs in this process
    (emulator.MotoServer), so its backend is reachable; with no in-process moto this finds nothing.
    """
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    keep = {iterator for worker in list(_running) for iterator in worker._iterators.values()}
    dropped = 0
    for regions in dynamodbstreams_backends.values():
        for backend in regions.values():
            for arn in [arn for arn in backend.shard_iterators if arn not in keep]:
                backend.shard_iterators.pop(arn, None)
                dropped += 1
    return dropped


def matches(patterns: Sequence[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Lambda's FilterCriteria: a record goes to the function when any pattern matches (no pattern: all).

    The matching is moto's EventBridge pattern matcher, the grammar Lambda's filters use.
    """
    if not patterns:
        return True
    from moto.events.models import EventPattern

    # moto types the event as its own TypedDict; a stream record is the same JSON shape.
    return any(EventPattern(None, pattern).matches_event(record) for pattern in patterns)  # type: ignore[arg-type]


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to a function (JSON-ready: the time as epoch seconds)."""
    stream = dict(raw["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    return {
        "eventID": raw.get("eventID") or uuid.uuid4().hex,
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": raw.get("awsRegion", REGION),
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }


@dataclass
class StreamPollResult:
    read: int = 0  # records read from the stream
    invoked: int = 0  # of them, handed to the function (matched the filters)
    failed: int = 0  # of those, answered as failures (or the whole batch, when the handler raised)
    gave_up: int = 0  # batches sent to the OnFailure destination
    failed_sequence_numbers: list[str] = field(default_factory=list)


class StreamWorker:
    """Polls one table's stream and invokes `handler` (default: the template's function) like Lambda."""

    def __init__(self, dynamodb: Any, streams: Any, table_name: str, source: StreamSource,
                 handler: Handler | None = None, sqs: Any = None, failure_queue_url: str | None = None,
                 interval_s: float = POLL_INTERVAL_S, log: Callable[[str], None] | None = None) -> None:
        self.streams = streams
        self.source = source
        self._handler = handler
        self.sqs = sqs
        self.failure_queue_url = failure_queue_url
        self.interval_s = interval_s
        self.log = log or (lambda line: None)
        self.stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str] = {}
        # Where each shard resumes if its iterator is lost (an iterator pruned by another worker):
        # (AT_SEQUENCE_NUMBER, a failed record) or (AFTER_SEQUENCE_NUMBER, the last record done).
        self._resume: dict[str, tuple[str, str]] = {}
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()  # drain() from a test while the thread polls: one poll at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def handler(self) -> Handler:
        if self._handler is None:
            import importlib

            module_name, name = self.source.handler.rsplit(".", 1)
            self._handler = getattr(importlib.import_module(module_name), name)
        return self._handler

    def _iterator(self, shard_id: str) -> str:
        if shard_id not in self._iterators:
            request = {"StreamArn": self.stream_arn, "ShardId": shard_id}
            if shard_id in self._resume:
                kind, sequence_number = self._resume[shard_id]
                request.update(ShardIteratorType=kind, SequenceNumber=sequence_number)
            else:
                request["ShardIteratorType"] = self.source.starting_position
            self._iterators[shard_id] = self.streams.get_shard_iterator(**request)["ShardIterator"]
        return self._iterators[shard_id]

    def _advance(self, shard_id: str, following: str | None, records: list[dict[str, Any]]) -> None:
        if records:
            self._resume[shard_id] = ("AFTER_SEQUENCE_NUMBER", records[-1]["dynamodb"]["SequenceNumber"])
        if following:
            self._iterators[shard_id] = following
        else:
            self._iterators.pop(shard_id, None)

    def _restart_at(self, shard_id: str, sequence_number: str) -> None:
        self._resume[shard_id] = ("AT_SEQUENCE_NUMBER", sequence_number)
        self._iterators.pop(shard_id, None)

    def poll_once(self) -> StreamPollResult:
        with self._lock:
            result = StreamPollResult()
            shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                self._poll_shard(shard["ShardId"], result)
            return result

    def _poll_shard(self, shard_id: str, result: StreamPollResult) -> None:
        try:
            answer = self.streams.get_records(ShardIterator=self._iterator(shard_id), Limit=self.source.batch_size)
        except Exception:
            self._iterators.pop(shard_id, None)  # lost or expired: the next poll resumes from _resume
            raise
        records = [lambda_record(raw, self.stream_arn) for raw in answer.get("Records") or []]
        following = answer.get("NextShardIterator")
        result.read += len(records)
        batch = [record for record in records if matches(self.source.filters, record)]
        if not batch:
            self._advance(shard_id, following, records)
            return
        result.invoked += len(batch)
        failed_from: str | None = None
        try:
            response = self.handler({"Records": batch}, LambdaContext(function_name=f"{self.source.function}-local"))
        except Exception as exc:  # Lambda: the invocation failed, the batch is retried
            self.log(f"stream worker: {self.source.function} raised {type(exc).__name__}: {exc}; retrying the batch")
            failed_from, result.failed = batch[0]["dynamodb"]["SequenceNumber"], len(batch)
        else:
            failures = [str(item.get("itemIdentifier")) for item in (response or {}).get("batchItemFailures") or []]
            if failures:
                failed_from = min(failures, key=int)
                result.failed += len(failures)
                result.failed_sequence_numbers.extend(failures)
        if failed_from is None:
            self._attempts.pop(shard_id, None)
            self._advance(shard_id, following, records)
            return
        attempts = self._attempts[shard_id] = self._attempts.get(shard_id, 0) + 1
        limit = self.source.maximum_retry_attempts
        if limit >= 0 and attempts > limit:
            self._give_up(shard_id, failed_from, batch)
            result.gave_up += 1
            self._attempts.pop(shard_id, None)
            self._advance(shard_id, following, records)
            return
        self._restart_at(shard_id, failed_from)  # the records before it are done (checkpointed)

    def _give_up(self, shard_id: str, start: str, batch: list[dict[str, Any]]) -> None:
        """Lambda's on-failure record: where the records are, not what they hold."""
        info = {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(batch),
            "streamArn": self.stream_arn,
        }
        self.log(f"stream worker: {self.source.function} gave up on records {start}..{info['endSequenceNumber']}")
        if self.sqs is not None and self.failure_queue_url:
            body = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": info}
            self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(body))

    def drain(self, max_polls: int = 20) -> StreamPollResult:
        """Poll until a poll reads nothing new (tests); totals over the polls. A failed record is read
        again by the next poll, so a handler failing for good stops only at max_polls."""
        total = StreamPollResult()
        for _ in range(max_polls):
            result = self.poll_once()
            total.read += result.read
            total.invoked += result.invoked
            total.failed += result.failed
            total.gave_up += result.gave_up
            total.failed_sequence_numbers.extend(result.failed_sequence_numbers)
            if not result.read:
                break
        return total

    # ------------------------------------------------------------ background thread (make run)
    def _run(self) -> None:
        polls = 0
        while not self._stop.is_set():
            try:
                self.poll_once()
                polls += 1
                if polls % PRUNE_EVERY == 0:
                    with self._lock:
                        forget_moto_iterators()
            except Exception as exc:  # moto going away at shutdown, or a transient error: keep polling
                if self._stop.is_set():
                    return
                self.log(f"stream worker: {type(exc).__name__}: {exc}")
                self._stop.wait(1)
                continue
            self._stop.wait(self.interval_s)

    def start(self) -> StreamWorker:
        _running.add(self)
        self._thread = threading.Thread(target=self._run, name=f"stream-worker-{self.source.function}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        _running.discard(self)
        if self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.join(timeout)


def workers_for(server: Any, names: Any, log: Callable[[str], None] | None = None,
                handler: Handler | None = None, template: dict[str, Any] | None = None) -> list[StreamWorker]:
    """One worker per `Type: DynamoDB` event of the template, on this moto server's tables (not started)."""
    template = template if template is not None else load_template()
    workers = []
    for source in stream_sources(template):
        workers.append(
            StreamWorker(
                server.client("dynamodb"), server.client("dynamodbstreams"), names.physical[source.table], source,
                handler=handler, sqs=server.client("sqs"),
                failure_queue_url=names.physical.get(source.on_failure) if source.on_failure else None,
                log=log or (lambda line: print(line, flush=True)),
            )
        )
    return workers


def start_for(server: Any, names: Any, log: Callable[[str], None] | None = None) -> list[StreamWorker]:
    """make run: Lambda's stream pollers for the template's DynamoDB event sources, started."""
    return [worker.start() for worker in workers_for(server, names, log)]
