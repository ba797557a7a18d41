"""Automations on the local stack (issue 11): a demo instance with a rule that answers on the simulated network.

With `make run` running (it prints the API key), in another terminal:

    ZAPGATE_API_KEY=<printed key> .venv/bin/python -m zapgate_devstack.demo_automations

It links a new instance "automations-demo" (a QR "scanned" on the sim), gives it a rule automation (the
keyword "preço" / "price" answers the price list) and an AI agent for everything else (the local model
echoes unless scripted, or the real provider make run was given through ZAPGATE_OPENAI_BASE_URL), then a
customer writes "Qual o preço?" on the sim and the demo shows the automatic answer the sim received, and the
interaction recorded. The instance stays: write to it from the sim (POST /sim/instances/<id>/inbound)
and watch it answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

OWN_PHONE = "5511999990200"
CUSTOMER = "5511966660100"
PRICE_RULE = {
    "kind": "rule", "name": "Preço", "position": 0,
    "trigger": {"type": "keyword", "keywords": ["preço", "price"]},
    "reply": {"type": "text", "text": "Banho a partir de R$ 50, tosa a partir de R$ 70. Quer agendar?"},
}  # fmt: skip
AGENT = {
    "kind": "agent", "name": "Client AI", "audience": "customer", "provider": "openai", "model": "local-demo",
    "system_prompt": "Você é a recepcionista do pet shop. Responda em poucas palavras.",
}  # fmt: skip


class DemoFailed(RuntimeError):
    pass


def _wait(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise DemoFailed(f"timed out waiting for {what}")


def _ok(answer: httpx.Response, *expect: int) -> Any:
    if answer.status_code not in (expect or (200,)):
        raise DemoFailed(f"{answer.request.method} {answer.request.url.path} answered {answer.status_code}: "
                         f"{answer.text[:300]}")  # fmt: skip
    return answer.json()


def run(api: httpx.Client, sim: httpx.Client, say: Callable[[str], None] = print) -> dict[str, Any]:
    instance = _ok(api.post("/instances", json={"name": "automations-demo"}), 201)["id"]
    say(f"instance {instance}: waiting for a sidecar to show its QR ...")
    _wait(lambda: _ok(api.get(f"/instances/{instance}"))["qr_code"], "the QR")
    sim.post(f"/instances/{instance}/scan", json={"phone": OWN_PHONE, "push_name": "Pet shop"}).raise_for_status()
    _wait(lambda: _ok(api.get(f"/instances/{instance}"))["status"] == "CONNECTED", "CONNECTED")
    rule = _ok(api.post(f"/instances/{instance}/automations", json=PRICE_RULE), 201)
    agent = _ok(api.post(f"/instances/{instance}/automations", json=AGENT), 201)
    say(f"automations: rule {rule['id']} (keyword 'preço'), agent {agent['id']} (everything else)")
    chat = f"{CUSTOMER}@s.whatsapp.net"
    sim.post(f"/instances/{instance}/inbound",
             json={"chat": chat, "sender": chat, "body": "Olá! Qual o preço do banho?"}).raise_for_status()
    say(f"customer +{CUSTOMER} wrote: Olá! Qual o preço do banho?")

    def answered() -> list[dict[str, Any]]:
        return [m for m in _ok(sim.get(f"/instances/{instance}/sent")) if CUSTOMER in str(m.get("to", ""))]

    reply = _wait(answered, "the automatic answer on the simulated network")[-1]
    say(f"the sim received, sent by the instance: {reply.get('body')!r}")
    interactions = _ok(api.get(f"/instances/{instance}/interactions"))
    say("interaction: " + json.dumps((interactions.get("interactions") or [{}])[0], ensure_ascii=False)[:400])
    return {"instance": instance, "rule": rule, "agent": agent, "reply": reply, "interactions": interactions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", default=os.environ.get("ZAPGATE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--sim", default=os.environ.get("ZAPGATE_SIM_URL", "http://127.0.0.1:8001"))
    args = parser.parse_args()
    key = os.environ.get("ZAPGATE_API_KEY")
    if not key:
        print("set ZAPGATE_API_KEY to the key `make run` printed", file=sys.stderr)
        return 2
    with httpx.Client(base_url=f"{args.api}/v1", headers={"X-API-Key": key}, timeout=30) as api, \
            httpx.Client(base_url=f"{args.sim}/sim", timeout=30) as sim:
        try:
            run(api, sim)
        except (DemoFailed, httpx.HTTPError) as exc:
            print(f"demo stopped: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
