"""Instances: create, patch, and what the API shows of one."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator, model_validator

from zapgate_control.ports.instances import InstanceChanges, InstanceRecord
from zapgate_control.ports.own_messages import HistorySyncSetting
from zapgate_core.contract.common import PRIORITY_LIMIT
from zapgate_core.contract.pacing import PacingSettings
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.proxies import MAX_PROXY_URL, InvalidProxy, parse_proxy_url
from zapgate_public_api.models.base import NAME_MAX, RequestModel, stripped_name

REJECT_MESSAGE_MAX = 1_000  # a short apology, not a message thread


# ---------------------------------------------------------------- proxy (issue 13)
class ProxyInput(RequestModel):
    """The proxy the instance's WhatsApp connection goes through; stored as a secret, never answered."""

    url: str = Field(min_length=1, max_length=MAX_PROXY_URL,
                     # No `examples`: with them schemathesis adds a phase the fuzz tests cannot run (9f2daa8).
                     description="http://, https:// or socks5://, optional user:pass@, host, port 1..65535, "
                                 "e.g. socks5://user:pass@proxy.example.com:1080")

    @field_validator("url")
    @classmethod
    def _usable(cls, value: str) -> str:
        try:
            parse_proxy_url(value)
        except InvalidProxy as exc:  # the message never quotes the URL (it holds the credentials)
            raise ValueError(str(exc)) from None
        return value.strip()


class ProxyView(BaseModel):
    scheme: str = Field(description="http | https | socks5")
    host: str
    port: int
    has_credentials: bool = Field(description="the URL carries a user name or password (never shown)")


# ---------------------------------------------------------------- history sync (issue 13)
class HistorySync(RequestModel):
    """Store the account's history after linking (off by default): how far back, and whether it reaches webhooks."""

    enabled: StrictBool
    days: StrictInt | None = Field(default=None, ge=1, le=365, description="only messages at most this many days old")
    messages_per_chat: StrictInt | None = Field(default=None, ge=1, le=1000,
                                                description="only each chat's newest N messages")
    emit_events: StrictBool = Field(default=False, description="history messages also reach webhooks and live "
                                    "connections (MESSAGE_INBOUND / MESSAGE_STATUS with history: true)")

    @model_validator(mode="after")
    def _one_bound(self) -> HistorySync:
        if self.days is not None and self.messages_per_chat is not None:
            raise ValueError("give days or messages_per_chat, not both")
        return self

    @classmethod
    def from_stored(cls, stored: JsonObject) -> HistorySync:
        """The setting as the instance item keeps it (numbers may come back as any numeric type)."""
        def count(key: str) -> int | None:
            value = stored.get(key)
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        return cls(enabled=bool(stored.get("enabled")), days=count("days"),
                   messages_per_chat=count("messages_per_chat"), emit_events=bool(stored.get("emit_events")))

    def setting(self) -> HistorySyncSetting:
        return HistorySyncSetting(enabled=self.enabled, days=self.days, messages_per_chat=self.messages_per_chat,
                                  emit_events=self.emit_events)


# ---------------------------------------------------------------- instances
class InstanceCreate(RequestModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    priority: StrictInt = Field(default=0, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    enabled: StrictBool = True

    @field_validator("name")
    @classmethod
    def _stripstripped_name(cls, value: str) -> str:
        return stripped_name(value)


NULLABLE = frozenset({"proxy"})  # null removes these; every other field cannot be erased


class InstancePatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    priority: StrictInt | None = Field(default=None, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    enabled: StrictBool | None = None
    ingest_monitored_groups_only: StrictBool | None = Field(
        default=None, description="Store group messages only from groups with monitor=true"
    )
    reject_calls: StrictBool | None = Field(default=None, description="Reject incoming WhatsApp calls")
    reject_call_message: str | None = Field(
        default=None, max_length=REJECT_MESSAGE_MAX,
        description='With reject_calls: a text sent to the caller once per rejected call; "" = none',
    )
    # Issue 13; null removes it. Excluded from changes(): it is stored apart (zapgate_public_api/proxies.py).
    proxy: ProxyInput | None = Field(default=None, exclude=True, description="The instance's proxy; null = none")
    history_sync: HistorySync | None = Field(default=None, description="History sync after linking (issue 13)")
    pacing: PacingSettings | None = Field(
        default=None, description="Human-like pacing of sends (issue 13), replaced whole; {\"enabled\": false} = off"
    )

    @model_validator(mode="before")
    @classmethod
    def _something_to_change(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError(
                    "give at least one of name, priority, enabled, ingest_monitored_groups_only, reject_calls, "
                    "reject_call_message, history_sync, pacing"
                )
            nulls = sorted(key for key, value in data.items() if value is None and key not in NULLABLE)
            if nulls:
                # null would erase a field the instance cannot do without.
                raise ValueError(f"{', '.join(nulls)} cannot be null")
        return data

    @field_validator("name")
    @classmethod
    def _stripstripped_name(cls, value: str | None) -> str | None:
        return None if value is None else stripped_name(value)

    def changes(self) -> dict[str, Any]:
        """The fields the request gave, by name."""
        return self.model_dump(exclude_unset=True)

    def instance_changes(self) -> InstanceChanges:
        # The fields not given stay None, which the store reads as "unchanged" (null is refused above).
        # history_sync is stored apart (services/history_settings.py): the instance store never sees it.
        return InstanceChanges(**{k: v for k, v in self.changes().items() if k != "history_sync"})


class Instance(BaseModel):
    id: str
    name: str
    priority: int
    enabled: bool
    status: str = Field(description="CONNECTING | CONNECTED | DISCONNECTED")
    qr_code: str | None = Field(
        default=None, description="PNG data URL while the instance waits to be paired"
    )
    pairing_code: str | None = None
    wa_jid: str | None = None
    push_name: str | None = None
    ingest_monitored_groups_only: bool = False
    # Absent until set, so an instance that never set them answers exactly as before issue 10.
    reject_calls: bool = Field(default=False, exclude_if=lambda v: not v,
                               description="Present once set: incoming calls are rejected")
    reject_call_message: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                            description="Present once set: the text sent back to a rejected caller")
    proxy: ProxyView | None = Field(default=None, exclude_if=lambda v: v is None,
                                    description="Present once set: the proxy's scheme, host and port, never its URL")
    history_sync: HistorySync | None = Field(default=None, exclude_if=lambda v: v is None,
                                             description="Present once set: history sync after linking")
    pacing: PacingSettings | None = Field(default=None, exclude_if=lambda v: v is None,
                                          description="Present once set: the instance's pacing settings")
    created_at: str
    updated_at: str

    @classmethod
    def from_record(cls, record: InstanceRecord) -> Instance:
        return cls(
            id=record.id, name=record.name, priority=record.priority, enabled=record.enabled, status=record.status,
            qr_code=record.qr_code, pairing_code=record.pairing_code, wa_jid=record.wa_jid,
            push_name=record.push_name, ingest_monitored_groups_only=record.ingest_monitored_groups_only,
            reject_calls=record.reject_calls, reject_call_message=record.reject_call_message,
            proxy=ProxyView(scheme=record.proxy.scheme, host=record.proxy.host, port=record.proxy.port,
                            has_credentials=record.proxy.has_credentials) if record.proxy else None,
            pacing=PacingSettings.model_validate(record.pacing) if record.pacing is not None else None,
            history_sync=HistorySync.from_stored(record.history_sync) if record.history_sync is not None else None,
            created_at=record.created_at, updated_at=record.updated_at,
        )


class InstancePage(BaseModel):
    instances: list[Instance]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")

