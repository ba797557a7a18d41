"""Screenshots of the console's main pages (docs/console.md#screenshots), taken from a running stack so they
can be regenerated whenever the console changes.

It starts `make run`'s processes (tests/e2e/stack.py's LocalStack, one sidecar on the simulated WhatsApp
network) in a temporary folder, or uses a running `make run` (--url, --sim, --key), seeds a realistic state
through the public API and the sim:

  - "Suporte" linked (scanned on the sim) with three conversations: customers write (push names, a question,
    an order number), the shop answers from the API; "Vendas" linked too; "Marketing" waiting for its QR;
    "Cobrança" disabled;
  - a webhook (to a receiver this script runs on 127.0.0.1, so deliveries succeed) and a second API key;
  - in Maria's chat (the chat screenshot) the shop's answer edited, a message deleted for everyone, and an
    escalation (automations paused for a person; written to the emulator, so only when this script started the
    stack); a group on "Suporte", discovered, with a customer's message (the chat list names it);
  - on "Suporte", automations: a keyword rule, an away notice and an AI agent (its key write-only), and a
    customer asking the price, answered by the rule (a recent interaction);

then drives headless Debian chromium (Playwright, tests/e2e/browser.py) through the pages: sign in,
instances, linking (QR), an instance's page, its automations (a rule open in the editor), a chat, webhooks,
API keys; each at desktop (1280 wide) and phone (375 wide, one screen, 2x pixels) width, saved as
docs/console/<page>-<desktop|phone>.png. Emoji (the chat's reactions) need a colour emoji font:
`apt-get install fonts-noto-color-emoji` (it warns without one).

Usage: .venv/bin/python bench/console_screenshots.py [--out docs/console] [--url http://127.0.0.1:8000
       --sim http://127.0.0.1:8001 --key $ZAPGATE_API_KEY]
Look at every image before committing it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from playwright.sync_api import Page, ViewportSize, sync_playwright  # noqa: E402

from tests.e2e.browser import launch  # noqa: E402
from tests.e2e.stack import wait_until  # noqa: E402

# 375: a small phone (the browser test checks nothing overflows at this width).
VIEWPORTS: dict[str, ViewportSize] = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
SHOP_PHONE = "5511999990000"
SALES_PHONE = "5511999990001"
CUSTOMERS = [  # (phone, push name, what they write, what the shop answers, what they write back)
    ("5511988880001", "Maria Silva", "Oi! Meu pedido #4242 já saiu para entrega?",
     "Olá Maria! Saiu hoje às 9h, chega até as 18h.", "Perfeito, obrigada!"),
    ("5511988880002", "João Pereira", "Vocês têm o tênis Aurora no 42?",
     "Temos sim, João: preto e branco. Quer que eu separe um?", None),
    ("5521977770003", "Ana Costa", "Boa tarde, consigo trocar um produto sem a nota?",
     None, None),
]


@dataclass
class Stack:
    url: str
    sim: str
    key: str
    moto: str | None = None  # the AWS emulator's endpoint, known when this script started the stack

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/v1", headers={"X-API-Key": self.key}, timeout=30)

    def sim_client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.sim}/sim", timeout=30)


@contextlib.contextmanager
def local_stack() -> Iterator[Stack]:
    from tests.e2e.stack import LocalStack

    tmp = Path(tempfile.mkdtemp(prefix="console-shots-"))
    print("starting the local stack (make run's processes, one sidecar on the sim) ...", flush=True)
    # Retries at once: the failing webhook's deliveries die within seconds instead of ~16 minutes.
    stack = LocalStack(tmp, sidecars=1, DISCOVERY_POLL_MS="500", STOP_COOLDOWN_MS="500",
                       ZAPGATE_PARAMETER_OVERRIDES="WebhookRetryBaseSeconds=0").start(timeout=90)
    try:
        endpoint = re.search(r"AWS \(moto\)\s+(http://\S+)", "".join(stack.output))
        yield Stack(stack.url, stack.sim, stack.api_key, endpoint.group(1) if endpoint else None)
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[str]:
    """A local endpoint that answers 200 to every delivery, and 500 under /fail (a second webhook whose deliveries
    fail and die, so the webhooks page shows its failed and dead deliveries)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500 if self.path.endswith("/fail") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/zapgate/events"
    finally:
        server.shutdown()


# ====================================================================== seeding
def create(api: httpx.Client, name: str, **fields: Any) -> str:
    answer = api.post("/instances", json={"name": name, **fields})
    answer.raise_for_status()
    return str(answer.json()["id"])


def link(stack: Stack, instance_id: str, phone: str, push_name: str) -> None:
    api, sim = stack.api(), stack.sim_client()
    wait_until(lambda: api.get(f"/instances/{instance_id}").json().get("qr_code"), 60, f"{instance_id}'s QR")
    sim.post(f"/instances/{instance_id}/scan", json={"phone": phone, "push_name": push_name}).raise_for_status()
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 60,
             f"{instance_id} CONNECTED")


def stored(api: httpx.Client, instance_id: str, chat: str, count: int) -> bool:
    return message_count(api, instance_id, chat) >= count


def message_count(api: httpx.Client, instance_id: str, chat: str) -> int:
    answer = api.get(f"/instances/{instance_id}/chats/{quote(chat, safe='')}/messages", params={"limit": 100})
    return len(answer.json()["messages"])


def seed(stack: Stack, hook_url: str) -> dict[str, str]:
    api, sim = stack.api(), stack.sim_client()
    ids = {
        "support": create(api, "Suporte", priority=10),
        "sales": create(api, "Vendas", priority=5),
        "marketing": create(api, "Marketing"),
        "billing": create(api, "Cobrança", enabled=False),
    }
    link(stack, ids["support"], SHOP_PHONE, "Loja Aurora")
    link(stack, ids["sales"], SALES_PHONE, "Loja Aurora Vendas")
    webhook = api.post("/webhooks", json={"url": hook_url, "events": ["MESSAGE_INBOUND", "INSTANCE_STATUS"]})
    webhook.raise_for_status()
    failing = api.post("/webhooks", json={"url": hook_url.replace("/events", "/fail"), "events": ["MESSAGE_INBOUND"]})
    failing.raise_for_status()
    api.post("/keys", json={"label": "crm-integration"}).raise_for_status()

    support = ids["support"]
    for phone, push_name, first, answer, again in CUSTOMERS:
        jid = f"{phone}@s.whatsapp.net"
        steps: list[tuple[str, str]] = [("in", first)]
        if answer:
            steps.append(("out", answer))
        if again:
            steps.append(("in", again))
        for expected, (direction, body) in enumerate(steps, start=1):
            if direction == "in":
                sim.post(f"/instances/{support}/inbound", json={
                    "chat": jid, "sender": jid, "push_name": push_name, "body": body}).raise_for_status()
            else:
                api.post(f"/instances/{support}/messages", json={"to": phone, "body": body}).raise_for_status()
            wait_until(functools.partial(stored, api, support, jid, expected), 30,
                     f"{push_name}'s message {expected} stored")
            time.sleep(1.1)  # distinct seconds: the chat reads in order, as a person would have written
    # Sent messages reach "WhatsApp" (status sent) before the screenshots.
    wait_until(lambda: all(m["status"] != "queued" for m in api.get(f"/instances/{support}/messages",
                         params={"direction": "outbound"}).json()["messages"]), 30, "outbound sent")
    seed_chat_changes(stack, support)
    seed_group(stack, support)
    seed_automations(stack, support)
    ids["webhook"] = str(webhook.json()["id"])
    ids["failing_webhook"] = str(failing.json()["id"])
    deliveries = f"/webhooks/{ids['failing_webhook']}/deliveries"
    try:  # on a stack with the default 30 s backoff (--url) they die only after ~16 minutes: shoot without
        wait_until(lambda: any(d["outcome"] == "dead" for d in api.get(deliveries).json()["deliveries"]), 60,
                 "a dead delivery of the failing webhook")
    except RuntimeError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    return ids


EDITED_ANSWER = "Olá Maria! Saiu hoje às 9h, chega até as 17h."


def seed_chat_changes(stack: Stack, instance_id: str) -> None:
    """Maria's chat (the chat screenshot): the shop's answer edited, a message sent by mistake deleted for everyone,
    and the chat handed to a person by an agent (an escalation, stored as the runner stores it; only when this
    script started the stack: it writes to the emulator)."""
    api = stack.api()
    phone = CUSTOMERS[0][0]
    jid = f"{phone}@s.whatsapp.net"
    messages = api.get(f"/instances/{instance_id}/chats/{quote(jid, safe='')}/messages").json()["messages"]
    answer = next(m for m in messages if m["direction"] == "outbound")
    api.post(f"/instances/{instance_id}/messages/{answer['id']}/edit", json={"text": EDITED_ANSWER}).raise_for_status()
    wrong = api.post(f"/instances/{instance_id}/messages", json={"to": phone, "body": "Cupom de 10%: AURORA10"})
    wrong.raise_for_status()
    wrong_id = wrong.json()["id"]
    wait_until(lambda: api.get(f"/instances/{instance_id}/messages/{wrong_id}").json()["status"] != "queued", 30,
             "the mistaken message sent")
    api.post(f"/instances/{instance_id}/messages/{wrong_id}/revoke").raise_for_status()
    if not stack.moto:
        print("warning: a running stack (--url): the chat shows no escalation", file=sys.stderr)
        return
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if "AutomationsTable" in t]
    now_ms = int(time.time() * 1000)
    dynamodb.put_item(TableName=table, Item={
        "pk": {"S": f"inst#{instance_id}"}, "sk": {"S": f"pause#{jid}"}, "instance_id": {"S": instance_id},
        "chat": {"S": jid}, "automation_id": {"S": "screenshots"}, "paused_at_ms": {"N": str(now_ms)},
        "until_ms": {"N": str(now_ms + 4 * 3_600_000)}, "reason": {"S": "A cliente quer falar com uma pessoa"},
        "expires_at_epoch": {"N": str(now_ms // 1000 + 90_000)}})  # fmt: skip


def seed_group(stack: Stack, instance_id: str) -> None:
    """A group on the phone, discovered (so the chat list names it), with a customer's message in it."""
    api, sim = stack.api(), stack.sim_client()
    created = api.post(f"/instances/{instance_id}/groups", json={"name": "Clientes VIP Aurora"})
    created.raise_for_status()
    group = created.json()["jid"]
    api.post(f"/instances/{instance_id}/commands", json={"type": "fetch_groups"}).raise_for_status()
    wait_until(lambda: [g for g in api.get(f"/instances/{instance_id}/groups").json()["groups"] if g["jid"] == group],
             30, "the group discovered")
    maria = f"{CUSTOMERS[0][0]}@s.whatsapp.net"
    sim.post(f"/instances/{instance_id}/inbound", json={"chat": group, "sender": maria, "push_name": CUSTOMERS[0][1],
                                                          "body": "Quando chega a coleção nova?"}).raise_for_status()
    wait_until(functools.partial(stored, api, instance_id, group, 1), 30, "the group's message stored")


AUTOMATIONS: list[dict[str, Any]] = [
    {"kind": "rule", "name": "Preço do banho", "position": 10,
     "trigger": {"type": "keyword", "keywords": ["preço", "quanto custa", "valor"]},
     "reply": {"type": "text", "text": "Banho a partir de R$ 50, tosa a partir de R$ 70. Quer agendar?"},
     "cooldown_s": 600},
    {"kind": "rule", "name": "Fora do horário", "position": 20,
     "trigger": {"type": "away", "timezone": "America/Sao_Paulo",
                 "hours": {day: [{"start": "09:00", "end": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri")}
                 | {"sat": [{"start": "09:00", "end": "13:00"}]}},
     "reply": {"type": "text", "text": "Estamos fechados agora; respondemos a partir das 9h."}},
    {"kind": "agent", "name": "Atendente IA", "audience": "customer", "provider": "openai", "model": "gpt-4o-mini",
     "api_key": "sk-screenshot-demo-key", "system_prompt": "Você é a recepcionista da Loja Aurora. Seja breve.",
     "memory_messages": 20, "enabled": False},
]  # fmt: skip


def seed_automations(stack: Stack, instance_id: str) -> None:
    """The automations, then a customer asking the price: the rule answers (an interaction to list)."""
    api, sim = stack.api(), stack.sim_client()
    for automation in AUTOMATIONS:
        api.post(f"/instances/{instance_id}/automations", json=automation).raise_for_status()
    jid = "5511988880004@s.whatsapp.net"
    asks = {"chat": jid, "sender": jid, "push_name": "Pedro Santos", "body": "Boa noite! Quanto custa o banho?"}
    sim.post(f"/instances/{instance_id}/inbound", json=asks).raise_for_status()
    wait_until(lambda: api.get(f"/instances/{instance_id}/interactions").json()["interactions"], 60,
             "the rule's interaction")


# ====================================================================== pages
def settle(page: Page) -> None:
    """Network quiet (the live socket aside) and fonts ready: what a person would see after a moment."""
    with contextlib.suppress(Exception):
        page.wait_for_load_state("networkidle", timeout=5000)
    page.evaluate("() => document.fonts.ready")
    page.wait_for_timeout(400)


def shoot(page: Page, path: Path, full_page: bool) -> None:
    settle(page)
    page.screenshot(path=str(path), full_page=full_page)
    print(f"  {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", flush=True)


def take(stack: Stack, ids: dict[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    chat = quote(f"{CUSTOMERS[0][0]}@s.whatsapp.net", safe="")
    console = f"{stack.url}/console/"
    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for width_name, viewport in VIEWPORTS.items():
            phone = width_name == "phone"
            context = browser.new_context(viewport=viewport, device_scale_factor=2 if phone else 1,
                                          is_mobile=phone, has_touch=phone, locale="pt-BR",
                                          timezone_id="America/Sao_Paulo")
            context.set_default_timeout(30_000)
            page = context.new_page()

            def shot(name: str, page: Page = page, width_name: str = width_name) -> None:
                path = out / f"{name}-{width_name}.png"
                shoot(page, path, full_page=width_name == "desktop")  # a phone shows one screen at a time
                saved.append(path)

            page.goto(console)
            page.get_by_test_id("signin-key").wait_for()
            shot("signin")
            page.get_by_test_id("signin-key").fill(stack.key)
            page.get_by_test_id("signin-submit").click()
            page.get_by_test_id("instance-row").first.wait_for()
            page.locator(f'[data-testid="instance-row"][data-instance-id="{ids["billing"]}"]').wait_for()
            shot("instances")

            page.goto(f"{console}#/instances/{ids['marketing']}")
            page.get_by_test_id("qr-image").wait_for(timeout=60_000)
            shot("linking")

            page.goto(f"{console}#/instances/{ids['support']}")
            page.get_by_test_id("instance-page-status").wait_for()
            page.get_by_test_id("chat-row").first.wait_for()
            shot("instance")

            # The automations, a rule open in the editor (desktop: the card alone; phone: the editor's screen).
            card = page.get_by_test_id("automations-card")
            rule = card.get_by_test_id("automation-row").filter(has_text="Preço do banho")
            rule.get_by_test_id("automation-edit").click()
            editor = card.get_by_test_id("automation-editor")
            editor.wait_for()
            card.get_by_test_id("interactions").wait_for()
            path = out / f"automations-{width_name}.png"
            settle(page)
            if phone:
                editor.scroll_into_view_if_needed()
                page.screenshot(path=str(path))
            else:
                card.screenshot(path=str(path))
            saved.append(path)
            print(f"  {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", flush=True)

            page.goto(f"{console}#/instances/{ids['support']}/chats/{chat}")
            page.get_by_test_id("message").first.wait_for()
            shot("chat")

            page.goto(f"{console}#/webhooks")
            page.get_by_text("/zapgate/events").first.wait_for()
            page.get_by_test_id("delivery-row").first.wait_for()
            shot("webhooks")

            page.goto(f"{console}#/keys")
            page.get_by_text("crm-integration").first.wait_for()
            shot("keys")
            context.close()
        browser.close()
    return saved


def warn_without_emoji_font() -> None:
    try:
        fonts = subprocess.run(["fc-list"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return
    if "emoji" not in fonts.lower():
        print("warning: no emoji font (apt-get install fonts-noto-color-emoji): reactions will show as boxes",
              file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "console")
    parser.add_argument("--url", help="a running stack's gateway (make run), e.g. http://127.0.0.1:8000")
    parser.add_argument("--sim", help="its simulated network, e.g. http://127.0.0.1:8001")
    parser.add_argument("--key", help="its ZAPGATE_API_KEY")
    args = parser.parse_args(argv)
    if args.url and not (args.sim and args.key):
        parser.error("--url needs --sim and --key")
    warn_without_emoji_font()
    with contextlib.ExitStack() as stack_scope:
        stack = (Stack(args.url.rstrip("/"), args.sim.rstrip("/"), args.key) if args.url
                 else stack_scope.enter_context(local_stack()))
        hook_url = stack_scope.enter_context(webhook_receiver())
        print("seeding instances, conversations, a webhook and a key ...", flush=True)
        ids = seed(stack, hook_url)
        print(f"screenshots into {args.out}:", flush=True)
        take(stack, ids, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
