"""Function settings, read from the environment template.yaml gives each function."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    instances_table: str
    messages_table: str
    contacts_table: str
    audit_table: str
    api_keys_table: str
    media_bucket: str
    max_active_instances: int
    media_max_bytes: int
    outbound_lease_ms: int
    outbound_max_claims: int
    message_retention_days: int
    media_url_ttl_seconds: int
    rate_limit_per_minute: int = 600  # requests per tenant per minute on the public API; 0 = no limit
    events_queue_url: str = ""  # empty: events are not published (docs/events.md)
    webhooks_table: str = ""
    webhook_retry_base_seconds: int = 30  # first retry delay; doubles per attempt (capped at 900 s)
    live_connections_table: str = ""  # live (WebSocket) connections and their tickets
    live_url: str = ""  # wss://…/live that clients connect to (public API: tickets)
    live_endpoint_url: str = ""  # the WebSocket API's management endpoint (events processor: push); "" = no push
    event_bus_name: str = ""  # EventBridge bus that also gets every event; "" = none
    whatsapp_workers: str = "sidecar"  # sidecar | external | none (services/whatsapp_runtime.py)
    sidecar_image_uri: str = ""
    fleet_table: str = ""  # sidecar presence (eligible-instances `announce`); "" = the extension is off
    # The sidecars' push channel (SidecarPushApi): its wss:// URL, advertised in worker-settings, and its
    # management endpoint, where wake-ups are posted. "" = no push channel (sidecars poll).
    sidecar_push_url: str = ""
    sidecar_push_endpoint_url: str = ""
    requests_table: str = ""  # requests to the phone (docs/requests.md)
    request_wait_ms: int = 10_000  # how long the public API waits for the phone's answer (then 504)
    automations_table: str = ""  # automations, interactions, paused chats, cooldowns (docs/data-model.md)
    provider_secrets_prefix: str = "zapgate-local/automations/"  # Secrets Manager names of provider keys
    automations_allow_http: bool = False  # true only on a local stack: http:// and local tool/model endpoints
    proxy_secrets_prefix: str = "zapgate-local/proxies/"  # Secrets Manager names of instance proxy URLs (issue 13)


@cache
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        instances_table=env.get("INSTANCES_TABLE", ""),
        messages_table=env.get("MESSAGES_TABLE", ""),
        contacts_table=env.get("CONTACTS_TABLE", ""),
        audit_table=env.get("AUDIT_TABLE", ""),
        api_keys_table=env.get("API_KEYS_TABLE", ""),
        media_bucket=env.get("MEDIA_BUCKET", ""),
        max_active_instances=_int("MAX_ACTIVE_INSTANCES", 0),
        media_max_bytes=_int("MEDIA_MAX_BYTES", 4 * 1024 * 1024),
        outbound_lease_ms=_int("OUTBOUND_LEASE_SECONDS", 120) * 1000,
        outbound_max_claims=_int("OUTBOUND_MAX_CLAIMS", 3),
        message_retention_days=_int("MESSAGE_RETENTION_DAYS", 90),
        media_url_ttl_seconds=_int("MEDIA_URL_TTL_SECONDS", 7 * 24 * 3600),
        rate_limit_per_minute=_int("RATE_LIMIT_PER_MINUTE", 600),
        events_queue_url=env.get("EVENTS_QUEUE_URL", ""),
        webhooks_table=env.get("WEBHOOKS_TABLE", ""),
        webhook_retry_base_seconds=_int("WEBHOOK_RETRY_BASE_SECONDS", 30),
        live_connections_table=env.get("LIVE_CONNECTIONS_TABLE", ""),
        live_url=env.get("LIVE_URL", ""),
        live_endpoint_url=env.get("LIVE_ENDPOINT_URL", ""),
        event_bus_name=env.get("EVENT_BUS_NAME", ""),
        whatsapp_workers=env.get("WHATSAPP_WORKERS", "sidecar"),
        sidecar_image_uri=env.get("SIDECAR_IMAGE_URI", ""),
        fleet_table=env.get("FLEET_TABLE", ""),
        sidecar_push_url=env.get("SIDECAR_PUSH_URL", ""),
        sidecar_push_endpoint_url=env.get("SIDECAR_PUSH_ENDPOINT_URL", ""),
        requests_table=env.get("REQUESTS_TABLE", ""),
        request_wait_ms=_int("REQUEST_WAIT_MS", 10_000),
        automations_table=env.get("AUTOMATIONS_TABLE", ""),
        provider_secrets_prefix=env.get("PROVIDER_SECRETS_PREFIX", "zapgate-local/automations/"),
        automations_allow_http=env.get("AUTOMATIONS_ALLOW_HTTP", "false").strip().lower() == "true",
        proxy_secrets_prefix=env.get("PROXY_SECRETS_PREFIX", "zapgate-local/proxies/"),
    )
