"""The push channel to sidecars (zapgate extension, docs/sidecar.md#push-channel).

A sidecar keeps one WebSocket connection to the control plane's `SidecarPushApi`; the control
plane posts small wake-up frames to it instead of a Lambda long-polling DynamoDB on its behalf.
A frame only says *where to look*: the queue and the instance item stay the truth, so a frame
that is lost costs latency (the next renewal drains it), never a message or a command.

Kept apart from the worker-proxy models: the public API posts these frames and must not build
the whole contract's schemas on a cold start.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zapgate_core.contract.common import MAX_ID

# outbound: messages wait in an instance's queue; command: an instance command waits (the sidecar
# asks for it with a short heartbeat, which hands commands only to the verified lock holder);
# discover: the set of instances or sidecars changed, run discovery now; request: a request to the
# phone waits for this lock holder (contract/requests.py; the sidecar claims it by id, fenced by its lock);
# settings: the instance's settings changed (contract/instance_settings.py; the holder fetches them, fenced).
PushKind = Literal["outbound", "command", "discover", "request", "settings"]
PUSH_KINDS: tuple[PushKind, ...] = ("outbound", "command", "discover", "request", "settings")
# Why a discovery is asked for. `sidecar_left`: a sidecar's connection closed without a
# make-before-break rotation, so its locks may expire within one TTL: discover now and after it.
DiscoverReason = Literal["instances_changed", "lock_released", "sidecar_joined", "sidecar_left"]

OWNER_HEADER = "x-instance-owner"  # who is connecting ($connect); the bearer secret rides in Authorization
KEEPALIVE_ACTION = "keepalive"  # what a sidecar sends so API Gateway's 10-minute idle timeout never fires


class SidecarPush(BaseModel):
    """One wake-up frame, as posted to a sidecar's connection."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: PushKind
    instance_id: str | None = Field(default=None, max_length=MAX_ID)
    reason: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=MAX_ID)


def push_frame(
    kind: PushKind, instance_id: str | None = None, reason: DiscoverReason | None = None, request_id: str | None = None
) -> bytes:
    """The frame's bytes, without building the model (the posting side only writes them)."""
    frame: dict[str, str] = {"type": kind}
    if instance_id is not None:
        frame["instance_id"] = instance_id
    if reason is not None:
        frame["reason"] = reason
    if request_id is not None:
        frame["request_id"] = request_id
    return json.dumps(frame, separators=(",", ":")).encode()
