"""Issue 13's send types on real neonize protobufs: sticker, link preview, mentions (no client, no network)."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("neonize")

from zapgate_sidecar.transport import Outgoing, OutLinkPreview, Quoted, TransportError
from zapgate_sidecar.transports.neonize.outbound_builders import build_outgoing
from zapgate_sidecar.transports.neonize.outbound_extras import webp_info


class _UploadOnly:
    def __init__(self) -> None:
        self.uploaded: list[tuple[bytes, object]] = []

    def upload(self, data: bytes, media_type: object = None) -> object:
        from neonize.proto.Neonize_pb2 import UploadResponse

        self.uploaded.append((data, media_type))
        return UploadResponse(url="https://mmg.example/s", DirectPath="/v/s", MediaKey=b"k" * 32,
                              FileEncSHA256=b"e" * 32, FileSHA256=b"s" * 32, FileLength=len(data))


def _webp(size: tuple[int, int], **options: object) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 200)).save(out, "WEBP", **options)
    return out.getvalue()


def test_sticker_is_a_sticker_message_uploaded_as_image_media() -> None:
    from neonize.utils.enum import MediaType

    data = _webp((512, 300))
    client = _UploadOnly()
    msg = build_outgoing(client, Outgoing(kind="sticker", data=data, mime_type="image/webp"))
    sticker = msg.stickerMessage
    assert (sticker.mimetype, sticker.width, sticker.height, sticker.isAnimated) == ("image/webp", 512, 300, False)
    assert (sticker.URL, sticker.directPath, sticker.fileLength) == ("https://mmg.example/s", "/v/s", len(data))
    assert client.uploaded == [(data, MediaType.MediaImage)]


def test_sticker_quotes_and_reads_lossless_and_animated_sizes() -> None:
    msg = build_outgoing(_UploadOnly(), Outgoing(kind="sticker", data=_webp((64, 32), lossless=True),
                                                 quoted=Quoted("3EB0", "55@s.whatsapp.net", "oi")))
    assert (msg.stickerMessage.width, msg.stickerMessage.height) == (64, 32)
    assert msg.stickerMessage.contextInfo.stanzaID == "3EB0"
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20)).save(out, "WEBP", save_all=True, append_images=[Image.new("RGB", (40, 20), (9, 9, 9))])
    assert webp_info(out.getvalue()) == (40, 20, True)


def test_a_sticker_that_is_not_webp_is_refused() -> None:
    with pytest.raises(TransportError, match="not a WebP"):
        build_outgoing(_UploadOnly(), Outgoing(kind="sticker", data=b"\x89PNG" + b"\x00" * 40))


def test_link_preview_is_an_extended_text_with_the_supplied_fields() -> None:
    preview = OutLinkPreview("https://ex.com/a", "Title", "Desc", b"\xff\xd8jpeg")
    msg = build_outgoing(None, Outgoing(kind="text", text="see https://ex.com/a", link_preview=preview))
    ext = msg.extendedTextMessage
    assert (ext.text, ext.matchedText, ext.title, ext.description) == (
        "see https://ex.com/a", "https://ex.com/a", "Title", "Desc")
    assert ext.JPEGThumbnail == b"\xff\xd8jpeg"
    assert not ext.HasField("contextInfo")


def test_mentions_set_mentioned_jids_and_join_a_quote() -> None:
    outgoing = Outgoing(kind="text", text="oi @5511999 e @5511888", mentions=("5511999@s.whatsapp.net",
                                                                             "5511888@s.whatsapp.net"),
                        quoted=Quoted("3EB1", "5511777@s.whatsapp.net", "q"))
    msg = build_outgoing(None, outgoing)
    ctx = msg.extendedTextMessage.contextInfo
    assert list(ctx.mentionedJID) == ["5511999@s.whatsapp.net", "5511888@s.whatsapp.net"]
    assert (ctx.stanzaID, ctx.quotedMessage.conversation) == ("3EB1", "q")
    assert msg.extendedTextMessage.text == "oi @5511999 e @5511888"
