"""HTTP routes of the requests to the phone (issue 10), beside server.py's: the transport's one `ops` route, the
read-only views that show what each operation did, and the test-only clock.

Transport:
* ``POST /sim/transport/{id}/ops/{op}`` ``{"session", "args"}`` → the result (contract RESULTS[op]); a refusal is
  ``{"detail", "kind"}`` with 400 bad_request, 403 forbidden, 404 not_found / not_on_whatsapp, 422 expired;
  409 / 410 / 503 mean not connected (as for every transport route).

Views (the network's side, no session needed): ``GET /sim/groups``, ``GET /sim/groups/{jid}``,
``GET /sim/accounts/{phone}``, ``GET /sim/instances/{id}/messages``, ``GET /sim/instances/{id}/reads``,
``GET /sim/instances/{id}/profile``. Clock: ``GET /sim/clock``, ``POST /sim/clock/advance`` ``{"seconds"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from .network import SimNetwork


class OpBody(BaseModel):
    session: str
    args: dict[str, Any] = Field(default_factory=dict)


class AdvanceBody(BaseModel):
    seconds: float = Field(ge=0, le=365 * 86_400)


def add_request_routes(app: FastAPI, net: SimNetwork) -> None:
    # ------------------------------------------------------------ transport
    @app.post("/sim/transport/{instance_id}/ops/{op}")
    def perform(instance_id: str, op: str, body: OpBody) -> dict[str, Any]:
        return net.perform(instance_id, body.session, op, body.args)

    # ------------------------------------------------------------ views
    @app.get("/sim/groups")
    def groups() -> list[dict[str, Any]]:
        """Every group on the network: jid, name, how many participants."""
        return net.groups_view()

    @app.get("/sim/groups/{jid}")
    def group(jid: str) -> dict[str, Any]:
        """One group: GroupInfo's fields plus admins, invite_code and invite_link (404 when it does not exist)."""
        return net.group_view(jid)

    @app.get("/sim/accounts/{phone}")
    def account(phone: str) -> dict[str, Any]:
        """A number as others see it: on_whatsapp, push_name, about, picture_id, the instance paired with it."""
        return net.account_view(phone)

    @app.get("/sim/instances/{instance_id}/messages")
    def messages(instance_id: str) -> list[dict[str, Any]]:
        """Every message this account sent or received, as it stands: text, edits, revoked, read_by."""
        return net.messages(instance_id)

    @app.get("/sim/instances/{instance_id}/reads")
    def reads(instance_id: str) -> list[dict[str, Any]]:
        """The read receipts this account sent (mark_read): chat, id, sender, at."""
        return net.reads(instance_id)

    @app.get("/sim/instances/{instance_id}/profile")
    def profile(instance_id: str) -> dict[str, Any]:
        """What this account's requests set about itself: push_name, about, presence, blocklist."""
        return net.profile_view(instance_id)

    # ------------------------------------------------------------ the network's clock (test-only)
    @app.get("/sim/clock")
    def clock() -> dict[str, float]:
        return {"now": net.now()}

    @app.post("/sim/clock/advance")
    def advance_clock(body: AdvanceBody) -> dict[str, float]:
        """Move the network's clock forward, e.g. past the 15-minute edit window; /sim/reset puts it back."""
        return {"now": net.advance_clock(body.seconds)}
