"""The control plane's one composition root: every adapter of every function is built here.

`get_stores()` answers one `Stores` per container; each adapter on it is built from settings the
first time a function asks for it, then reused (boto3 clients and connection pools live as long as
the container). A function therefore constructs only what it uses: the FastAPI apps take `Stores`
through `Depends(get_stores)`, and the other handlers (events, live, outbox, push) read the few
attributes they need from the same `Stores`. Each builder imports its own adapter, so a function
loads only the adapters it uses at its cold start (the outbox never loads httpx nor the messages
adapter's content models); the port types are imported for type checking only.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import TYPE_CHECKING

from zapgate_control.settings import Settings, get_settings

if TYPE_CHECKING:
    from zapgate_control.adapters.dynamodb.own_messages import DynamoOwnMessageStore
    from zapgate_control.ports.api_keys import ApiKeyStore, RateLimiter
    from zapgate_control.ports.audit import AuditLog
    from zapgate_control.ports.automations import (
        AutomationStore,
        CooldownStore,
        EscalationStore,
        InteractionStore,
        ProviderSecretStore,
    )
    from zapgate_control.ports.contacts import ContactStore, GroupStore
    from zapgate_control.ports.delivery_log import DeliveryLogStore
    from zapgate_control.ports.events import EventBus, EventPublisher, OutboxPublisher, Redelivery, WebhookSender
    from zapgate_control.ports.instances import InstanceStore
    from zapgate_control.ports.live import LiveConnectionStore, LivePusher
    from zapgate_control.ports.media import MediaStore
    from zapgate_control.ports.message_metrics import MessageMetricsStore
    from zapgate_control.ports.messages import MessageStore
    from zapgate_control.ports.presence import PushConnectionStore, SidecarPresenceStore
    from zapgate_control.ports.proxies import ProxySecretStore
    from zapgate_control.ports.requests import RequestStore
    from zapgate_control.ports.webhooks import WebhookStore
    from zapgate_control.services.automations import AutomationDeps
    from zapgate_control.services.live import LiveFanout
    from zapgate_control.services.requests import RequestDeps
    from zapgate_control.services.sidecar_wakeups import SidecarWaker
    from zapgate_core.domain.json_types import JsonObject
    from zapgate_core.domain.outbound import ClaimPolicy
    from zapgate_core.domain.outbox import Change

__all__ = ["Stores", "change_of", "get_stores"]


def change_of(record: JsonObject) -> Change:
    """A MessagesTable stream record as the domain's Change, its images decoded by the DynamoDB adapters."""
    from zapgate_control.adapters.dynamodb.streams import change_of as decode

    return decode(record)


class Stores:
    """Every adapter a function may use (stores, queues, the bus, pushers), each built on first use.

    Optional ones are None when their settings are empty: the function then runs without that part.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ------------------------------------------------------------ storage
    @cached_property
    def instances(self) -> InstanceStore:
        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

        return DynamoInstanceStore(self.settings.instances_table)

    @cached_property
    def messages(self) -> MessageStore:
        from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

        return DynamoMessageStore(self.settings.messages_table, self.settings.message_retention_days)

    @cached_property
    def own_messages(self) -> DynamoOwnMessageStore:
        """Own-device messages, history batches and the history_sync setting (issue 13): one adapter, both
        ports (OwnMessageStore, HistorySettingsStore)."""
        from zapgate_control.adapters.dynamodb.own_messages import DynamoOwnMessageStore

        return DynamoOwnMessageStore(self.settings.messages_table, self.settings.instances_table,
                                     self.settings.message_retention_days)

    @cached_property
    def message_metrics(self) -> MessageMetricsStore:
        from zapgate_control.adapters.dynamodb.message_metrics import DynamoMessageMetrics

        return DynamoMessageMetrics(self.settings.messages_table)

    @cached_property
    def contacts(self) -> ContactStore:
        from zapgate_control.adapters.dynamodb.contacts import DynamoContactStore

        return DynamoContactStore(self.settings.contacts_table)

    @cached_property
    def groups(self) -> GroupStore:
        from zapgate_control.adapters.dynamodb.groups import DynamoGroupStore

        return DynamoGroupStore(self.settings.contacts_table)

    @cached_property
    def audit(self) -> AuditLog:
        from zapgate_control.adapters.dynamodb.audit import DynamoAuditLog

        return DynamoAuditLog(self.settings.audit_table)

    @cached_property
    def requests(self) -> RequestStore:
        from zapgate_control.adapters.dynamodb.requests import DynamoRequestStore

        return DynamoRequestStore(self.settings.requests_table)

    # ------------------------------------------------------------ automations (AutomationsTable, Secrets Manager)
    @cached_property
    def automations(self) -> AutomationStore:
        from zapgate_control.adapters.dynamodb.automations import DynamoAutomationStore

        return DynamoAutomationStore(self.settings.automations_table)

    @cached_property
    def interactions(self) -> InteractionStore:
        from zapgate_control.adapters.dynamodb.automation_activity import DynamoInteractionStore

        return DynamoInteractionStore(self.settings.automations_table)

    @cached_property
    def escalations(self) -> EscalationStore:
        from zapgate_control.adapters.dynamodb.automation_activity import DynamoEscalationStore

        return DynamoEscalationStore(self.settings.automations_table)

    @cached_property
    def cooldowns(self) -> CooldownStore:
        from zapgate_control.adapters.dynamodb.automation_activity import DynamoCooldownStore

        return DynamoCooldownStore(self.settings.automations_table)

    @cached_property
    def provider_secrets(self) -> ProviderSecretStore:
        from zapgate_control.adapters.provider_secrets import SecretsManagerProviderKeys

        return SecretsManagerProviderKeys(self.settings.provider_secrets_prefix)

    @cached_property
    def proxy_secrets(self) -> ProxySecretStore:
        """Instance proxy URLs (issue 13): written by the public API, read by the worker-proxy for the lock holder."""
        from zapgate_control.adapters.proxy_secrets import SecretsManagerProxies

        return SecretsManagerProxies(self.settings.proxy_secrets_prefix)

    @cached_property
    def automation_deps(self) -> AutomationDeps:
        """The public API's automations routes: the stores, the provider keys, and whether http is allowed."""
        from zapgate_control.services.automations import AutomationDeps

        return AutomationDeps(self.instances, self.automations, self.provider_secrets, self.interactions,
                              self.escalations, allow_http=self.settings.automations_allow_http, media=self.media)

    @cached_property
    def media(self) -> MediaStore:
        from zapgate_control.adapters.s3_media import S3Media
        from zapgate_control.aws import client

        s = self.settings
        return S3Media(s.media_bucket, s.media_url_ttl_seconds, lambda: client("s3"))

    @cached_property
    def claim_policy(self) -> ClaimPolicy:
        from zapgate_core.domain.outbound import ClaimPolicy

        return ClaimPolicy(lease_ms=self.settings.outbound_lease_ms, max_claims=self.settings.outbound_max_claims)

    # ------------------------------------------------------------ tenants: keys, rate limit, webhooks, live
    @cached_property
    def api_keys(self) -> ApiKeyStore:
        from zapgate_control.adapters.dynamodb.api_keys import DynamoApiKeyStore

        return DynamoApiKeyStore(self.settings.api_keys_table)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        from zapgate_control.adapters.dynamodb.rate_limits import DynamoRateLimiter

        return DynamoRateLimiter(self.settings.api_keys_table, self.settings.rate_limit_per_minute)

    @cached_property
    def webhooks(self) -> WebhookStore:
        from zapgate_control.adapters.dynamodb.webhooks import DynamoWebhookStore

        return DynamoWebhookStore(self.settings.webhooks_table)

    @cached_property
    def delivery_log(self) -> DeliveryLogStore:
        """Failed and dead webhook deliveries (events processor writes, public API lists and redrives)."""
        from zapgate_control.adapters.dynamodb.delivery_log import DynamoDeliveryLog

        return DynamoDeliveryLog(self.settings.webhooks_table)

    @cached_property
    def live_connections(self) -> LiveConnectionStore:
        from zapgate_control.adapters.dynamodb.live_connections import DynamoLiveConnectionStore

        return DynamoLiveConnectionStore(self.settings.live_connections_table)

    @cached_property
    def live_pusher(self) -> LivePusher | None:
        """The live WebSocket API's management endpoint; None without LIVE_ENDPOINT_URL."""
        from zapgate_control.adapters.live_push import ApiGatewayLivePusher

        endpoint = self.settings.live_endpoint_url
        return ApiGatewayLivePusher(endpoint) if endpoint else None

    @cached_property
    def live_fanout(self) -> LiveFanout | None:
        """Events to live connections (events processor); None unless both the table and the endpoint exist."""
        from zapgate_control.services.live import LiveFanout

        if self.live_pusher is None or not self.settings.live_connections_table:
            return None
        return LiveFanout(self.live_connections, self.live_pusher)

    # ------------------------------------------------------------ events to applications
    @cached_property
    def events(self) -> EventPublisher:
        from zapgate_control.adapters.sqs_events import NoEventPublisher, SqsEventPublisher

        url = self.settings.events_queue_url
        return SqsEventPublisher(url) if url else NoEventPublisher()

    @cached_property
    def outbox_publisher(self) -> OutboxPublisher:
        from zapgate_control.adapters.sqs_events import SqsEventPublisher

        # Even without a queue: every event is then reported refused, so the stream retries rather than loses it.
        return SqsEventPublisher(self.settings.events_queue_url)

    @cached_property
    def redelivery(self) -> Redelivery:
        from zapgate_control.adapters.sqs_events import SqsRedelivery

        return SqsRedelivery(self.settings.events_queue_url)

    @cached_property
    def webhook_sender(self) -> WebhookSender:
        from zapgate_control.adapters.webhook_http import HttpWebhookSender

        return HttpWebhookSender()

    @cached_property
    def event_bus(self) -> EventBus | None:
        """The EventBridge bus that also gets every event; None without EVENT_BUS_NAME."""
        if not self.settings.event_bus_name:
            return None
        from zapgate_control.adapters.eventbridge import EventBridgeBus

        return EventBridgeBus(self.settings.event_bus_name)

    # ------------------------------------------------------------ sidecars: presence and the push channel
    @cached_property
    def sidecar_presence(self) -> SidecarPresenceStore | None:
        """Sidecar presence; None without FLEET_TABLE."""
        from zapgate_control.adapters.dynamodb.sidecar_presence import DynamoSidecarPresenceStore

        return DynamoSidecarPresenceStore(self.settings.fleet_table) if self.settings.fleet_table else None

    @cached_property
    def push_connections(self) -> PushConnectionStore:
        from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore

        return DynamoPushConnectionStore(self.settings.fleet_table)

    @cached_property
    def sidecar_pusher(self) -> LivePusher | None:
        """The sidecars' WebSocket API's management endpoint; None without SIDECAR_PUSH_ENDPOINT_URL."""
        from zapgate_control.adapters.live_push import ApiGatewayLivePusher

        endpoint = self.settings.sidecar_push_endpoint_url
        return ApiGatewayLivePusher(endpoint) if endpoint else None

    @cached_property
    def sidecar_waker(self) -> SidecarWaker | None:
        """Wake-ups through the sidecars' push channel; None without it (sidecars then poll)."""
        from zapgate_control.services.sidecar_wakeups import SidecarWaker

        if self.sidecar_pusher is None or not self.settings.fleet_table:
            return None
        return SidecarWaker(self.push_connections, self.sidecar_pusher)

    @cached_property
    def request_deps(self) -> RequestDeps:
        """Requests to the phone (public API): the stores, the lock holder's push channel, the wait."""
        from zapgate_control.services.requests import RequestDeps

        return RequestDeps(self.instances, self.requests, self.push_connections, self.sidecar_waker,
                           self.settings.request_wait_ms)


@cache
def get_stores() -> Stores:
    return Stores(get_settings())
