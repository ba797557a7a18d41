"""Test helpers for requests to the phone: a connected instance held by a sidecar with a push connection,
and a stand-in sidecar thread that claims and answers what is pushed to it through the worker-proxy."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.integration.management_api import pushed
from tests.integration.worker_client import make_instance, worker_client

Answer = Callable[[dict[str, Any]], dict[str, Any]]  # the claimed request -> {"result": …} or {"error": …}


@dataclass
class Held:
    instance_id: str
    owner: str
    token: str
    connection_id: str | None


def held_instance(env: dict[str, str], tenant: str = "tenant-a", owner: str = "sc-1",
                  push: bool = True, connected: bool = True) -> Held:
    """An instance whose lock `owner` holds, CONNECTED, with a push connection unless `push` is False."""
    instance_id = make_instance(env, tenant=tenant)["id"]
    return hold(env, instance_id, owner, push, connected)


def hold(env: dict[str, str], instance_id: str, owner: str, push: bool = True, connected: bool = True) -> Held:
    worker = worker_client()
    lock = worker.post("/worker-proxy/instance-lock/acquire",
                       json={"instanceId": instance_id, "instance_owner": owner, "ttl_ms": 60_000}).json()
    assert lock["acquired"], lock
    if connected:
        done = worker.post("/worker-proxy/update-status", json={"instanceId": instance_id, "status": "CONNECTED",
                                                                "lockToken": lock["lock_token"]})
        assert done.status_code == 200, done.text
    connection_id = None
    if push:
        from zapgate_control.adapters.dynamodb.push_connections import DynamoPushConnectionStore

        connection_id = f"c{uuid.uuid4().hex[:14]}="
        DynamoPushConnectionStore(env["FLEET_TABLE"]).register(owner, connection_id, int(time.time() * 1000))
    return Held(instance_id, owner, lock["lock_token"], connection_id)


def claim(held: Held, request_id: str) -> Any:
    return worker_client().post("/worker-proxy/requests/claim", json={
        "instanceOwner": held.owner, "instanceId": held.instance_id, "lockToken": held.token,
        "requestId": request_id})


def answer(held: Held, request_id: str, **outcome: Any) -> Any:
    return worker_client().post("/worker-proxy/requests/answer", json={
        "instanceOwner": held.owner, "instanceId": held.instance_id, "lockToken": held.token,
        "requestId": request_id, **outcome})


def pushed_requests(connection_id: str) -> list[str]:
    return [frame["request_id"] for frame in pushed(connection_id) if frame.get("type") == "request"]


@dataclass
class StandInSidecar:
    """Claims and answers every request pushed to the given held instances, until stopped."""

    helds: list[Held]
    respond: Answer
    seen: set[str] = field(default_factory=set)
    ran: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> StandInSidecar:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for held in self.helds:
                for request_id in pushed_requests(held.connection_id or ""):
                    if request_id in self.seen:
                        continue
                    self.seen.add(request_id)
                    claimed = claim(held, request_id)
                    if claimed.status_code != 200:
                        continue  # someone else has it, or it is gone: never run it
                    self.ran.append(claimed.json())
                    answer(held, request_id, **self.respond(claimed.json()))
            time.sleep(0.005)


def found_everywhere(request: dict[str, Any]) -> dict[str, Any]:
    """The stand-in's WhatsApp: every number exists, presence is always sent, and every other operation
    succeeds with a result made from its arguments (contract/requests.py RESULTS), the same for the same args."""
    op, args = request["op"], request["args"]
    if op == "check_numbers":
        numbers = args["numbers"]
        digits = ["".join(c for c in n if c.isdigit()) for n in numbers]
        return {"result": {"numbers": [{"number": n, "exists": True, "jid": f"{d}@s.whatsapp.net"}
                                       for n, d in zip(numbers, digits, strict=True)]}}
    if op in ANSWERS:
        return {"result": ANSWERS[op](args)}
    return {"result": {"sent": True}}


def _group(jid: str, name: str = "Group") -> dict[str, Any]:
    return {"jid": jid, "name": name, "description": "", "announce": False, "locked": False,
            "participants": [{"jid": "5511999990001@s.whatsapp.net", "is_admin": True}]}


ANSWERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "user_info": lambda a: {"jid": a["jid"], "push_name": "Someone"},
    "profile_picture": lambda a: {"jid": a["jid"], "url": f"https://pps.example/{'p' if a['preview'] else 'f'}",
                                  "picture_id": "1"},
    "block": lambda a: {"jids": [a["jid"]] if a["action"] == "block" else []},
    "blocklist": lambda a: {"jids": []},
    "edit_message": lambda a: {"edit_id": f"EDIT-{a['message_id']}"},
    "revoke_message": lambda a: {"revoke_id": f"REVOKE-{a['message_id']}"},
    "mark_read": lambda a: {"marked": len(a["messages"])},
    "own_presence": lambda a: {"done": True},
    "group_create": lambda a: _group("120363000000000001@g.us", a["name"]),
    "group_info": lambda a: _group(a["group"]),
    "group_name": lambda a: {"done": True},
    "group_description": lambda a: {"done": True},
    "group_settings": lambda a: {"done": True},
    "group_participants": lambda a: {"participants": [{"jid": j, "ok": True} for j in a["participants"]]},
    "group_invite_link": lambda a: {"link": "https://chat.whatsapp.com/" + ("NewCode0123456789" if a["reset"]
                                                                          else "OldCode0123456789")},
    "group_join": lambda a: {"jid": "120363000000000002@g.us"},
    "group_leave": lambda a: {"done": True},
    "profile_name": lambda a: {"done": True},
    "profile_about": lambda a: {"done": True},
}
