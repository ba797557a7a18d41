"""HTTP routes of issue 10's test-only injections, beside server.py's (rules in sim_changes.py).

Control (the phone side, test-only):
* ``POST /sim/instances/{id}/edit`` ``{"chat", "id", "body", "sender"?, "edit_id"?}`` → ``{"edit_id"}``
* ``POST /sim/instances/{id}/revoke`` ``{"chat", "id", "by"?}``
* ``POST /sim/instances/{id}/group-change`` ``{"group", "action"?, "participants"?, "name"?, "description"?,
  "announce"?, "locked"?, "by"?}``
* ``POST /sim/instances/{id}/call`` ``{"from", "id"?, "video"?, "group"?}`` → ``{"call_id"}``
* ``GET /sim/instances/{id}/calls``: every call offered, ``ringing`` or ``rejected`` (when, how many requests).

Transport: ``POST /sim/transport/{id}/reject-call`` ``{"session", "caller", "call_id"}`` (409 / 410 / 503 when
not connected, like every transport route; 404 for a call the network never offered).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from .network import SimNetwork
from .server_own import add_own_routes


class EditBody(BaseModel):
    chat: str
    id: str = Field(description="the edited message's WhatsApp id")
    body: str
    sender: str | None = None
    edit_id: str | None = None
    from_me: bool = False
    timestamp_ms: int | None = None


class RevokeBody(BaseModel):
    chat: str
    id: str
    by: str | None = None
    from_me: bool = False
    timestamp_ms: int | None = None


class GroupChangeBody(BaseModel):
    group: str
    action: str | None = None
    participants: list[str] | None = None
    name: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None
    by: str | None = None
    timestamp_ms: int | None = None


class CallBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    caller: str = Field(alias="from")
    id: str | None = None
    video: bool = False
    group: str | None = None
    timestamp_ms: int | None = None


class RejectCallBody(BaseModel):
    session: str
    caller: str
    call_id: str


def add_change_routes(app: FastAPI, net: SimNetwork) -> None:
    add_own_routes(app, net)  # issue 13: from-phone, echo, history
    @app.post("/sim/instances/{instance_id}/edit")
    def edit(instance_id: str, body: EditBody) -> dict[str, str]:
        edit_id = net.inject_edit(instance_id, body.chat, body.id, body.body, sender=body.sender,
                                  edit_id=body.edit_id, from_me=body.from_me, timestamp_ms=body.timestamp_ms)
        return {"edit_id": edit_id}

    @app.post("/sim/instances/{instance_id}/revoke")
    def revoke(instance_id: str, body: RevokeBody) -> dict[str, bool]:
        net.inject_revoke(instance_id, body.chat, body.id, by=body.by, from_me=body.from_me,
                          timestamp_ms=body.timestamp_ms)
        return {"ok": True}

    @app.post("/sim/instances/{instance_id}/group-change")
    def group_change(instance_id: str, body: GroupChangeBody) -> dict[str, bool]:
        info = {"name": body.name, "description": body.description, "announce": body.announce, "locked": body.locked}
        net.inject_group_change(instance_id, body.group, action=body.action, participants=body.participants,
                                info=info, by=body.by, timestamp_ms=body.timestamp_ms)
        return {"ok": True}

    @app.post("/sim/instances/{instance_id}/call")
    def call(instance_id: str, body: CallBody) -> dict[str, str]:
        return {"call_id": net.inject_call(instance_id, body.caller, call_id=body.id, video=body.video,
                                           group=body.group, timestamp_ms=body.timestamp_ms)}

    @app.get("/sim/instances/{instance_id}/calls")
    def calls(instance_id: str) -> list[dict[str, Any]]:
        return net.calls(instance_id)

    @app.post("/sim/transport/{instance_id}/reject-call")
    def reject_call(instance_id: str, body: RejectCallBody) -> dict[str, Any]:
        return net.reject_call(instance_id, body.session, body.caller, body.call_id)
