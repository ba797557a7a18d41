"""End to end through `make run`'s processes (issue 13): an instance with a proxy connects through it (the
simulated network records each session's proxy, credentials masked), and changing the proxy reconnects the
instance through the new one without a new QR. The proxy's password appears in no answer and no process output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import LocalStack, wait_until

pytestmark = pytest.mark.slow

PASSWORD = "e2e-Proxy-Pw-5150"
FIRST = f"socks5://zapuser:{PASSWORD}@proxy-a.example.com:1080"
SECOND = "http://10.20.30.40:3128"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("proxy"), sidecars=1, DISCOVERY_POLL_MS="500").start()
    yield local
    assert local.stop() == 0, "".join(local.output[-30:])


def test_an_instance_connects_through_its_proxy_and_a_new_proxy_reconnects_it(stack: LocalStack) -> None:
    api, sim = stack.api(), stack.sim_client()
    # Disabled while the proxy is set, so its very first connection already goes through it.
    instance = api.post("/instances", json={"name": "proxied", "enabled": False}).json()["id"]
    patched = api.patch(f"/instances/{instance}", json={"proxy": {"url": FIRST}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["proxy"] == {"scheme": "socks5", "host": "proxy-a.example.com", "port": 1080,
                                       "has_credentials": True}
    bad = api.patch(f"/instances/{instance}", json={"proxy": {"url": "ftp://proxy-a.example.com:21"}})
    assert bad.status_code == 422 and "scheme" in bad.json()["error"]["message"]
    assert api.patch(f"/instances/{instance}", json={"enabled": True}).status_code == 200

    wait_until(lambda: api.get(f"/instances/{instance}").json()["qr_code"], 30, "QR")
    masked = "socks5://zapuser:***@proxy-a.example.com:1080"
    info = sim.get(f"/instances/{instance}").json()
    assert info["proxy"] == masked and {p["proxy"] for p in info["proxies"]} == {masked}  # never direct
    assert sim.post(f"/instances/{instance}/scan", json={"phone": "5511999990131"}).status_code == 200
    wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 20, "CONNECTED")
    sessions_before = len(sim.get(f"/instances/{instance}").json()["proxies"])

    # A new proxy: the lock holder is told (settings frame), fetches it and reconnects through it.
    assert api.patch(f"/instances/{instance}", json={"proxy": {"url": SECOND}}).status_code == 200
    wait_until(lambda: sim.get(f"/instances/{instance}").json()["proxy"] == SECOND, 20, "reconnected via the new proxy")
    wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 20, "CONNECTED again")
    info = sim.get(f"/instances/{instance}").json()
    assert len(info["proxies"]) > sessions_before and info["paired"] is True
    assert api.get(f"/instances/{instance}").json()["qr_code"] is None  # the same keys: no new QR

    # Removing it: the next session is direct.
    assert api.patch(f"/instances/{instance}", json={"proxy": None}).status_code == 200
    wait_until(lambda: sim.get(f"/instances/{instance}").json()["proxy"] is None, 20, "reconnected directly")
    wait_until(lambda: api.get(f"/instances/{instance}").json()["status"] == "CONNECTED", 20, "CONNECTED direct")

    shown = api.get(f"/instances/{instance}").text + api.get("/instances").text
    assert PASSWORD not in shown
    assert PASSWORD not in "".join(stack.output)
