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

import json
from collections.abc import Callable
from typing import Any

import httpx

from zapgate_devstack.demo_client import link_instance, main_with, ok, wait

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


def run(api: httpx.Client, sim: httpx.Client, say: Callable[[str], None] = print) -> dict[str, Any]:
    instance = link_instance(api, sim, "automations-demo", OWN_PHONE, "Pet shop", say)
    rule = ok(api.post(f"/instances/{instance}/automations", json=PRICE_RULE), 201)
    agent = ok(api.post(f"/instances/{instance}/automations", json=AGENT), 201)
    say(f"automations: rule {rule['id']} (keyword 'preço'), agent {agent['id']} (everything else)")
    chat = f"{CUSTOMER}@s.whatsapp.net"
    sim.post(f"/instances/{instance}/inbound",
             json={"chat": chat, "sender": chat, "body": "Olá! Qual o preço do banho?"}).raise_for_status()
    say(f"customer +{CUSTOMER} wrote: Olá! Qual o preço do banho?")

    def answered() -> list[dict[str, Any]]:
        return [m for m in ok(sim.get(f"/instances/{instance}/sent")) if CUSTOMER in str(m.get("to", ""))]

    reply = wait(answered, "the automatic answer on the simulated network")[-1]
    say(f"the sim received, sent by the instance: {reply.get('body')!r}")
    interactions = ok(api.get(f"/instances/{instance}/interactions"))
    say("interaction: " + json.dumps((interactions.get("interactions") or [{}])[0], ensure_ascii=False)[:400])
    return {"instance": instance, "rule": rule, "agent": agent, "reply": reply, "interactions": interactions}


def main() -> int:
    return main_with(run, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
