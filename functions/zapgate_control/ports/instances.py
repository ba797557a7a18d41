"""Instances: their settings, status, lock and pending commands (InstancesTable).

The store hands out and takes the typed values below; how they are kept (key encodings, numbers,
absent attributes) is the adapter's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.locks import LockState


class InstanceNotFound(Exception):
    """No such instance, or one of another tenant (callers answer 404 either way)."""


class StaleLockToken(Exception):
    """A status write presented a lock token that is no longer the instance's."""


class TooManyCommands(Exception):
    """The instance already has the most pending commands it may hold."""


@dataclass(frozen=True)
class InstanceCommand:
    """A command waiting on the instance for its lock holder (services/commands.py)."""

    id: str
    type: str
    at_ms: int  # when it was requested: it expires COMMAND_TTL_MS later
    phone: str | None = None  # pairing_code only


@dataclass(frozen=True)
class InstanceProxy:
    """What the instance item keeps of its proxy (issue 13): never the URL, which is a secret kept by
    ProxySecretStore (ports/proxies.py) under `secret_version`."""

    scheme: str
    host: str
    port: int
    has_credentials: bool
    secret_version: str


@dataclass(frozen=True)
class InstanceRecord:
    id: str
    tenant_id: str
    name: str
    priority: int
    enabled: bool
    status: str  # CONNECTING | CONNECTED | DISCONNECTED
    created_at: str
    updated_at: str
    lock: LockState  # owner None when nobody ever took it or it was released
    status_at: str | None = None
    status_reason: str | None = None  # the sidecar's why, for the current status only
    qr_code: str | None = None
    pairing_code: str | None = None
    wa_jid: str | None = None
    push_name: str | None = None
    ingest_monitored_groups_only: bool = False
    commands: tuple[InstanceCommand, ...] = ()
    # Issue 11: the instance has at least one enabled automation. Copied onto each inbound message it receives
    # (`automate`), so the outbox feeds the automations runner only for such instances, at no extra read.
    automations_enabled: bool = False
    # Issue 10: incoming calls are rejected by the sidecar holding the instance; the text (if any) is queued
    # back to the caller by the worker-proxy when the call is reported (services/inbound_changes.py).
    reject_calls: bool = False
    reject_call_message: str | None = None
    # Issue 13: bumped by every change to a setting the lock holder acts on (InstanceChanges.
    # changes_sidecar_settings); the sidecar refetches its settings when the version it holds differs.
    settings_version: int = 0
    proxy: InstanceProxy | None = None  # issue 13: the proxy's public part; None = a direct connection
    # Issue 13: the pacing settings as PATCH validated them (contract/pacing.py's PacingSettings, dumped); None =
    # never set. The lock holder gets them in its settings (services/instance_settings.py).
    pacing: JsonObject | None = None
    # Issue 13: the history sync setting as stored (`{enabled, days?, messages_per_chat?, emit_events}`), written
    # apart from the other fields (services/history_settings.py); None = never set.
    history_sync: JsonObject | None = None


@dataclass(frozen=True)
class EligibleRecord:
    """An eligible instance as discovery sees it: the index holds only what a sidecar's choice needs.

    `lock` carries the owner and expiry only (token None, fence 0): enough to tell who holds it now.
    """

    id: str
    priority: int
    lock: LockState


@dataclass(frozen=True)
class InstanceChanges:
    """A tenant's changes to an instance; None leaves a field as it is (none of them can be erased)."""

    name: str | None = None
    priority: int | None = None
    enabled: bool | None = None
    ingest_monitored_groups_only: bool | None = None
    reject_calls: bool | None = None
    reject_call_message: str | None = None  # "" removes the text (calls are then rejected silently)
    pacing: JsonObject | None = None  # issue 13: the whole pacing object, replaced as given

    def changes_discovery(self) -> bool:
        """Whether sidecars' discovery depends on what changed (so they should run it now)."""
        return self.enabled is not None or self.priority is not None

    def changes_sidecar_settings(self) -> bool:
        """Whether the lock holder's settings (contract/instance_settings.py) change: the store then bumps
        `settings_version` in the same write and the holder is told to fetch them again. A setting added to
        InstanceSettings must be listed here."""
        return self.reject_calls is not None or self.pacing is not None


@dataclass(frozen=True)
class StatusReport:
    """A sidecar's status write. `qr_code`, `pairing_code` and `reason` belong to this status only:
    None removes them. `wa_jid` and `push_name` describe the account: None keeps what is stored."""

    status: str
    qr_code: str | None = None
    pairing_code: str | None = None
    reason: str | None = None
    wa_jid: str | None = None
    push_name: str | None = None


class InstanceStore(Protocol):
    def create(self, tenant_id: str, name: str, priority: int, enabled: bool) -> InstanceRecord: ...
    def get(self, instance_id: str, consistent: bool = False) -> InstanceRecord | None: ...
    def get_for_tenant(self, tenant_id: str, instance_id: str) -> InstanceRecord | None: ...
    def list_for_tenant(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InstanceRecord], str | None]:
        """One page in creation order; raises ValueError for a cursor this listing did not hand out."""
        ...

    def update(self, tenant_id: str, instance_id: str, changes: InstanceChanges) -> InstanceRecord:
        """The instance after the changes; raises InstanceNotFound (also for another tenant's)."""
        ...

    def delete(self, tenant_id: str, instance_id: str) -> None: ...
    def eligible(self, limit: int) -> list[EligibleRecord]:
        """Enabled instances, priority descending, then creation order."""
        ...

    def eligible_page(self, limit: int, cursor: str | None) -> tuple[list[EligibleRecord], str | None]: ...
    def acquire_lock(self, instance_id: str, owner: str, ttl_ms: int) -> tuple[bool, LockState]: ...
    def renew_lock(self, instance_id: str, owner: str, token: str | None, ttl_ms: int) -> tuple[bool, LockState]: ...
    def renew_lock_item(
        self, instance_id: str, owner: str, token: str | None, ttl_ms: int
    ) -> tuple[bool, LockState, InstanceRecord]:
        """renew_lock, plus the instance as the write left it (its pending commands at no extra read)."""
        ...

    def release_lock(self, instance_id: str, owner: str, token: str | None) -> bool: ...
    def update_status(self, instance_id: str, report: StatusReport, lock_token: str | None) -> InstanceRecord:
        """Write the report, fenced by `lock_token` when given (StaleLockToken); the instance as it was before."""
        ...

    def add_command(
        self, tenant_id: str, instance_id: str, command: InstanceCommand, max_pending: int,
        expired_before_ms: int, disable: bool = False,
    ) -> None: ...
    def set_proxy(self, tenant_id: str, instance_id: str, proxy: InstanceProxy | None) -> InstanceRecord:
        """Set (or with None remove) the instance's proxy and bump its settings_version in the same write; the
        instance after it. Raises InstanceNotFound (also for another tenant's)."""
        ...

    def set_automations_enabled(self, instance_id: str, enabled: bool) -> bool:
        """Set the automations flag (services/automation_flag.py); False when there is no such instance."""
        ...

    def remove_command(self, instance_id: str, command_id: str) -> InstanceCommand | None:
        """The removed command (the ack), or None when it was no longer pending."""
        ...
