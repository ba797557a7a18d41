"""Builds the adapters from settings, once per container; FastAPI routes receive them via Depends."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from zapgate_control.adapters.dynamodb.api_keys import DynamoApiKeyStore
from zapgate_control.adapters.dynamodb.audit import DynamoAuditLog
from zapgate_control.adapters.dynamodb.contacts import DynamoContactStore
from zapgate_control.adapters.dynamodb.fleet import DynamoFleetStore
from zapgate_control.adapters.dynamodb.groups import DynamoGroupStore
from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
from zapgate_control.adapters.dynamodb.live_connections import DynamoLiveConnectionStore
from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore
from zapgate_control.adapters.dynamodb.rate_limits import DynamoRateLimiter
from zapgate_control.adapters.dynamodb.webhooks import DynamoWebhookStore
from zapgate_control.adapters.live_push import ApiGatewayLivePusher
from zapgate_control.adapters.sqs_events import NoEventPublisher, SqsEventPublisher
from zapgate_control.aws import client
from zapgate_control.ports import (
    ApiKeyStore,
    AuditLog,
    ContactStore,
    EventPublisher,
    FleetStore,
    GroupStore,
    InstanceStore,
    LiveConnectionStore,
    MediaStore,
    MessageStore,
    RateLimiter,
    WebhookStore,
)
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_control.settings import Settings, get_settings
from zapgate_core.domain.outbound import ClaimPolicy
from zapgate_core.storage.media import ContentAddressedMedia


@dataclass(frozen=True)
class Stores:
    settings: Settings
    instances: InstanceStore
    messages: MessageStore
    contacts: ContactStore
    audit: AuditLog
    media: MediaStore
    api_keys: ApiKeyStore
    claim_policy: ClaimPolicy
    rate_limiter: RateLimiter
    groups: GroupStore
    events: EventPublisher
    webhooks: WebhookStore
    live_connections: LiveConnectionStore
    fleet: FleetStore | None = None  # sidecar presence; None without FLEET_TABLE
    # Wake-ups through the sidecars' push channel; None without it (sidecars then poll).
    sidecar_waker: SidecarWaker | None = None


@cache
def get_stores() -> Stores:
    settings = get_settings()
    return Stores(
        settings=settings,
        instances=DynamoInstanceStore(settings.instances_table),
        messages=DynamoMessageStore(settings.messages_table, settings.message_retention_days),
        contacts=DynamoContactStore(settings.contacts_table),
        audit=DynamoAuditLog(settings.audit_table),
        media=ContentAddressedMedia(settings.media_bucket, settings.media_url_ttl_seconds, lambda: client("s3")),
        api_keys=DynamoApiKeyStore(settings.api_keys_table),
        claim_policy=ClaimPolicy(lease_ms=settings.outbound_lease_ms, max_claims=settings.outbound_max_claims),
        rate_limiter=DynamoRateLimiter(settings.api_keys_table, settings.rate_limit_per_minute),
        groups=DynamoGroupStore(settings.contacts_table),
        events=SqsEventPublisher(settings.events_queue_url) if settings.events_queue_url else NoEventPublisher(),
        webhooks=DynamoWebhookStore(settings.webhooks_table),
        live_connections=DynamoLiveConnectionStore(settings.live_connections_table),
        fleet=DynamoFleetStore(settings.fleet_table) if settings.fleet_table else None,
        sidecar_waker=_sidecar_waker(settings),
    )


def _sidecar_waker(settings: Settings) -> SidecarWaker | None:
    if not (settings.fleet_table and settings.sidecar_push_endpoint_url):
        return None
    return SidecarWaker(DynamoPushConnectionStore(settings.fleet_table),
                        ApiGatewayLivePusher(settings.sidecar_push_endpoint_url))
