"""Issue 13's send types end to end through the apps, a real sidecar and the simulated network: a sticker
(WebP), a text with a link preview, a group text with mentions; and what the API refuses (422)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY
from tests.integration.background import BackgroundSidecar, wait_until
from tests.integration.test_sidecar_with_sim import (  # the fixtures and helpers of the sidecar-with-sim tests
    _connect,
    _instances,
    _settings,
    media_site,  # noqa: F401
    stack,  # noqa: F401
)
from tests.integration.worker_client import make_instance


def _webp() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (96, 96), (200, 0, 0, 255)).save(out, "WEBP")
    return out.getvalue()


def test_sticker_link_preview_and_mentions_reach_the_network(
        stack: tuple[Any, Any, Path], aws_env: dict[str, str], media_site: tuple[str, Path]) -> None:  # noqa: F811
    from zapgate_public_api.app import app as public_app

    edge, sim, tmp = stack
    site_url, site_root = media_site
    webp = _webp()
    (site_root / "s.webp").write_bytes(webp)
    instance = make_instance(aws_env)
    sidecar = BackgroundSidecar(_settings(edge.url, sim.url, tmp, "sidecar-a")).start()
    try:
        _connect(sim, _instances(aws_env), instance["id"])
        public = TestClient(public_app, headers={"X-API-Key": API_KEY})
        base = f"/v1/instances/{instance['id']}/messages"
        thumb = base64.b64encode(b"\xff\xd8\xff jpeg").decode()
        assert public.post(base, json={"to": "5511988887777", "type": "sticker", "media_url": f"{site_url}/s.webp",
                                       "mime_type": "image/webp"}).status_code == 202
        assert public.post(base, json={
            "to": "5511988887777", "body": "olha https://ex.com/p?x=1",
            "link_preview": {"url": "https://ex.com/p?x=1", "title": "Produto", "description": "Barato",
                             "thumbnail": thumb}}).status_code == 202
        assert public.post(base, json={"to": "120363000000000001@g.us", "body": "oi @5511977776666 tudo bem?",
                                       "mentions": ["+55 11 97777-6666"]}).status_code == 202
        sent = wait_until(lambda: (lambda s: s if len(s) >= 3 else None)(
            httpx.get(f"{sim.url}/sim/instances/{instance['id']}/sent").json()), 15, "all three sent")
        by_type = {m["type"]: m for m in sent if m["type"] == "sticker"}
        assert by_type["sticker"]["media_size"] == len(webp) and by_type["sticker"]["mime_type"] == "image/webp"
        texts = [m for m in sent if m["type"] == "text"]
        assert texts[0]["link_preview"] == {"url": "https://ex.com/p?x=1", "title": "Produto",
                                            "description": "Barato", "thumbnail_base64": thumb}
        assert texts[1]["mentions"] == ["5511977776666@s.whatsapp.net"] and "link_preview" not in texts[1]
        history = public.get(base).json()
        assert {m.get("type") for m in history["messages"]} >= {"sticker", "text"}
    finally:
        sidecar.stop()


@pytest.mark.parametrize(("body", "needle"), [
    ({"to": "5511988887777", "body": "no url here", "link_preview": {"url": "https://ex.com"}}, "appear"),
    ({"to": "5511988887777", "body": "x ftp://ex.com", "link_preview": {"url": "ftp://ex.com"}}, "http"),
    ({"to": "5511988887777", "body": "x https://e.com", "link_preview": {"url": "https://e.com",
                                                                          "thumbnail": "not base64!"}}, "base64"),
    ({"to": "120363000000000001@g.us", "body": "oi", "mentions": ["5511977776666"]}, "@<number>"),
    ({"to": "120363000000000001@g.us", "body": "oi @x", "mentions": ["not a number"]}, "mention"),
    ({"to": "5511988887777", "type": "image", "media_url": "https://e.com/a.jpg", "mentions": ["55119"]}, "type=text"),
    ({"to": "5511988887777", "type": "sticker", "media_url": "https://e.com/a.png", "mime_type": "image/png"},
     "webp"),
])
def test_bad_extras_are_422(aws_env: dict[str, str], body: dict[str, Any], needle: str) -> None:
    from zapgate_public_api.app import app as public_app

    instance = make_instance(aws_env)
    public = TestClient(public_app, headers={"X-API-Key": API_KEY})
    response = public.post(f"/v1/instances/{instance['id']}/messages", json={**body, "queue_if_offline": True})
    assert response.status_code in (415, 422), response.text
    assert needle.lower() in response.text.lower()
