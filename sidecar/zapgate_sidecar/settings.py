"""Sidecar settings: seed 000's environment variables with its defaults, validated at start.

An invalid value stops the process before it touches WhatsApp or takes a lock, with one
line naming the variable and the problem.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class SettingsError(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"zapgate sidecar: invalid settings: {message}")


class SidecarSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    edge_base_url: str = Field(min_length=1)
    worker_secret: str = Field(min_length=8)
    port: int = Field(default=3000, ge=0, le=65535)
    discovery_poll_ms: int = Field(default=10_000, ge=200)
    queue_poll_ms: int = Field(default=2_000, ge=50)
    instance_lock_ttl_ms: int = Field(default=30_000, ge=2_000)
    instance_lock_renew_ms: int | None = Field(default=None, ge=500)
    auth_base: Path = Path("/data/auth")
    media_base: Path = Path("/data/media")
    max_active_instances: int = Field(default=0, ge=0)
    bad_mac_window_ms: int = Field(default=60_000, ge=1)
    bad_mac_threshold: int = Field(default=20, ge=1)
    bad_mac_cooldown_ms: int = Field(default=300_000, ge=0)
    # zapgate's own additions
    transport: Literal["neonize", "sim"] = "neonize"
    sim_url: str = "http://127.0.0.1:8001"
    instance_owner: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    auth_state_table: str | None = None  # unset: auth state stays on local disk only
    instances_table: str | None = None  # the lock's table, for fenced auth-state writes
    media_bucket: str | None = None  # for media too large for upload-media
    upload_media_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    print_qr: bool = False
    stop_cooldown_ms: int = Field(default=60_000, ge=0)  # seed 000: connected runtimes leave the target after 60 s
    presence_interval_ms: int = Field(default=60_000, ge=200)  # announce to the fleet at most this often
    reconnect_backoff_s: tuple[float, ...] = (2, 5, 10, 20, 40, 60)
    outbound_batch: int = Field(default=10, ge=1, le=50)
    auth_save_interval_s: float = Field(default=5.0, gt=0)
    stop_timeout_s: float = Field(default=25.0, gt=0)  # ECS sends SIGKILL 30 s after SIGTERM by default
    # How the control plane wakes this sidecar (docs/sidecar.md#push-channel). push: a WebSocket the
    # server advertises in worker-settings (or PUSH_URL), renewals are short calls, and polling at
    # QUEUE_POLL_MS only while the channel is down; longpoll: the heartbeat waits server-side (the
    # design before the push channel, kept for servers and benchmarks that need it).
    wake_mode: Literal["push", "longpoll"] = "push"
    push_url: str | None = None  # overrides the server's advertised push_url
    push_keepalive_ms: int = Field(default=300_000, ge=1_000)  # API Gateway closes a connection idle 10 min
    push_rotate_ms: int = Field(default=6_600_000, ge=5_000)  # make-before-break before API Gateway's 2 h cap
    discovery_idle_ms: int = Field(default=60_000, ge=200)  # discovery while the channel is up (pushes wake it)
    worker_settings_refresh_ms: int = Field(default=300_000, ge=0)  # 0 = every discovery, as seed 000
    # A request to the phone is answered within this (runtime/requests.py), below the API's REQUEST_WAIT_MS
    # (10 s by default), so a slow WhatsApp is answered `unreachable` rather than left to the API's 504.
    request_timeout_ms: int = Field(default=8_000, ge=100)

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> SidecarSettings:
        if self.lock_renew_ms >= self.instance_lock_ttl_ms:
            raise ValueError("INSTANCE_LOCK_RENEW_MS must be shorter than INSTANCE_LOCK_TTL_MS")
        if not self.edge_base_url.startswith(("http://", "https://")):
            raise ValueError("EDGE_BASE_URL must be an http(s) URL")
        return self

    @property
    def lock_renew_ms(self) -> int:
        # Seed 000: default TTL/2, never below 2 s.
        return self.instance_lock_renew_ms or max(self.instance_lock_ttl_ms // 2, 2_000)

    @property
    def base_url(self) -> str:
        # The Node worker tolerated a trailing /inbound on the base URL; so do we.
        url = self.edge_base_url.rstrip("/")
        return url.removesuffix("/inbound")


_ENV = {
    "EDGE_BASE_URL": "edge_base_url",
    "WORKER_SECRET": "worker_secret",
    "PORT": "port",
    "DISCOVERY_POLL_MS": "discovery_poll_ms",
    "QUEUE_POLL_MS": "queue_poll_ms",
    "INSTANCE_LOCK_TTL_MS": "instance_lock_ttl_ms",
    "INSTANCE_LOCK_RENEW_MS": "instance_lock_renew_ms",
    "AUTH_BASE": "auth_base",
    "MEDIA_BASE": "media_base",
    "MAX_ACTIVE_INSTANCES": "max_active_instances",
    "BAD_MAC_WINDOW_MS": "bad_mac_window_ms",
    "BAD_MAC_THRESHOLD": "bad_mac_threshold",
    "BAD_MAC_COOLDOWN_MS": "bad_mac_cooldown_ms",
    "ZAPGATE_TRANSPORT": "transport",
    "ZAPGATE_SIM_URL": "sim_url",
    "INSTANCE_OWNER": "instance_owner",
    "AUTH_STATE_TABLE": "auth_state_table",
    "INSTANCES_TABLE": "instances_table",
    "MEDIA_BUCKET": "media_bucket",
    "UPLOAD_MEDIA_MAX_BYTES": "upload_media_max_bytes",
    "PRINT_QR": "print_qr",
    "STOP_COOLDOWN_MS": "stop_cooldown_ms",
    "PRESENCE_INTERVAL_MS": "presence_interval_ms",
    "AUTH_SAVE_INTERVAL_S": "auth_save_interval_s",
    "WAKE_MODE": "wake_mode",
    "PUSH_URL": "push_url",
    "PUSH_KEEPALIVE_MS": "push_keepalive_ms",
    "PUSH_ROTATE_MS": "push_rotate_ms",
    "DISCOVERY_IDLE_MS": "discovery_idle_ms",
    "WORKER_SETTINGS_REFRESH_MS": "worker_settings_refresh_ms",
    "REQUEST_TIMEOUT_MS": "request_timeout_ms",
}


def load_settings(environ: dict[str, str] | None = None) -> SidecarSettings:
    env = os.environ if environ is None else environ
    values = {field: env[name] for name, field in _ENV.items() if env.get(name, "") != ""}
    try:
        return SidecarSettings.model_validate(values)
    except ValidationError as exc:
        reverse = {field: name for name, field in _ENV.items()}
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            name = reverse.get(field, field or "settings")
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
