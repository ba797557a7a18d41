"""The events outbox in integration tests: Lambda's stream poller (zapgate_devstack.stream_worker) on the
test's MessagesTable, invoking the real EventsPublisherFunction handler, as `make run` does.

One poller per table (each test has its own tables): it keeps its shard iterators, so draining it
twice in a test publishes each change once, as Lambda's checkpoint would.
"""

from __future__ import annotations

from typing import Any

from zapgate_devstack.stream_worker import StreamPollResult, StreamWorker
from zapgate_devstack.template import load_template, stream_sources

PUBLISHER = "EventsPublisherFunction"
_workers: dict[str, StreamWorker] = {}


def outbox_worker(env: dict[str, str], handler: Any = None) -> StreamWorker:
    if handler is not None:
        return _new(env, handler)
    table = env["MESSAGES_TABLE"]
    if table not in _workers:
        _workers.clear()  # the previous tests' tables are gone
        _workers[table] = _new(env, None)
    return _workers[table]


def _new(env: dict[str, str], handler: Any) -> StreamWorker:
    from zapgate_control.aws import client

    (source,) = [s for s in stream_sources(load_template()) if s.function == PUBLISHER]
    return StreamWorker(client("dynamodb"), client("dynamodbstreams"), env["MESSAGES_TABLE"], source,
                        handler=handler, sqs=client("sqs"))


def publish(env: dict[str, str]) -> StreamPollResult:
    """Run the outbox until the stream has nothing new; every record must have been published."""
    result = outbox_worker(env).drain()
    assert result.failed == 0 and result.gave_up == 0, result
    return result
