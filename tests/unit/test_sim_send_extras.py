"""The simulated network takes issue 13's send types: WebP stickers, link previews and mentions, as sent."""

from __future__ import annotations

import pytest

from tests.unit.test_sim_network import paired
from zapgate_sim.network import InvalidRequest, SimNetwork

WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 20


def test_a_webp_sticker_is_sent_as_media() -> None:
    net = SimNetwork()
    session, _ = paired(net)
    net.send("i1", session, "5511999990002", "sticker", "", WEBP, "image/webp")
    sent = net.sent("i1")[0]
    assert (sent["type"], sent["media_size"], sent["body"], sent["caption"]) == ("sticker", len(WEBP), None, None)
    with pytest.raises(InvalidRequest, match="WebP"):
        net.send("i1", session, "5511999990002", "sticker", "", b"\x89PNG" + b"\x00" * 30, "image/png")


def test_link_preview_and_mentions_are_recorded_for_texts_only() -> None:
    net = SimNetwork()
    session, _ = paired(net)
    preview = {"url": "https://e.com", "title": "T", "description": None, "thumbnail_base64": None}
    net.send("i1", session, "120363000000000001@g.us", "text", "@5511 https://e.com",
             extra={"link_preview": preview, "mentions": ["5511@s.whatsapp.net"]})
    sent = net.sent("i1")[0]
    assert (sent["link_preview"], sent["mentions"]) == (preview, ["5511@s.whatsapp.net"])
    with pytest.raises(InvalidRequest, match="texts"):
        net.send("i1", session, "5511999990002", "sticker", "", WEBP, extra={"mentions": ["5511@s.whatsapp.net"]})
