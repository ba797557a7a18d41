"""What pacing costs the sidecar's outbound path when it is off, and when it is on with zero delays.

The real OutboundRunner and send_one run against in-process fakes of the worker-proxy (claims answered from a
list, marks recorded) and of the session (a send returns an id): no network, no sleeps, so what is measured is
the runner's own code path per message. Three variants, interleaved round by round in the same process so
machine load hits them alike:

- off: the instance has no pacing settings (the default): batch claims of OUTBOUND_BATCH, as before pacing;
- off (explicit): pacing {"enabled": false} with a long delay configured, which must change nothing;
- on, zero delays: pacing {"enabled": true, "delay_ms": {"min": 0, "max": 0}, "typing": false}: one claim
  per message and the pacer's bookkeeping, but no wait.

Also the one thing pacing adds to the off path: OutboundRunner.pacing() per wake (a version comparison),
timed alone in ns.

Usage: .venv/bin/python bench/pacing_overhead.py [--messages 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in ("shared", "sidecar"):
    sys.path.insert(0, str(ROOT / folder))

from zapgate_core.contract.instance_settings import InstanceSettings  # noqa: E402
from zapgate_core.contract.worker_proxy import QueuedMessage  # noqa: E402
from zapgate_sidecar.runtime.outbound_runner import OutboundRunner  # noqa: E402

BATCH = 10  # the sidecar's default OUTBOUND_BATCH
VARIANTS: dict[str, dict[str, Any] | None] = {
    "off": None,
    "off_explicit": {"enabled": False, "delay_ms": {"min": 30_000, "max": 60_000}},
    "on_zero_delay": {"enabled": True, "delay_ms": {"min": 0, "max": 0}, "typing": False},
}


class _Proxy:
    heartbeat_supported = True

    def __init__(self, messages: list[QueuedMessage]) -> None:
        self.queue = messages
        self.position = 0

    async def queued_messages(self, instance_id: str, limit: int) -> list[QueuedMessage]:
        batch = self.queue[self.position:self.position + limit]
        self.position += len(batch)
        return batch

    async def mark_sent(self, message_id: str, wa_id: str, debug: Any) -> None:
        return None

    async def mark_failed(self, message_id: str, error: str, debug: Any) -> None:
        raise AssertionError(error)


class _Session:
    def send(self, jid: str, message: Any) -> str:
        return "WA"

    def send_chat_presence(self, chat: str, state: str) -> None:
        raise AssertionError("no typing in this benchmark")


def _runtime(count: int, pacing: dict[str, Any] | None) -> Any:
    messages = [QueuedMessage(id=f"m{i}", to="5511988887777", body="hello there") for i in range(count)]
    deps = SimpleNamespace(proxy=_Proxy(messages), http=None,
                           settings=SimpleNamespace(outbound_batch=BATCH, queue_poll_ms=2000),
                           telemetry=SimpleNamespace(incr=lambda name: None))
    return SimpleNamespace(
        instance_id="bench", deps=deps, connected=True, stopping=asyncio.Event(), sent=0,
        session=SimpleNamespace(current=_Session()),
        settings=SimpleNamespace(current=InstanceSettings.model_validate(
            {"instance_id": "bench", "version": 1, "pacing": pacing})),
    )


async def _one(count: int, pacing: dict[str, Any] | None) -> float:
    """Seconds to send `count` queued messages (from the first wake to the last send)."""
    runtime = _runtime(count, pacing)
    runner = OutboundRunner(runtime)
    task = asyncio.create_task(runner.run())
    started = time.perf_counter()
    runner.wake()
    while runtime.sent < count:
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    runtime.stopping.set()
    runner.wake()
    await task
    return elapsed


def _pacing_check_ns(calls: int = 200_000) -> float:
    runner = OutboundRunner(_runtime(0, None))
    runner.pacing()
    started = time.perf_counter_ns()
    for _ in range(calls):
        runner.pacing()
    return (time.perf_counter_ns() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    per_message: dict[str, list[float]] = {name: [] for name in VARIANTS}
    asyncio.run(_one(200, None))  # warm-up: imports, pydantic, the event loop
    for _ in range(args.rounds):
        for name, pacing in VARIANTS.items():
            seconds = asyncio.run(_one(args.messages, pacing))
            per_message[name].append(seconds / args.messages * 1e6)
    medians = {name: statistics.median(values) for name, values in per_message.items()}
    result = {
        "messages": args.messages, "rounds": args.rounds,
        "us_per_message_median": {name: round(value, 1) for name, value in medians.items()},
        "us_per_message_min": {name: round(min(values), 1) for name, values in per_message.items()},
        "ratio_off_explicit_vs_off": round(medians["off_explicit"] / medians["off"], 3),
        "ratio_on_zero_delay_vs_off": round(medians["on_zero_delay"] / medians["off"], 3),
        "pacing_check_per_wake_ns": round(_pacing_check_ns(), 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
