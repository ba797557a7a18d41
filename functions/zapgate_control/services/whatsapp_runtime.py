"""Is there any WhatsApp worker to do what a request asks? Seed 002's WHATSAPP_NOT_CONFIGURED circuit.

The control plane never talks to WhatsApp itself: sidecars (or the Node worker) do, through the
worker-proxy. A deployment with no worker would accept sends and commands that nobody can ever
carry out, so routes that need one answer `503 WHATSAPP_NOT_CONFIGURED` instead, and /v1/healthz
reports the same state (seed 002's `whatsapp.runtime` block).

`WhatsAppWorkers` (template parameter) says where the workers are:
  sidecar   the stack's own ECS service, which exists only once SidecarImageUri is set
  external  workers run outside this stack (the Node worker, `make run`'s processes)
  none      no WhatsApp on purpose: history, keys and webhooks only
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zapgate_control.errors import ApiError

WORKER_MODES: Final = ("sidecar", "external", "none")


@dataclass(frozen=True)
class WhatsAppRuntime:
    workers: str
    configured: bool
    reason: str | None = None  # why not configured, phrased as what the operator should do

    def as_health(self) -> dict[str, object]:
        return {
            "mode": "http",  # seed 002: the only mode left; workers reach us over HTTP (the worker-proxy)
            "transport": self.workers,
            "status": "configured" if self.configured else "not_configured",
            "disabled": not self.configured,
        }


def runtime(workers: str, sidecar_image_uri: str) -> WhatsAppRuntime:
    mode = (workers or "sidecar").strip().lower()
    if mode not in WORKER_MODES:
        return WhatsAppRuntime(mode, False, f"WhatsAppWorkers={workers!r} is not one of {', '.join(WORKER_MODES)}")
    if mode == "none":
        return WhatsAppRuntime(mode, False, "this deployment runs no WhatsApp workers (WhatsAppWorkers=none)")
    if mode == "sidecar" and not sidecar_image_uri.strip():
        return WhatsAppRuntime(
            mode, False, "no sidecar is deployed yet: push the sidecar image and set SidecarImageUri (docs/deploy.md)"
        )
    return WhatsAppRuntime(mode, True)


def require_configured(state: WhatsAppRuntime) -> None:
    if not state.configured:
        raise ApiError(503, "WHATSAPP_NOT_CONFIGURED", f"WhatsApp is not configured: {state.reason}")
