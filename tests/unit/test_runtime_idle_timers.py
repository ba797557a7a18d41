"""An idle instance's runtime sets no timers it does not need: a sidecar of 1,000 instances multiplies each."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from zapgate_core.contract.worker_proxy import LockResponse
from zapgate_sidecar.runtime import InstanceRuntime, RuntimeDeps, inbound_forwarding
from zapgate_sidecar.settings import SidecarSettings
from zapgate_sidecar.transport import ReceiptReceived


class _CountingAsyncio:
    """The inbound forwarding module's `asyncio`, counting sleeps."""

    def __init__(self) -> None:
        self.sleeps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await asyncio.sleep(seconds)


class _Proxy:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def receipts(self, request: Any) -> bool:
        self.batches.append([r.wa_message_id for r in request.receipts])
        return True


def test_the_receipt_loop_sleeps_only_when_receipts_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _CountingAsyncio()
    monkeypatch.setattr(inbound_forwarding, "asyncio", counting)
    monkeypatch.setattr(inbound_forwarding, "RECEIPT_FLUSH_S", 0.02)
    settings = SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                               auth_base=tmp_path / "auth", media_base=tmp_path / "media", instance_owner="a")
    proxy = _Proxy()
    deps = RuntimeDeps(settings=settings, proxy=proxy, transport=None, http=None,  # type: ignore[arg-type]
                       large_media=None, on_exit=lambda _i, _w: None)

    async def run() -> None:
        runtime = InstanceRuntime("i1", LockResponse(acquired=True, instance_owner="a", lock_token="t", fence=1), deps)
        loop = asyncio.create_task(runtime.inbound.receipt_loop())
        await asyncio.sleep(0.3)  # idle: 15 flush periods
        assert counting.sleeps == 0 and proxy.batches == []
        await runtime._handle(ReceiptReceived(wa_message_ids=("m1", "m2"), chat_jid="c@s.whatsapp.net", kind="read"))
        await runtime._handle(ReceiptReceived(wa_message_ids=("m3",), chat_jid="c@s.whatsapp.net", kind="read"))
        await asyncio.sleep(0.2)
        assert proxy.batches == [["m1", "m2", "m3"]]  # one batch, one flush period after the first receipt
        sleeps = counting.sleeps
        await asyncio.sleep(0.2)
        assert counting.sleeps == sleeps == 1  # idle again
        loop.cancel()

    asyncio.run(run())
