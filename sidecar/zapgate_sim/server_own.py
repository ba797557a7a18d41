"""HTTP routes of issue 13's test-only injections (rules in sim_own.py), beside server.py's.

* ``POST /sim/instances/{id}/from-phone`` ``{"chat", "body", "id"?, "type"?, "location"? | "reaction"?}`` →
  ``{"id"}``: the phone sent a message (a text, or a location or reaction with its object)
* ``POST /sim/instances/{id}/echo`` ``{"id"}``: one of the session's own sends comes back as an own-device message
* ``POST /sim/instances/{id}/history`` ``{"chats", "per_chat"}`` → ``{"delivered"}``: a history sync after linking
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field, model_validator

from .payload_objects import InboundLocation, InboundReaction

if TYPE_CHECKING:
    from .network import SimNetwork


class FromPhoneBody(BaseModel):
    chat: str = Field(min_length=3)
    body: str = ""
    id: str | None = Field(default=None, description="the WhatsApp id to use (default: a new one)")
    type: Literal["text", "location", "reaction"] = "text"
    location: InboundLocation | None = None
    reaction: InboundReaction | None = None

    @model_validator(mode="after")
    def _object_of_its_type(self) -> FromPhoneBody:
        if self.type != "text" and getattr(self, self.type) is None:
            raise ValueError(f"type {self.type} needs its `{self.type}` object")
        return self

    def typed(self) -> dict[str, Any]:
        """The message event's kind and object (what the sim transport maps to IncomingMessage's typed content)."""
        if self.type == "text":
            return {}
        value = getattr(self, self.type)
        return {"kind": self.type, self.type: value.model_dump(exclude_none=True)}


class EchoBody(BaseModel):
    id: str = Field(description="the WhatsApp id of a message this instance sent")


class HistoryBody(BaseModel):
    chats: int = Field(ge=1, le=100)
    per_chat: int = Field(ge=1, le=1000)


def add_own_routes(app: FastAPI, net: SimNetwork) -> None:
    @app.post("/sim/instances/{instance_id}/from-phone")
    def from_phone(instance_id: str, body: FromPhoneBody) -> dict[str, str]:
        return {"id": net.from_phone(instance_id, body.chat, body.body, wa_message_id=body.id, typed=body.typed())}

    @app.post("/sim/instances/{instance_id}/echo")
    def echo(instance_id: str, body: EchoBody) -> dict[str, bool]:
        net.echo_sent(instance_id, body.id)
        return {"ok": True}

    @app.post("/sim/instances/{instance_id}/history")
    def history(instance_id: str, body: HistoryBody) -> dict[str, int]:
        return {"delivered": net.history_sync(instance_id, body.chats, body.per_chat)}
