"""What the control plane's logic needs from storage and the outside, one module per concept.

Each module holds the protocols, and the exceptions their implementations raise (one documented class
per failure). Services and routes import these, never adapters/ (tests/unit/test_import_contract.py);
adapters/ implements them on AWS, and tests swap them.
"""

from __future__ import annotations

from zapgate_control.ports.api_keys import ApiKeyNotFound, ApiKeyStore, KeysChanged, LastActiveKey, RateLimiter
from zapgate_control.ports.audit import AuditLog
from zapgate_control.ports.contacts import ContactStore, GroupNotFound, GroupStore
from zapgate_control.ports.events import (
    EventBus,
    EventBusRefused,
    EventPublisher,
    OutboxPublisher,
    Redelivery,
    WebhookSender,
)
from zapgate_control.ports.instances import (
    EligibleRecord,
    InstanceChanges,
    InstanceCommand,
    InstanceNotFound,
    InstanceRecord,
    InstanceStore,
    StaleLockToken,
    StatusReport,
    TooManyCommands,
)
from zapgate_control.ports.live import LiveConnectionStore, LivePusher
from zapgate_control.ports.media import MediaStore
from zapgate_control.ports.messages import DuplicateMessage, MarkConflict, MessageNotFound, MessageStore
from zapgate_control.ports.presence import PushConnectionStore, SidecarPresenceStore
from zapgate_control.ports.requests import DuplicateRequest, RequestConflict, RequestRecord, RequestStore
from zapgate_control.ports.webhooks import TooManyWebhooks, WebhookNotFound, WebhookStore

__all__ = [
    "ApiKeyNotFound",
    "ApiKeyStore",
    "AuditLog",
    "ContactStore",
    "DuplicateMessage",
    "DuplicateRequest",
    "EligibleRecord",
    "EventBus",
    "EventBusRefused",
    "EventPublisher",
    "GroupNotFound",
    "GroupStore",
    "InstanceChanges",
    "InstanceCommand",
    "InstanceNotFound",
    "InstanceRecord",
    "InstanceStore",
    "KeysChanged",
    "LastActiveKey",
    "LiveConnectionStore",
    "LivePusher",
    "MarkConflict",
    "MediaStore",
    "MessageNotFound",
    "MessageStore",
    "OutboxPublisher",
    "PushConnectionStore",
    "RateLimiter",
    "Redelivery",
    "RequestConflict",
    "RequestRecord",
    "RequestStore",
    "SidecarPresenceStore",
    "StaleLockToken",
    "StatusReport",
    "TooManyCommands",
    "TooManyWebhooks",
    "WebhookNotFound",
    "WebhookSender",
    "WebhookStore",
]
