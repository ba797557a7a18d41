"""The outbound runner with pacing on and off (runtime/outbound_runner.py, runtime/pacing.py), against fakes of
the worker-proxy and the session: order, gaps, typing before each send; off = the batch path, no presence."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from zapgate_core.contract.instance_settings import InstanceSettings
from zapgate_core.contract.worker_proxy import QueuedMessage
from zapgate_sidecar.runtime.outbound_runner import OutboundRunner
from zapgate_sidecar.transport import Outgoing


class _Proxy:
    heartbeat_supported = True

    def __init__(self, messages: list[QueuedMessage], log: list[tuple[Any, ...]]) -> None:
        self.queue = list(messages)
        self.log = log
        self.limits: list[int] = []

    async def queued_messages(self, instance_id: str, limit: int) -> list[QueuedMessage]:
        self.limits.append(limit)
        batch, self.queue = self.queue[:limit], self.queue[limit:]
        self.log.extend(("claim", m.id, time.monotonic()) for m in batch)
        return batch

    async def mark_sent(self, message_id: str, wa_id: str, debug: Any) -> None:
        self.log.append(("marked", message_id, time.monotonic()))

    async def mark_failed(self, message_id: str, error: str, debug: Any) -> None:
        raise AssertionError(error)

    async def contact_wrote_first(self, instance_id: str, jid: str) -> bool:
        self.log.append(("wrote?", jid, time.monotonic()))
        return jid.startswith("5511900")  # the "friend" numbers wrote first

    async def hold_message(self, message_id: str, held_until_ms: int, reason: str) -> bool:
        self.log.append(("hold", message_id, held_until_ms))
        return True


class _Session:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log

    def send(self, jid: str, message: Outgoing) -> str:
        self.log.append(("send", message.text, time.monotonic()))
        return f"WA-{message.text}"

    def send_chat_presence(self, chat: str, state: str) -> None:
        self.log.append(("presence", state, time.monotonic()))


def _runtime(messages: list[QueuedMessage], pacing: dict[str, Any] | None) -> tuple[Any, list[tuple[Any, ...]]]:
    log: list[tuple[Any, ...]] = []
    proxy = _Proxy(messages, log)
    deps = SimpleNamespace(proxy=proxy, http=None, settings=SimpleNamespace(outbound_batch=10, queue_poll_ms=2000),
                           telemetry=SimpleNamespace(incr=lambda name: None))
    settings = InstanceSettings.model_validate({"instance_id": "i1", "version": 1, "pacing": pacing})
    runtime = SimpleNamespace(instance_id="i1", deps=deps, connected=True, stopping=asyncio.Event(), sent=0,
                              session=SimpleNamespace(current=_Session(log)),
                              settings=SimpleNamespace(current=settings))
    return runtime, log


def _messages(n: int) -> list[QueuedMessage]:
    return [QueuedMessage(id=f"m{i}", to="5511988887777", body=f"t{i}") for i in range(n)]


async def _drain(runtime: Any, expected_sends: int) -> OutboundRunner:
    runner = OutboundRunner(runtime)
    task = asyncio.create_task(runner.run())
    runner.wake()
    for _ in range(400):
        await asyncio.sleep(0.02)
        if runtime.sent >= expected_sends:
            break
    runtime.stopping.set()
    runner.wake()
    await asyncio.wait_for(task, 2)
    return runner


def test_paced_sends_keep_order_are_spaced_and_typed() -> None:
    runtime, log = _runtime(_messages(3), {"enabled": True, "delay_ms": {"min": 150, "max": 250}, "typing": True})
    runner = asyncio.run(_drain(runtime, 3))
    assert runtime.sent == 3
    assert runtime.deps.proxy.limits[:3] == [1, 1, 1]  # one claim per message: the lease never covers a gap
    sends = [entry for entry in log if entry[0] == "send"]
    assert [text for _, text, _ in sends] == ["t0", "t1", "t2"]
    kinds = [entry[0] for entry in log if entry[0] in ("presence", "send")]
    assert kinds == ["presence", "send"] * 3  # typing right before each send
    marked = {m: t for kind, m, t in log if kind == "marked"}
    claims = {m: t for kind, m, t in log if kind == "claim"}
    for previous, current in (("m0", "m1"), ("m1", "m2")):
        gap_ms = (claims[current] - marked[previous]) * 1000
        assert 140 <= gap_ms <= 400, gap_ms  # the random gap, drawn in [150, 250], before the claim
    presences = [entry for entry in log if entry[0] == "presence"]
    assert all(state == "composing" for _, state, _ in presences)
    typing_ms = [(send[2] - presence[2]) * 1000 for presence, send in zip(presences, sends, strict=True)]
    assert all(550 <= ms <= 1_000 for ms in typing_ms), typing_ms  # a short text: the minimum, 600 ms
    assert runner.pacer.rules is not None


def test_pacing_off_is_the_batch_path_without_presence() -> None:
    runtime, log = _runtime(_messages(3), None)
    runner = asyncio.run(_drain(runtime, 3))
    assert runtime.deps.proxy.limits[0] == 10  # one batch claim, as before pacing existed
    assert [entry[0] for entry in log if entry[0] in ("presence", "send")] == ["send"] * 3
    assert runner.pacer.rules is None


def test_disabled_pacing_settings_are_off() -> None:
    runtime, log = _runtime(_messages(2), {"enabled": False, "delay_ms": {"min": 5_000, "max": 9_000}})
    asyncio.run(_drain(runtime, 2))
    assert runtime.sent == 2 and not [entry for entry in log if entry[0] == "presence"]


def test_number_checks_wait_their_turn_or_are_refused_past_the_bound() -> None:
    from zapgate_core.domain.pacing import PacingRules
    from zapgate_sidecar.runtime.pacing import Pacer

    now = [0.0]
    pacer = Pacer(monotonic_ms=lambda: now[0])
    pacer.rules = PacingRules(check_numbers_interval_ms=5_000)

    async def scenario() -> list[bool]:
        first = await pacer.wait_check_turn(8_000)
        now[0] = 1_000.0
        too_far = await pacer.wait_check_turn(1_000)  # its turn is 4 s away: not run
        return [first, too_far]

    assert asyncio.run(scenario()) == [True, False]


def test_first_contact_cap_holds_until_the_next_day_and_keeps_chat_order() -> None:
    from zapgate_core.domain.pacing import DAY_MS

    messages = [QueuedMessage(id="a1", to="5511988887777", body="a1"),
                QueuedMessage(id="b1", to="5511900001111", body="b1"),  # wrote first: never capped
                QueuedMessage(id="a2", to="5511988887777", body="a2"),  # over the cap of 1: held
                QueuedMessage(id="c1", to="5511977776666", body="c1"),  # another stranger: over the cap too
                QueuedMessage(id="a3", to="5511988887777", body="a3"),  # its chat has a held message: held
                QueuedMessage(id="g1", to="120363000000000001@g.us", body="g1")]  # groups are not capped
    runtime, log = _runtime(messages, {"enabled": True, "delay_ms": {"min": 0, "max": 0}, "typing": False,
                                       "first_contact_daily_cap": 1})
    asyncio.run(_drain(runtime, 3))
    assert [text for kind, text, _ in log if kind == "send"] == ["a1", "b1", "g1"]
    holds = [(m, until) for kind, m, until in log if kind == "hold"]
    assert [m for m, _ in holds] == ["a2", "c1", "a3"]
    now_ms = time.time() * 1000
    assert all(until % DAY_MS == 0 and 0 < until - now_ms <= DAY_MS for _, until in holds)  # next UTC midnight
    asked = [jid for kind, jid, _ in log if kind == "wrote?"]
    assert asked.count("5511900001111@s.whatsapp.net") == 1 and "120363000000000001@g.us" not in asked
