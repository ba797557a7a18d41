"""Requests to the phone on the local stack, step by step: each through the public API, each shown on the
simulated network (issue 10's walkthrough).

With `make run` running (it prints the API key), in another terminal:

    ZAPGATE_API_KEY=<printed key> .venv/bin/python -m zapgate_devstack.demo_phone

It links a new instance (a QR "scanned" on the sim), then: checks two numbers, creates a group with two
participants, promotes one, gets the group's invite link, sends a text and edits it then deletes it for
everyone, marks a chat read after a customer writes, and shows typing. After each call it prints the API's
answer and what the simulated network shows. tests/e2e/test_demo_phone.py runs it against make run's processes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from zapgate_devstack.demo_client import link_instance, main_with, ok, wait

OWN_PHONE = "5511999990100"
ANA = "5511966660001"  # registered on the sim as "Ana"
BRUNO = "5511966660002"  # registered on the sim as "Bruno"
NOBODY = "5511900000009"  # not on WhatsApp
SENT = ("sent", "delivered", "read")  # an edit or a revoke names the message by WhatsApp's id: it must have one


@dataclass
class Demo:
    api: httpx.Client
    sim: httpx.Client
    say: Callable[[str], None] = print
    results: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ helpers
    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return ok(self.api.request(method, path, **kwargs), expect)

    def sim_get(self, path: str) -> Any:
        answer = self.sim.get(path)
        answer.raise_for_status()
        return answer.json()

    def step(self, title: str, api_said: Any, sim_shows: Any) -> None:
        self.say(f"\n== {title}\n   API: {_short(api_said)}\n   sim: {_short(sim_shows)}")

    # ------------------------------------------------------------ the walkthrough
    def link(self) -> str:
        instance = link_instance(self.api, self.sim, "phone-demo", OWN_PHONE, "Demo", self.say)
        for phone, name in ((ANA, "Ana"), (BRUNO, "Bruno")):
            self.sim.post("/accounts", json={"phone": phone, "push_name": name}).raise_for_status()
        self.say(f"instance {instance}: CONNECTED as +{OWN_PHONE}; Ana (+{ANA}) and Bruno (+{BRUNO}) are on the sim")
        self.results["instance"] = instance
        return str(instance)

    def check_numbers(self, instance: str) -> None:
        answer = self.call("POST", f"/instances/{instance}/contacts/check", json={"numbers": [f"+{ANA}", NOBODY]})
        self.step("check numbers", answer, {n: self.sim_get(f"/accounts/{n}")["on_whatsapp"] for n in (ANA, NOBODY)})
        self.results["check"] = answer

    def group(self, instance: str) -> None:
        created = self.call("POST", f"/instances/{instance}/groups", expect=201,
                            json={"name": "Demo group", "participants": [ANA, BRUNO]})
        jid = created["jid"]
        self.step("create a group with two participants", created, self.sim_get(f"/groups/{jid}"))
        promoted = self.call("POST", f"/instances/{instance}/groups/{jid}/participants",
                             json={"action": "promote", "participants": [ANA]})
        self.step("promote Ana", promoted, {"admins": self.sim_get(f"/groups/{jid}")["admins"]})
        link = self.call("GET", f"/instances/{instance}/groups/{jid}/invite-link")
        self.step("invite link", link, {"invite_link": self.sim_get(f"/groups/{jid}")["invite_link"]})
        self.results.update(group=created, promoted=promoted, invite=link, sim_group=self.sim_get(f"/groups/{jid}"))

    def edit_and_revoke(self, instance: str) -> None:
        sent = self.call("POST", f"/instances/{instance}/messages", expect=202,
                         json={"to": ANA, "body": "See you at 10"})
        message = sent["id"]
        wait(lambda: self.call("GET", f"/instances/{instance}/messages/{message}")["status"] in SENT,
                  "the message to reach WhatsApp")

        def on_sim() -> dict[str, Any]:
            found = [m for m in self.sim_get(f"/instances/{instance}/sent") if m.get("body", "").startswith("See you")]
            return found[-1] if found else {}

        edited = self.call("POST", f"/instances/{instance}/messages/{message}/edit", json={"text": "See you at 11"})
        self.step("edit the message", edited, {k: on_sim().get(k) for k in ("body", "edits")})
        revoked = self.call("POST", f"/instances/{instance}/messages/{message}/revoke")
        self.step("delete it for everyone", revoked, {"revoked": on_sim().get("revoked")})
        self.results.update(edited=edited, revoked=revoked, sim_message=on_sim())

    def mark_read(self, instance: str) -> None:
        chat = f"{BRUNO}@s.whatsapp.net"
        self.sim.post(f"/instances/{instance}/inbound",
                      json={"chat": chat, "sender": chat, "body": "Is the shop open today?"}).raise_for_status()
        wait(lambda: self.call("GET", f"/instances/{instance}/messages",
                                    params={"direction": "inbound"})["messages"], "Bruno's message in history")
        read = self.call("POST", f"/instances/{instance}/chats/read", json={"chat": BRUNO})
        self.step("mark Bruno's chat read", read, self.sim_get(f"/instances/{instance}/reads"))
        self.results.update(read=read, sim_reads=self.sim_get(f"/instances/{instance}/reads"))

    def typing(self, instance: str) -> None:
        typing = self.call("POST", f"/instances/{instance}/chats/presence", json={"chat": BRUNO, "state": "composing"})
        self.step("show typing to Bruno", typing, self.sim_get(f"/instances/{instance}/presences")[-1:])
        self.results.update(typing=typing, sim_presences=self.sim_get(f"/instances/{instance}/presences"))

    def run(self) -> dict[str, Any]:
        instance = self.link()
        for part in (self.check_numbers, self.group, self.edit_and_revoke, self.mark_read, self.typing):
            part(instance)
        self.say(f"\ndone: every step is in the OpenAPI at {self.api.base_url}/docs")
        return self.results


def _short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main() -> int:
    return main_with(lambda api, sim: Demo(api, sim).run(), __doc__)


if __name__ == "__main__":
    sys.exit(main())
