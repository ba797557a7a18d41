"""What an instance runtime needs from the sidecar around it: settings, clients, the transport, callbacks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from zapgate_core.storage.media import ContentAddressedMedia
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient
from zapgate_sidecar.settings import SidecarSettings
from zapgate_sidecar.telemetry import SidecarTelemetry
from zapgate_sidecar.transport import WhatsAppTransport


@dataclass
class RuntimeDeps:
    settings: SidecarSettings
    proxy: WorkerProxyClient
    transport: WhatsAppTransport
    http: httpx.AsyncClient
    large_media: ContentAddressedMedia | None
    on_exit: Callable[[str, str], None]  # (instance_id, why): the instance manager forgets the runtime
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    # EMF counters the instance manager flushes
    telemetry: SidecarTelemetry = field(default_factory=SidecarTelemetry)
