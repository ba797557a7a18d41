"""The console (issue 12, docs/console.md) in a real browser: headless Debian chromium driven by Playwright,
against `make run`'s processes (tests/e2e/stack.py: the gateway serving the public API and /console/, moto,
the live WebSocket API, a sidecar on the simulated WhatsApp network).

A person signs in with the stack's API key, creates an instance, sees its QR, "scans" it on the sim and sees
CONNECTED without a reload; sends a message from the page and it reaches the sim; a customer's message
appears live; a body that is HTML (`<img src=x onerror=alert(1)>`) is shown as text (no element, no dialog);
signing out forgets the key. The API key is never in a URL. The page's security headers are checked, and a
list of 10 instances renders from the list call alone (no request per instance). Linking with a pairing code
(the code the sim issued, shown on the page), a new conversation appearing live in the instance's chat list,
and checking numbers from the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.browser import Traffic, launch
from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

CUSTOMER = "5511988887777"
CUSTOMER_JID = f"{CUSTOMER}@s.whatsapp.net"
XSS_BODY = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("console"), sidecars=1, DISCOVERY_POLL_MS="500",
                       STOP_COOLDOWN_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def _sign_in(page: Page, stack: LocalStack) -> None:
    page.get_by_test_id("signin-key").fill(stack.api_key)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("instances-list")).to_be_visible()
    expect(page.get_by_test_id("signin-key")).to_be_hidden()


def _stored(page: Page) -> dict[str, str]:
    return dict(page.evaluate("() => Object.fromEntries(Object.entries(sessionStorage))"))


def _instance_id(stack: LocalStack, name: str) -> str:
    def find() -> str | None:
        listed = stack.api().get("/instances", params={"limit": 100}).json()["instances"]
        return next((i["id"] for i in listed if i["name"] == name), None)

    return str(wait_until(find, 10, f"instance {name!r} in the list"))


def _check_security_headers(headers: dict[str, str], html: bool = True) -> None:
    """Names are lower-case (Playwright's). CSP without inline scripts, framing refused, no referrer."""
    csp = headers["content-security-policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives["script-src"] == "script-src 'self'", csp  # no inline script, no eval
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    assert directives["frame-ancestors"] == "frame-ancestors 'none'", csp
    assert directives["object-src"] == "object-src 'none'", csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    if html:
        assert headers["content-type"].startswith("text/html")


def test_link_send_receive_and_escaping(context: BrowserContext, stack: LocalStack) -> None:
    page = context.new_page()
    traffic = Traffic().watch(page)
    response = page.goto(f"{stack.url}/console/")
    assert response is not None and response.status == 200
    _check_security_headers(response.headers)
    assert page.locator("script:not([src])").count() == 0, "an inline script"
    for asset in [r for r in traffic.responses if "/console/assets/" in r.url]:
        assert asset.status == 200, asset.url
        _check_security_headers(asset.headers, html=False)
    _sign_in(page, stack)
    assert stack.api_key in _stored(page).values(), "the key is kept in this tab's sessionStorage"

    # Create an instance from the page; it shows in the list at once.
    name = "browser-e2e"
    page.get_by_test_id("create-instance-name").fill(name)
    page.get_by_test_id("create-instance-submit").click()
    instance_id = _instance_id(stack, name)
    row = page.locator(f'[data-testid="instance-row"][data-instance-id="{instance_id}"]')
    expect(row).to_be_visible()

    # Its page shows the QR the sidecar made (live, a PNG data URL).
    row.get_by_test_id("instance-link").click()
    page.wait_for_url(f"**/console/#/instances/{instance_id}")
    qr = page.get_by_test_id("qr-image")
    expect(qr).to_be_visible(timeout=45_000)
    assert (qr.get_attribute("src") or "").startswith("data:image/png"), qr.get_attribute("src")
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads

    # Scanned on the phone (the sim): the page turns CONNECTED by itself.
    scanned = stack.sim_client().post(f"/instances/{instance_id}/scan",
                                      json={"phone": "5511999990001", "push_name": "Console Demo"})
    assert scanned.status_code == 200, scanned.text
    expect(page.get_by_test_id("instance-page-status")).to_have_text("CONNECTED", timeout=45_000)
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded to show CONNECTED"
    expect(qr).to_be_hidden()  # the linking card goes once linked

    # Send a text from the page: it reaches "WhatsApp".
    page.get_by_test_id("send-to").fill(CUSTOMER)
    page.get_by_test_id("send-text").fill("hello from the console")
    page.get_by_test_id("send-submit").click()
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    sim = stack.sim_client()
    wait_until(lambda: [m for m in sim.get(f"/instances/{instance_id}/sent").json()
                        if m["to"] == CUSTOMER_JID and m.get("body") == "hello from the console"],
               30, "the console's message on the simulated network")

    # The conversation, then a customer's message arriving live.
    chat = page.locator(f'[data-testid="chat-row"][data-chat-id="{CUSTOMER_JID}"]')
    if not page.url.endswith(f"/chats/{CUSTOMER_JID}") and "/chats/" not in page.url:
        expect(chat).to_be_visible()
        chat.click()
    page.wait_for_url("**/chats/**")
    messages = page.get_by_test_id("message-list")
    outbound = messages.locator('[data-testid="message"][data-direction="outbound"]')
    expect(outbound.get_by_test_id("message-body").filter(has_text="hello from the console")).to_have_count(1)
    page.evaluate("() => { window.__sameDocument = true; }")

    for body in ("hi! is my order on its way?", XSS_BODY):
        sent = sim.post(f"/instances/{instance_id}/inbound",
                        json={"chat": CUSTOMER_JID, "sender": CUSTOMER_JID, "body": body})
        assert sent.status_code == 200, sent.text
    inbound = messages.locator('[data-testid="message"][data-direction="inbound"]')
    expect(inbound.get_by_test_id("message-body").filter(has_text="hi! is my order on its way?")).to_have_count(1)
    # The HTML body is text: shown as typed, no element made from it, no script run.
    xss = inbound.get_by_test_id("message-body").filter(has_text=XSS_BODY)
    expect(xss).to_have_count(1)
    assert xss.inner_text().strip() == XSS_BODY
    assert messages.locator("img").count() == 0
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => window.__sameDocument === true"), "the chat reloaded to show new messages"
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert traffic.dialogs == []

    # Sign out: the key is forgotten (sessionStorage), the sign-in form is back.
    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin-key")).to_be_visible()
    assert [v for v in _stored(page).values() if stack.api_key in v] == []
    page.reload()  # and stays forgotten
    expect(page.get_by_test_id("signin-key")).to_be_visible()
    expect(page.get_by_test_id("instances-list")).to_have_count(0)
    assert traffic.dialogs == []

    # Nowhere in a URL: navigations, hash routes, API calls, the live socket.
    urls = traffic.every_url()
    assert urls, "no traffic recorded"
    assert [u for u in urls if stack.api_key in u] == []
    # ...it went as a header on the API calls, and never in a cookie.
    api_requests = [r for r in traffic.requests if "/v1/" in r.url]
    assert api_requests and all(r.headers.get("x-api-key") == stack.api_key for r in api_requests)
    assert context.cookies() == []


def test_list_of_ten_without_a_request_per_instance(context: BrowserContext, stack: LocalStack) -> None:
    api = stack.api()
    for n in range(10):
        created = api.post("/instances", json={"name": f"list-{n:02d}"})
        assert created.status_code == 201, created.text
    listed = api.get("/instances", params={"limit": 100}).json()
    assert listed["next_cursor"] is None
    expected = {i["id"] for i in listed["instances"]}
    assert len(expected) >= 10

    page = context.new_page()
    page.goto(f"{stack.url}/console/")
    _sign_in(page, stack)
    # The first page's own calls end once its live socket is open (it then refreshes the list once, as events
    # missed before the socket opened are not replayed); from the reload on: what showing the list costs.
    expect(page.locator("#live-state")).to_have_attribute("data-state", "on")
    page.wait_for_load_state("networkidle")
    traffic = Traffic().watch(page)
    page.reload()
    rows = page.get_by_test_id("instance-row")
    expect(rows).to_have_count(len(expected))
    shown = {rows.nth(i).get_attribute("data-instance-id") for i in range(len(expected))}
    assert shown == expected
    for i in range(len(expected)):
        expect(rows.nth(i).get_by_test_id("instance-status")).not_to_be_empty()
    page.wait_for_timeout(1000)  # anything the page would fetch per row has started by now
    assert traffic.per_instance_calls() == [], traffic.per_instance_calls()
    expect(page.locator("#live-state")).to_have_attribute("data-state", "on")
    page.wait_for_load_state("networkidle")
    # The list, and at most one refresh when the live socket opens; each one call of up to 100 instances.
    assert 1 <= len(traffic.list_calls()) <= 2, traffic.list_calls()
    assert all("limit=100" in call for call in traffic.list_calls()), traffic.list_calls()


def test_pairing_code_chats_and_number_check(context: BrowserContext, stack: LocalStack) -> None:
    """Linking with a phone number instead of the QR, a new chat showing up live in the instance's chat list,
    and checking numbers from the page."""
    created = stack.api().post("/instances", json={"name": "pairing-e2e"})
    assert created.status_code == 201, created.text
    instance_id = created.json()["id"]
    sim = stack.sim_client()
    page = context.new_page()
    traffic = Traffic().watch(page)
    page.goto(f"{stack.url}/console/#/instances/{instance_id}")
    _sign_in_here(page, stack)
    expect(page.get_by_test_id("qr-image")).to_be_visible(timeout=45_000)  # the sidecar waits for a pairing

    # A pairing code for the phone's number: the one the simulated network issued, shown on the page.
    page.get_by_test_id("pairing-phone").fill("5511999990042")  # digits only: the field's pattern refuses "+55 11 ..."
    page.get_by_test_id("pairing-submit").click()
    code = page.get_by_test_id("pairing-code")
    expect(code).to_have_text(re.compile(r"\S{4}"), timeout=30_000)
    issued = wait_until(lambda: sim.get(f"/instances/{instance_id}").json().get("pairing_code"), 10,
                        "the sim's pairing code")
    assert code.inner_text().replace("-", "").replace(" ", "") == issued
    assert sim.get(f"/instances/{instance_id}").json()["pairing_phone"] == "5511999990042"
    page.evaluate("() => { window.__sameDocument = true; }")

    # Typed on the phone (the sim's scan takes the waiting session either way): CONNECTED by itself.
    sim.post(f"/instances/{instance_id}/scan", json={"phone": "5511999990042"}).raise_for_status()
    expect(page.get_by_test_id("instance-page-status")).to_have_text("CONNECTED", timeout=45_000)

    # A customer writes: the conversation appears in the chat list without a reload, and opens.
    customer = "5511977770042@s.whatsapp.net"
    sim.post(f"/instances/{instance_id}/inbound",
             json={"chat": customer, "sender": customer, "body": "olá, vocês entregam hoje?"}).raise_for_status()
    chat = page.get_by_test_id("chats-list").locator(f'[data-testid="chat-row"][data-chat-id="{customer}"]')
    expect(chat).to_be_visible(timeout=30_000)
    chat.click()
    page.wait_for_url("**/chats/**")
    expect(page.get_by_test_id("message-body").filter(has_text="olá, vocês entregam hoje?")).to_have_count(1)
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"

    # Check numbers: one on WhatsApp (an account on the simulated network), one not.
    sim.post("/accounts", json={"phone": "5511966660042", "push_name": "Registered"}).raise_for_status()
    page.go_back()
    page.wait_for_url(f"**/console/#/instances/{instance_id}")
    page.get_by_test_id("check-number-input").fill("5511966660042, 5511955550042")
    page.get_by_test_id("check-number-submit").click()
    result = page.get_by_test_id("check-number-result")
    expect(result.locator('[data-exists="true"]')).to_contain_text("5511966660042", timeout=30_000)
    expect(result.locator('[data-exists="false"]')).to_contain_text("5511955550042")
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    assert traffic.dialogs == []
    assert [u for u in traffic.every_url() if stack.api_key in u] == []


def _sign_in_here(page: Page, stack: LocalStack) -> None:
    """Sign in on a deep link: the page stays where the link pointed."""
    url = page.url
    page.get_by_test_id("signin-key").fill(stack.api_key)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-key")).to_be_hidden()
    assert page.url == url


# ------------------------------------------------------------------ automations, requests to the phone, phone width
SHOP_KEY = "sk-console-e2e-write-only-0123456789"


def _linked_instance(stack: LocalStack, name: str, phone: str) -> str:
    """An instance linked on the simulated network through the API (the page's linking is tested above)."""
    api, sim = stack.api(), stack.sim_client()
    created = api.post("/instances", json={"name": name})
    assert created.status_code == 201, created.text
    instance_id = str(created.json()["id"])
    wait_until(lambda: api.get(f"/instances/{instance_id}").json().get("qr_code"), 45, f"{name}'s QR")
    sim.post(f"/instances/{instance_id}/scan", json={"phone": phone}).raise_for_status()
    wait_until(lambda: api.get(f"/instances/{instance_id}").json()["status"] == "CONNECTED", 45, f"{name} CONNECTED")
    return instance_id


def _automations(stack: LocalStack, instance_id: str) -> list[dict[str, object]]:
    return list(stack.api().get(f"/instances/{instance_id}/automations").json()["automations"])


def test_automations_phone_forms_and_push_names(context: BrowserContext, stack: LocalStack) -> None:
    """Create a rule from the form and see it listed, edit it, see the API's 422 in the banner (and on the field),
    an agent's provider key never shown back; block a number and see it in the blocklist (and on the sim); look up
    a contact (name, about, the picture's link; a number without WhatsApp in the banner; an HTML push name as text);
    the chat list names a customer by their push name."""
    instance_id = _linked_instance(stack, "automations-e2e", "5511999990077")
    sim = stack.sim_client()
    customer = "5511988880077@s.whatsapp.net"
    inbound = {"chat": customer, "sender": customer, "push_name": "Maria Silva", "body": "oi, qual o preço?"}
    sim.post(f"/instances/{instance_id}/inbound", json=inbound).raise_for_status()
    page = context.new_page()
    traffic = Traffic().watch(page)
    page.goto(f"{stack.url}/console/#/instances/{instance_id}")
    _sign_in_here(page, stack)

    # The chat list names the customer by the push name they set, with the number beside it.
    row = page.get_by_test_id("chats-list").locator(f'[data-testid="chat-row"][data-chat-id="{customer}"]')
    expect(row.get_by_test_id("chat-name")).to_have_text("Maria Silva", timeout=30_000)
    expect(row.get_by_test_id("chat-number")).to_have_text("+5511988880077")

    # A rule from the form: it is listed, and stored as typed.
    card = page.get_by_test_id("automations-card")
    expect(card.get_by_test_id("automations-list")).to_contain_text("No automations yet")
    card.get_by_test_id("automation-new").click()
    editor = card.get_by_test_id("automation-editor")
    editor.get_by_test_id("automation-name").fill("Preço")
    editor.get_by_test_id("automation-keywords").fill("preço, quanto custa")
    editor.get_by_test_id("automation-text").fill("Banho a partir de R$ 50")
    editor.get_by_test_id("automation-save").click()
    expect(editor).to_have_count(0)
    rule_row = card.get_by_test_id("automation-row").filter(has_text="Preço")
    expect(rule_row).to_have_count(1)
    expect(rule_row.get_by_test_id("automation-summary")).to_contain_text("keywords: preço, quanto custa")
    [stored] = _automations(stack, instance_id)
    assert stored["trigger"] == {"type": "keyword", "keywords": ["preço", "quanto custa"]}
    assert stored["reply"] == {"type": "text", "text": "Banho a partir de R$ 50"} and stored["version"] == 1

    # Edited: the form opens with what is stored; the change is a new version.
    rule_row.get_by_test_id("automation-edit").click()
    expect(editor.get_by_test_id("automation-keywords")).to_have_value("preço, quanto custa")
    editor.get_by_test_id("automation-keywords").fill("preço, valor")
    editor.get_by_test_id("automation-cooldown-s").fill("600")
    editor.get_by_test_id("automation-save").click()
    expect(editor).to_have_count(0)
    expect(rule_row.get_by_test_id("automation-summary")).to_contain_text("keywords: preço, valor")
    [stored] = _automations(stack, instance_id)
    assert stored["trigger"] == {"type": "keyword", "keywords": ["preço", "valor"]}
    assert stored["cooldown_s"] == 600 and stored["version"] == 2

    # The API refuses a catastrophic pattern: its 422 in the banner and beside the form, the field marked.
    rule_row.get_by_test_id("automation-edit").click()
    editor.get_by_test_id("automation-trigger").select_option("pattern")
    editor.get_by_test_id("automation-pattern").fill("(a+)+$")
    editor.get_by_test_id("automation-save").click()
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("trigger.pattern:")
    expect(banner).to_contain_text("validation_error, HTTP 422")
    expect(editor.get_by_test_id("automation-form-error")).to_contain_text("The API refused it: trigger.pattern:")
    expect(editor.get_by_test_id("automation-pattern")).to_have_attribute("aria-invalid", "true")
    assert _automations(stack, instance_id)[0]["version"] == 2  # nothing stored
    editor.get_by_test_id("automation-cancel").click()

    # An agent with a provider key: stored (api_key_set), never shown again, not even in the JSON view.
    card.get_by_test_id("automation-new").click()
    editor.get_by_test_id("automation-kind").select_option("agent")
    editor.get_by_test_id("automation-name").fill("Client AI")
    editor.get_by_test_id("automation-model").fill("gpt-4o-mini")
    editor.get_by_test_id("automation-api-key").fill(SHOP_KEY)
    editor.get_by_test_id("automation-system-prompt").fill("Você é a recepcionista do pet shop")
    editor.get_by_test_id("automation-save").click()
    agent_row = card.get_by_test_id("automation-row").filter(has_text="Client AI")
    expect(agent_row.get_by_test_id("automation-summary")).to_contain_text("key stored")
    agent_row.get_by_test_id("automation-edit").click()
    expect(editor.get_by_test_id("automation-system-prompt")).to_have_value("Você é a recepcionista do pet shop")
    expect(editor.get_by_test_id("automation-api-key")).to_have_value("")
    editor.locator("details.advanced summary").click()
    expect(editor.get_by_test_id("automation-json")).to_have_value(re.compile(r'"model": "gpt-4o-mini"'))
    assert SHOP_KEY not in editor.get_by_test_id("automation-json").input_value()
    assert SHOP_KEY not in page.content()
    editor.get_by_test_id("automation-cancel").click()
    agent = next(a for a in _automations(stack, instance_id) if a["kind"] == "agent")
    assert agent["api_key_set"] is True and "api_key" not in agent

    # Block a number from the page: the blocklist the phone answers lists it, and the sim has it.
    sim.post("/accounts", json={"phone": "5511977770077"}).raise_for_status()
    phone = page.get_by_test_id("phone-card")
    phone.get_by_test_id("block-number").fill("5511977770077")
    phone.get_by_test_id("block-submit").click()
    expect(phone.locator('[data-testid="blocked"][data-jid="5511977770077@s.whatsapp.net"]')).to_be_visible()
    assert sim.get(f"/instances/{instance_id}/profile").json()["blocklist"] == ["5511977770077@s.whatsapp.net"]
    expect(phone.get_by_test_id("phone-status")).to_have_text("Block: done")
    expect(banner).to_be_hidden()

    # Look up a contact (typed as people write numbers): the name and about the phone answers, the profile
    # picture as a link to the URL answered (the CSP's img-src does not take WhatsApp's CDN, so no <img>).
    joana = "5511966660077"
    sim.post("/accounts", json={"phone": joana, "push_name": "Joana Prado", "about": "Banho e tosa às sextas",
                                "picture": True}).raise_for_status()
    phone.get_by_test_id("contact-lookup-input").fill("+55 11 96666-0077")
    phone.get_by_test_id("contact-lookup-submit").click()
    info = phone.get_by_test_id("contact-info")
    expect(info).to_have_attribute("data-jid", f"{joana}@s.whatsapp.net")
    expect(info.get_by_test_id("contact-push-name")).to_have_text("Joana Prado")
    expect(info.get_by_test_id("contact-about")).to_have_text("Banho e tosa às sextas")
    expect(info.get_by_test_id("contact-jid")).to_have_text(f"+{joana}")
    picture_id = sim.get(f"/accounts/{joana}").json()["picture_id"]
    assert picture_id
    picture = info.get_by_test_id("contact-picture")
    expect(picture).to_have_attribute("href", re.compile(rf"^https://[^/]+/.*/{joana}/{picture_id}_"))
    expect(picture).to_have_text(picture.get_attribute("href") or "")
    assert info.locator("img").count() == 0
    expect(phone.get_by_test_id("phone-status")).to_have_text("Look up: done")
    expect(banner).to_be_hidden()

    # A number without WhatsApp: the API's 404 in the banner, nothing shown as its info.
    phone.get_by_test_id("contact-lookup-input").fill("5511900000077")
    phone.get_by_test_id("contact-lookup-submit").click()
    expect(banner).to_contain_text("not_on_whatsapp, HTTP 404")
    expect(phone.get_by_test_id("phone-status")).to_have_text("Look up: failed")
    expect(info).to_have_count(0)

    # A push name written as HTML is shown as the characters it is: no element made from it, no script run.
    stranger = {"phone": "5511955550077", "push_name": XSS_BODY, "about": "<b>oi</b>"}
    sim.post("/accounts", json=stranger).raise_for_status()
    phone.get_by_test_id("contact-lookup-input").fill(stranger["phone"])
    phone.get_by_test_id("contact-lookup-submit").click()
    expect(info.get_by_test_id("contact-push-name")).to_have_text(XSS_BODY)
    assert info.get_by_test_id("contact-push-name").inner_text().strip() == XSS_BODY
    expect(info.get_by_test_id("contact-about")).to_have_text("<b>oi</b>")
    assert info.locator("img, b").count() == 0
    assert page.locator('img[src="x"]').count() == 0
    expect(info.get_by_test_id("contact-picture")).to_have_count(0)  # no picture: said so, no link
    expect(banner).to_be_hidden()
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert traffic.dialogs == []
    assert [u for u in traffic.every_url() if SHOP_KEY in u] == []


def _scroll_width(page: Page) -> int:
    # A locator's evaluate runs a function, not a string the CSP would refuse as eval.
    return int(page.locator("html").evaluate("el => el.scrollWidth"))


def test_phone_width_has_no_horizontal_overflow(browser: Browser, stack: LocalStack) -> None:
    """At 375 px (a small phone) nothing is wider than the screen: the top bar on one row, the instance page with
    its forms and the automation editor open, a chat."""
    instance_id = str(stack.api().post("/instances", json={"name": "narrow-e2e"}).json()["id"])
    phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    phone.set_default_timeout(TIMEOUT_MS)
    try:
        page = phone.new_page()
        page.goto(f"{stack.url}/console/")
        _sign_in(page, stack)
        expect(page.get_by_test_id("instance-row").first).to_be_visible()
        assert _scroll_width(page) <= 375
        brand, signout = page.locator(".topbar .brand").bounding_box(), page.get_by_test_id("signout").bounding_box()
        assert brand and signout and abs(brand["y"] + brand["height"] / 2 - signout["y"] - signout["height"] / 2) < 4, \
            "the top bar wrapped onto a second row"
        assert signout["x"] + signout["width"] <= 375

        page.goto(f"{stack.url}/console/#/instances/{instance_id}")
        expect(page.get_by_test_id("automations-list")).to_be_visible()
        page.get_by_test_id("automation-new").click()
        page.get_by_test_id("automation-trigger").select_option("away")  # the widest part of the form
        expect(page.get_by_test_id("automation-mon")).to_be_visible()
        assert _scroll_width(page) <= 375

        page.goto(f"{stack.url}/console/#/instances/{instance_id}/chats/5511988887777")
        expect(page.get_by_test_id("message-list")).to_be_visible()
        assert _scroll_width(page) <= 375
    finally:
        phone.close()


# ------------------------------------------------------------------ a chat's and a group's actions (issue 12 polish)
def _pause_chat(stack: LocalStack, instance_id: str, chat: str, reason: str) -> None:
    """An escalation as the automations runner stores it (AutomationsTable, `pause#<chat>`), without a model round."""
    import time

    import boto3  # the store, as tests/e2e/test_automations.py reaches moto

    endpoint = re.search(r"AWS \(moto\)\s+(http://\S+)", "".join(stack.output))
    assert endpoint is not None
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint.group(1), region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    (table,) = [t for t in dynamodb.list_tables()["TableNames"] if "AutomationsTable" in t]
    now_ms = int(time.time() * 1000)
    dynamodb.put_item(TableName=table, Item={
        "pk": {"S": f"inst#{instance_id}"}, "sk": {"S": f"pause#{chat}"}, "instance_id": {"S": instance_id},
        "chat": {"S": chat}, "automation_id": {"S": "e2e-agent"}, "paused_at_ms": {"N": str(now_ms)},
        "until_ms": {"N": str(now_ms + 3_600_000)}, "reason": {"S": reason},
        "expires_at_epoch": {"N": str(now_ms // 1000 + 90_000)}})  # fmt: skip


def test_chat_edit_revoke_escalation_and_group_actions(context: BrowserContext, stack: LocalStack) -> None:
    """In a chat: edit a sent message and delete another for everyone (both on the sim and shown in the page), the
    chat marked read on open, an escalation shown and resumed; the chat list names a group; a group renamed from
    its info (on the sim)."""
    instance_id = _linked_instance(stack, "chat-actions-e2e", "5511999990088")
    api, sim = stack.api(), stack.sim_client()
    customer = "5511988880088@s.whatsapp.net"
    sim.post(f"/instances/{instance_id}/inbound",
             json={"chat": customer, "sender": customer, "body": "posso levar às 10?"}).raise_for_status()
    ids: dict[str, str] = {}
    for body in ("Pode sim, às 10", "mensagem errada"):
        sent = api.post(f"/instances/{instance_id}/messages", json={"to": customer, "body": body})
        assert sent.status_code == 202, sent.text
        ids[body] = sent.json()["id"]

    def all_sent() -> bool:
        statuses = [api.get(f"/instances/{instance_id}/messages/{m}").json()["status"] for m in ids.values()]
        return all(s in ("sent", "delivered", "read") for s in statuses)

    wait_until(all_sent, 30, "both messages sent")
    _pause_chat(stack, instance_id, customer, "pediu um atendente")
    # A group the instance knows (created on the phone, then discovered) with a message in it.
    created = api.post(f"/instances/{instance_id}/groups", json={"name": "Banho & Tosa"})
    assert created.status_code == 201, created.text
    group = created.json()["jid"]
    api.post(f"/instances/{instance_id}/commands", json={"type": "fetch_groups"}).raise_for_status()
    wait_until(lambda: [g for g in api.get(f"/instances/{instance_id}/groups").json()["groups"] if g["jid"] == group],
               30, "the group discovered")  # fmt: skip
    sim.post(f"/instances/{instance_id}/inbound",
             json={"chat": group, "sender": customer, "body": "bom dia, grupo"}).raise_for_status()

    page = context.new_page()
    traffic = Traffic().watch(page)
    page.goto(f"{stack.url}/console/#/instances/{instance_id}")
    _sign_in_here(page, stack)
    banner = page.get_by_test_id("error-banner")

    # The chat list names the group (from the groups listing: the conversations carry no name).
    group_row = page.get_by_test_id("chats-list").locator(f'[data-testid="chat-row"][data-chat-id="{group}"]')
    expect(group_row.get_by_test_id("chat-name")).to_have_text("👥 Banho & Tosa", timeout=30_000)
    groups_listings = [p for m, p in traffic.api_calls() if m == "GET" and re.search(r"/groups(\?|$)", p)]
    assert len(groups_listings) == 1, groups_listings  # one listing, no call per conversation

    # Rename it from its info: WhatsApp (the sim) has the new name, and so does the list.
    page.locator(f'tr[data-group-jid="{group}"]').get_by_role("button", name="Info").click()
    page.get_by_test_id("group-rename-input").fill("Banho, Tosa & Cia")
    page.get_by_test_id("group-rename-submit").click()
    expect(page.get_by_test_id("group-status")).to_have_text("Rename: done")
    assert sim.get(f"/groups/{group}").json()["name"] == "Banho, Tosa & Cia"
    expect(group_row.get_by_test_id("chat-name")).to_have_text("👥 Banho, Tosa & Cia")

    # The customer's chat: marked read on opening, the escalation shown with its reason.
    page.get_by_test_id("chats-list").locator(f'[data-testid="chat-row"][data-chat-id="{customer}"]').click()
    page.wait_for_url("**/chats/**")
    escalation = page.get_by_test_id("chat-escalation")
    expect(escalation).to_have_attribute("data-paused", "true")
    expect(escalation.get_by_test_id("chat-escalation-reason")).to_have_text("Reason: pediu um atendente")
    wait_until(lambda: [r for r in sim.get(f"/instances/{instance_id}/reads").json() if r["chat"] == customer],
               20, "the chat marked read on the phone")  # fmt: skip
    escalation.get_by_test_id("chat-escalation-resume").click()
    expect(escalation).to_be_hidden()
    assert api.get(f"/instances/{instance_id}/chats/{customer}/escalation").json()["paused"] is False

    # Edit a sent message (on hover): the phone sends the edit, the page shows the new text and "edited".
    messages = page.get_by_test_id("message-list")
    first = messages.locator(f'[data-testid="message"][data-message-id="{ids["Pode sim, às 10"]}"]')
    first.hover()
    first.get_by_test_id("message-edit").click()
    expect(page.get_by_test_id("send-text")).to_have_value("Pode sim, às 10")
    page.get_by_test_id("send-text").fill("Pode sim, às 11")
    page.get_by_test_id("send-submit").click()
    expect(first.get_by_test_id("message-body")).to_have_text("Pode sim, às 11")
    expect(first.get_by_test_id("message-edited")).to_have_attribute("title", "Was: Pode sim, às 10")

    def on_sim(body_start: str) -> dict[str, Any]:
        sent = sim.get(f"/instances/{instance_id}/sent").json()
        found = [m for m in sent if str(m.get("body", "")).startswith(body_start)]
        return dict(found[-1]) if found else {}

    assert [e["text"] for e in on_sim("Pode sim")["edits"]] == ["Pode sim, às 11"]

    # Delete the other for everyone, after a confirmation: deleted on the sim, shown as deleted in the page.
    second = messages.locator(f'[data-testid="message"][data-message-id="{ids["mensagem errada"]}"]')
    second.hover()
    second.get_by_test_id("message-revoke").click()
    assert on_sim("mensagem errada").get("revoked") is None  # nothing before the confirmation
    second.get_by_test_id("message-revoke-confirm").click()
    expect(second.get_by_test_id("message-revoked")).to_have_text("🚫 message deleted")
    expect(second).to_have_attribute("data-revoked", "true")
    assert on_sim("mensagem errada").get("revoked") is not None
    expect(first).to_have_attribute("data-revoked", "false")
    expect(banner).to_be_hidden()
    assert traffic.dialogs == []
