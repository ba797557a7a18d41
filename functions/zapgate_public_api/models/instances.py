"""Instances: create, patch, and what the API shows of one."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator, model_validator

from zapgate_control.ports.instances import InstanceChanges, InstanceRecord
from zapgate_core.contract.common import PRIORITY_LIMIT
from zapgate_public_api.models.base import NAME_MAX, RequestModel, stripped_name


# ---------------------------------------------------------------- instances
class InstanceCreate(RequestModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    priority: StrictInt = Field(default=0, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    enabled: StrictBool = True

    @field_validator("name")
    @classmethod
    def _stripstripped_name(cls, value: str) -> str:
        return stripped_name(value)


class InstancePatch(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    priority: StrictInt | None = Field(default=None, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    enabled: StrictBool | None = None
    ingest_monitored_groups_only: StrictBool | None = Field(
        default=None, description="Store group messages only from groups with monitor=true"
    )

    @model_validator(mode="before")
    @classmethod
    def _something_to_change(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError("give at least one of name, priority, enabled, ingest_monitored_groups_only")
            nulls = sorted(key for key, value in data.items() if value is None)
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
        return InstanceChanges(**self.changes())


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
    created_at: str
    updated_at: str

    @classmethod
    def from_record(cls, record: InstanceRecord) -> Instance:
        return cls(
            id=record.id, name=record.name, priority=record.priority, enabled=record.enabled, status=record.status,
            qr_code=record.qr_code, pairing_code=record.pairing_code, wa_jid=record.wa_jid,
            push_name=record.push_name, ingest_monitored_groups_only=record.ingest_monitored_groups_only,
            created_at=record.created_at, updated_at=record.updated_at,
        )


class InstancePage(BaseModel):
    instances: list[Instance]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")

