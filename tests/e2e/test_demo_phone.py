"""Issue 10's walkthrough (infra/zapgate_devstack/demo_phone.py) against `make run`'s processes: check a number,
create a group with two participants, promote one, get its invite link, edit then revoke a message, mark a chat
read, send typing — each through the public API, each asserted on what the simulated network shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import LocalStack
from zapgate_devstack.demo_phone import ANA, BRUNO, NOBODY, OWN_PHONE, Demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], list[str], LocalStack]]:
    stack = LocalStack(tmp_path_factory.mktemp("demo-phone"), sidecars=1, INSTANCE_LOCK_TTL_MS="60000",
                       DISCOVERY_POLL_MS="500").start()
    printed: list[str] = []
    try:
        with stack.api() as api, stack.sim_client() as sim:
            results = Demo(api, sim, say=printed.append).run()
        yield results, printed, stack
    finally:
        assert stack.stop() == 0, "".join(stack.output[-30:])


def test_check_numbers(walkthrough: tuple[dict[str, Any], list[str], LocalStack]) -> None:
    results, _, _ = walkthrough
    assert [(c["number"], c["exists"]) for c in results["check"]["numbers"]] == [(f"+{ANA}", True), (NOBODY, False)]


def test_group_created_promoted_and_invite_link_as_the_network_has_them(
    walkthrough: tuple[dict[str, Any], list[str], LocalStack],
) -> None:
    results, _, _ = walkthrough
    group, on_sim = results["group"], results["sim_group"]
    members = {p["jid"] for p in group["participants"]}
    assert members == {f"{OWN_PHONE}@s.whatsapp.net", f"{ANA}@s.whatsapp.net", f"{BRUNO}@s.whatsapp.net"}
    assert group["not_added"] == []
    assert on_sim["jid"] == group["jid"] and on_sim["name"] == "Demo group"
    assert results["promoted"]["participants"] == [{"jid": f"{ANA}@s.whatsapp.net", "ok": True, "error": None}]
    assert f"{ANA}@s.whatsapp.net" in on_sim["admins"] and f"{BRUNO}@s.whatsapp.net" not in on_sim["admins"]
    assert results["invite"]["link"] == on_sim["invite_link"]
    assert results["invite"]["link"].startswith("https://chat.whatsapp.com/")


def test_message_edited_then_revoked_on_the_network(walkthrough: tuple[dict[str, Any], list[str], LocalStack]) -> None:
    results, _, stack = walkthrough
    on_sim = results["sim_message"]
    assert [e["text"] for e in on_sim["edits"]] == ["See you at 11"]
    assert on_sim["revoked"] is not None
    assert results["edited"]["edit_id"] and results["revoked"]["revoke_id"]
    with stack.api() as api:  # history marks both, and erases nothing
        page = api.get(f"/instances/{results['instance']}/messages", params={"direction": "outbound"}).json()
    [message] = [m for m in page["messages"] if m["to"].startswith(ANA)]
    assert message["edited"]["count"] == 1 and message["edited"]["original_body"] == "See you at 10"
    assert message["revoked"]["at"]


def test_chat_marked_read_and_typing_shown(walkthrough: tuple[dict[str, Any], list[str], LocalStack]) -> None:
    results, printed, _ = walkthrough
    assert results["read"]["marked"] == 1
    assert [(r["chat"], r["sender"]) for r in results["sim_reads"]] == [(f"{BRUNO}@s.whatsapp.net",) * 2]
    assert results["typing"] == {"sent": True}
    assert results["sim_presences"][-1]["chat"] == f"{BRUNO}@s.whatsapp.net"
    assert results["sim_presences"][-1]["state"] == "composing"
    titles = [line.splitlines()[1] for line in printed if line.startswith("\n== ")]
    assert titles == ["== check numbers", "== create a group with two participants", "== promote Ana",
                      "== invite link", "== edit the message", "== delete it for everyone",
                      "== mark Bruno's chat read", "== show typing to Bruno"]


def test_every_step_is_in_the_openapi(walkthrough: tuple[dict[str, Any], list[str], LocalStack]) -> None:
    _, _, stack = walkthrough
    paths = httpx.get(f"{stack.url}/v1/openapi.json", timeout=10).json()["paths"]
    for path, method in [("/v1/instances/{instance_id}/contacts/check", "post"),
                         ("/v1/instances/{instance_id}/groups", "post"),
                         ("/v1/instances/{instance_id}/groups/{jid}/participants", "post"),
                         ("/v1/instances/{instance_id}/groups/{jid}/invite-link", "get"),
                         ("/v1/instances/{instance_id}/messages/{message_id}/edit", "post"),
                         ("/v1/instances/{instance_id}/messages/{message_id}/revoke", "post"),
                         ("/v1/instances/{instance_id}/chats/read", "post"),
                         ("/v1/instances/{instance_id}/chats/presence", "post")]:
        assert method in paths.get(path, {}), path
